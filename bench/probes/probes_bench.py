#!/usr/bin/env python3
"""bench/probes: probe scale of one volantd: 500 VMs with 1 s HTTP health checks.

One daemon (--max-vms 600 --max-replicas 600 --memory-mib 65536, pool
127.82.0.0/16), one deployment of a tiny HTTP workload (busybox httpd on
<vm-ip>:80 serving /health, about 1 MiB each, --memory 16) whose plugin has an HTTP
check (interval 1 s, timeout 1 s, threshold 3). In one run:

  * 0 VMs:   daemon threads, CPU % over a short window (idle baseline)
  * 50 VMs:  once all 50 are READY: threads, CPU % over a window
  * 500 VMs: scaled up; once all 500 are READY (and 500 listeners): threads, CPU %
             over 20 s (sampled every second), RSS, per-thread CPU by thread name

CPU % = delta(utime + stime) of /proc/PID/stat over the window's wall time, in %
of one core. Threads = /proc/PID/status "Threads". No volar call runs during a
window. That the probes really run during the 500-VM window is counted from the
workloads' side: httpd runs with -v and logs one "response:CODE" line per request
to <data-dir>/logs/<vm>.log, and nothing but the daemon's prober sends them
requests; so the lines added during the window / its length = checks per second
(500 expected with a 1 s interval). No VM may restart or turn unhealthy in the
window.

Goal (issue 4): < 25 % of one core at 500 VMs; thread count independent of the
number of VMs. Only loopback addresses. The deployment is deleted, the daemon
stopped and every leftover workload killed at the end.
"""

import collections
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (HZ, Daemon, Say, arm_watchdog, copy_binaries, disarm_watchdog,  # noqa: E402
                          finish, http_health_plugin, install_plugin, kill_workloads,
                          listeners, mono, parse_args, report_error, rss_mib,
                          say_daemon_log, say_failures, say_header, sample_cpu,
                          status_field)

POOL = "127.82.0.0/16"  # default; --pool 127.N.0.0/16 runs two benches side by side
POOL_PREFIX = "127.82."


def thread_cpu(pid):
    """{tid: (comm, cpu ticks, voluntary context switches)} for every thread of pid."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                s = f.read()
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                vcs = [int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches:")][0]
        except (OSError, IndexError):
            continue
        comm = s[s.find("(") + 1:s.rfind(")")]
        rest = s[s.rfind(")") + 2:].split()
        out[int(t)] = (comm, int(rest[11]) + int(rest[12]), vcs)
    return out


def served(logdir):
    """(requests answered 200, other responses) in every VM log (httpd -v lines)."""
    ok = other = 0
    for name in os.listdir(logdir):
        try:
            with open(os.path.join(logdir, name), errors="replace") as f:
                for line in f:
                    if "response:" in line:
                        if "response:200" in line:
                            ok += 1
                        else:
                            other += 1
        except OSError:
            pass
    return ok, other


def window(d, seconds, say, label, per_thread=False):
    """Samples the daemon every second for `seconds`; returns a summary dict."""
    pid = d.pid
    threads = [int(status_field(pid, "Threads"))]
    t0 = thread_cpu(pid) if per_thread else None
    sampled = sample_cpu(pid, seconds,
                         lambda: threads.append(int(status_field(pid, "Threads"))))
    out = {
        "cpu": sampled["cpu"],
        "cpu_s": sampled["cpu_s"],
        "wall": sampled["wall"],
        "per_sec": sampled["per_sec"],
        "threads_min": min(threads),
        "threads_max": max(threads),
        "rss_mib": rss_mib(pid),
        "host_pct": sampled["host_pct"],
    }
    if per_thread:
        t1 = thread_cpu(pid)
        by = collections.defaultdict(lambda: [0, 0, 0])
        for tid, (comm, ticks, vcs) in t1.items():
            _, t_before, v_before = t0.get(tid, (comm, 0, 0))
            by[comm][0] += 1
            by[comm][1] += ticks - t_before
            by[comm][2] += vcs - v_before
        out["by_thread"] = sorted(by.items(), key=lambda kv: -kv[1][1])
    return out


def own_flags(ap):
    ap.add_argument("--vms", type=int, default=500)
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--window", type=int, default=20, help="seconds of sampling at --vms")
    ap.add_argument("--pool", default=POOL, help="a 127.N.0.0/16 pool (default %s)" % POOL)


def main():
    a = parse_args(560, own_flags)
    global POOL, POOL_PREFIX
    POOL = a.pool
    POOL_PREFIX = ".".join(POOL.split(".")[:2]) + "."

    say = Say()
    arm_watchdog("probes", a.deadline)
    start = mono()

    tmp = tempfile.mkdtemp(prefix="volant-bench-probes-")
    bindir, src_d, src_v = copy_binaries("probes", a.build, tmp)
    flags = ["--max-vms", "600", "--max-replicas", "600", "--memory-mib", "65536"]

    say("bench/probes: %d VMs with 1 s HTTP checks on one volantd: CPU, threads, RSS" % a.vms)
    say_header(say, a.command, src_d, src_v, bindir)
    say("daemon:   volantd --data-dir D --listen 127.0.0.1:0 --pool %s %s" % (POOL, " ".join(flags)))
    say("workload: busybox httpd -f -v -p $VOLANT_IP:80 serving /health, --memory 16; HTTP check "
        "GET :80/health interval 1 s, timeout 1 s, threshold 3")

    if len(listeners(POOL_PREFIX)):
        sys.exit("probes: something already listens on %s*:80" % POOL_PREFIX)

    d = None
    failures = []
    results = {}
    try:
        d = Daemon.in_tmp(bindir, tmp, POOL, flags, volar_timeout=120, stop_wait=15, settle=0.05)
        install_plugin(d, http_health_plugin("bench-probes-httpd", "bench/probes", "-f -v"),
                       os.path.join(tmp, "plugin.json"))
        logdir = os.path.join(d.dir, "logs")
        time.sleep(1.0)
        results[0] = window(d, 5, say, "idle")

        def wait_ready(n, timeout):
            t0 = mono()
            last = None
            while mono() - t0 < timeout:
                dep = d.deployment("probes")
                last = dep
                if dep and dep["ready"] == n and dep["current"] == n and len(listeners(POOL_PREFIX)) >= n:
                    return mono() - t0, dep
                if not d.alive():
                    raise RuntimeError("volantd died (exit %s)" % d.proc.returncode)
                time.sleep(1.0)
            return None, last

        t0 = mono()
        d.volar("deployments", "create", "probes", "--plugin", "bench-probes-httpd",
                "--replicas", str(a.small), "--memory", "16")
        took, dep = wait_ready(a.small, 120)
        if took is None:
            failures.append("%d VMs: not all ready within 120 s: %s" % (a.small, dep))
        say("%d VMs:   ready %s s after create" % (a.small, "-" if took is None else "%.1f" % took))
        time.sleep(3.0)
        results[a.small] = window(d, 10, say, str(a.small))

        d.volar("deployments", "scale", "probes", "--replicas", str(a.vms))
        remaining = a.deadline - (mono() - start) - a.window - 120
        took, dep = wait_ready(a.vms, max(60, remaining))
        if took is None:
            failures.append("%d VMs: not all ready in time: %s" % (a.vms, dep))
            vms = d.vms()
            st = collections.Counter(v["status"] for v in vms)
            say("%d VMs:  NOT all ready: %s; statuses %s" % (a.vms, dep, dict(st)))
            for v in [v for v in vms if v["status"] != "ready"][:5]:
                say("  %s %s %s restarts=%s last_error=%s" % (v["name"], v["ip"], v["status"],
                                                               v["restarts"], v["last_error"]))
        else:
            say("%d VMs:  ready %.1f s after `deployments scale` (from %d)" % (a.vms, took, a.small))
        vms = d.vms()
        restarts0 = sum(v.get("restarts", 0) for v in vms)
        time.sleep(5.0)
        listen0 = len(listeners(POOL_PREFIX))
        ok0, bad0 = served(logdir)
        results[a.vms] = window(d, a.window, say, str(a.vms), per_thread=True)
        ok1, bad1 = served(logdir)
        listen1 = len(listeners(POOL_PREFIX))
        vms = d.vms()
        st = collections.Counter(v["status"] for v in vms)
        restarts1 = sum(v.get("restarts", 0) for v in vms)

        say("")
        say("| VMs | window s | daemon CPU % of one core | per-second min / max % | daemon CPU s | threads (min-max) | RSS MiB | host busy % of 2 cores |")
        say("|-----|----------|--------------------------|------------------------|--------------|-------------------|---------|------------------------|")
        for n in sorted(results):
            r = results[n]
            say("| %3d | %8.1f | %24.1f | %10.1f / %-9.1f | %12.2f | %17s | %7.1f | %22.0f |" % (
                n, r["wall"], r["cpu"], min(r["per_sec"]), max(r["per_sec"]), r["cpu_s"],
                "%d-%d" % (r["threads_min"], r["threads_max"]), r["rss_mib"], r["host_pct"]))
        r = results[a.vms]
        say("")
        say("per-second daemon CPU %% at %d VMs: %s" % (a.vms, " ".join("%.0f" % x for x in r["per_sec"])))
        say("daemon threads at %d VMs by name (threads: CPU s in the window, voluntary context "
            "switches/s): %s" % (a.vms, ", ".join(
                "%s (%d: %.2f s, %.0f/s)" % (k, v[0], v[1] / HZ, v[2] / r["wall"]) for k, v in r["by_thread"])))
        say("probes during the window: %d listeners on %s*:80 before, %d after; requests served "
            "by the workloads (httpd -v log lines): %d x 200 and %d other in %.1f s = %.0f checks/s "
            "(%d VMs x 1/s expected)" % (
                listen0, POOL_PREFIX, listen1, ok1 - ok0, bad1 - bad0, r["wall"],
                (ok1 - ok0 + bad1 - bad0) / r["wall"], a.vms))
        say("VMs after the window: %s; restarts during it: %d" % (dict(st), restarts1 - restarts0))
        th = {n: (results[n]["threads_min"], results[n]["threads_max"]) for n in results}
        same = len({v for t in th.values() for v in t}) == 1
        say("")
        goal_cpu = r["cpu"] < 25.0
        say("goal:     < 25%% of one core at %d VMs: %s (%.1f %%); thread count independent of VM count: %s (%s)" % (
            a.vms, "MET" if goal_cpu else "MISSED", r["cpu"], "MET" if same else "MISSED",
            ", ".join("%d VMs: %s" % (n, "%d" % t[0] if t[0] == t[1] else "%d-%d" % t) for n, t in sorted(th.items()))))
        if st.get("ready", 0) != a.vms:
            failures.append("only %d of %d VMs ready after the window" % (st.get("ready", 0), a.vms))
        say_failures(say, failures)
    except Exception as e:  # Watchdog too: report, clean up, exit non-zero
        report_error(say, failures, e)
    finally:
        disarm_watchdog()
        deleted = None
        if d is not None:
            deleted = d.shut_down(say, ["probes"], timeout=90, poll=0.5)
        left = kill_workloads(os.path.join(tmp, "data"))
        time.sleep(0.5)
        if d is not None:
            say_daemon_log(say, d.logpath)
        say("cleanup:  deployment deleted (%s s until no VM listed), volantd stopped, %d leftover "
            "workload processes killed, listeners left on %s*:80: %d" % (
                "-" if deleted is None else "%.1f" % deleted, len(left), POOL_PREFIX,
                len(listeners(POOL_PREFIX))))
        finish(say, a.out, tmp, failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
