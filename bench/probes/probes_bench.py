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

import argparse
import collections
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
POOL = "127.82.0.0/16"
POOL_PREFIX = "127.82."
BUILDS = ["build", "build-e2e", "build-me"]
HZ = os.sysconf("SC_CLK_TCK")


class Watchdog(Exception):
    pass


def mono():
    return time.monotonic()


def pick_binary(rel, env, build):
    if os.environ.get(env):
        return os.path.abspath(os.environ[env])
    dirs = [build] if build else BUILDS
    found = [os.path.join(REPO, d, rel) for d in dirs]
    found = [p for p in found if os.path.isfile(p) and os.access(p, os.X_OK)]
    if not found:
        sys.exit("probes: no %s in %s (build it first, or set $%s)" % (rel, ", ".join(dirs), env))
    return max(found, key=os.path.getmtime)


def stamp(path):
    t = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def load_avg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_dead(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def cpu_ticks(pid, task=None):
    path = "/proc/%d/stat" % pid if task is None else "/proc/%d/task/%d/stat" % (pid, task)
    with open(path) as f:
        s = f.read()
    rest = s[s.rfind(")") + 2:].split()
    return int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)


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


def status_field(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return None


def host_ticks():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + vals[4]
    return sum(vals[:8]), idle


def tcp_counts(prefix, port=80):
    """(LISTEN on prefix*:port, TIME_WAIT with either end prefix*:port)."""
    want = "%04X" % port
    listen = tw = 0

    def ip_of(hexip):
        raw = int(hexip, 16)
        return ".".join(str((raw >> (8 * i)) & 0xFF) for i in range(4))

    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            lip, lport = p[1].split(":")
            rip, rport = p[2].split(":")
            st = p[3]
            if st == "0A" and lport == want and ip_of(lip).startswith(prefix):
                listen += 1
            elif st == "06" and ((lport == want and ip_of(lip).startswith(prefix))
                                 or (rport == want and ip_of(rip).startswith(prefix))):
                tw += 1
    return listen, tw


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


def pids_with_env_prefix(prefix):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if any(e.startswith(prefix.encode()) for e in env) and not proc_dead(int(name)):
            out.append(int(name))
    return out


class Daemon:
    def __init__(self, bindir, tmp, extra):
        self.volantd = os.path.join(bindir, "volantd")
        self.volar_bin = os.path.join(bindir, "volar")
        self.dir = os.path.join(tmp, "data")
        self.logpath = os.path.join(tmp, "volantd.log")
        os.makedirs(self.dir)
        self.log = open(self.logpath, "ab")
        self.args = [self.volantd, "--data-dir", self.dir, "--listen", "127.0.0.1:0",
                     "--pool", POOL] + extra
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        t0 = mono()
        while not os.path.exists(os.path.join(self.dir, "endpoint")):
            if self.proc.poll() is not None:
                raise RuntimeError("volantd exited with %s; log %s" % (self.proc.returncode, self.logpath))
            if mono() - t0 > 30:
                raise RuntimeError("volantd wrote no endpoint within 30 s")
            time.sleep(0.02)
        time.sleep(0.05)

    def alive(self):
        return self.proc.poll() is None

    def volar(self, *args, check=True, timeout=120):
        r = subprocess.run([self.volar_bin, "--data-dir", self.dir] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("volar %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                           r.stderr.strip()))
        return r

    def deployment(self, name):
        for d in json.loads(self.volar("deployments", "list", "--json").stdout):
            if d["name"] == name:
                return d
        return None

    def vms(self):
        return json.loads(self.volar("vms", "list", "--json").stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def window(d, seconds, say, label, per_thread=False):
    """Samples the daemon every second for `seconds`; returns a summary dict."""
    pid = d.pid
    threads = [int(status_field(pid, "Threads"))]
    c0, w0 = cpu_ticks(pid), mono()
    h0 = host_ticks()
    t0 = thread_cpu(pid) if per_thread else None
    per_sec = []
    last_c, last_w = c0, w0
    for _ in range(int(seconds)):
        time.sleep(max(0.0, last_w + 1.0 - mono()))
        c, w = cpu_ticks(pid), mono()
        per_sec.append(100.0 * (c - last_c) / HZ / (w - last_w))
        threads.append(int(status_field(pid, "Threads")))
        last_c, last_w = c, w
    c1, w1 = cpu_ticks(pid), mono()
    h1 = host_ticks()
    busy = (h1[0] - h0[0]) - (h1[1] - h0[1])
    host_pct = 100.0 * busy / max(1, h1[0] - h0[0]) * os.cpu_count()
    out = {
        "cpu": 100.0 * (c1 - c0) / HZ / (w1 - w0),
        "cpu_s": (c1 - c0) / HZ,
        "wall": w1 - w0,
        "per_sec": per_sec,
        "threads_min": min(threads),
        "threads_max": max(threads),
        "rss_mib": int(status_field(pid, "VmRSS")) / 1024.0,
        "host_pct": host_pct,
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="", help="build dir (default: newest of %s)" % BUILDS)
    ap.add_argument("--vms", type=int, default=500)
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--window", type=int, default=20, help="seconds of sampling at --vms")
    ap.add_argument("--out", default="", help="also write the output to FILE")
    ap.add_argument("--command", default=" ".join(sys.argv))
    ap.add_argument("--deadline", type=int, default=560, help="seconds before giving up")
    a = ap.parse_args()

    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    def on_alarm(signum, frame):
        raise Watchdog("probes: gave up after %d s" % a.deadline)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(a.deadline)
    start = mono()

    tmp = tempfile.mkdtemp(prefix="volant-bench-probes-")
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    src_d = pick_binary("src/daemon/volantd", "VOLANTD", a.build)
    src_v = pick_binary("src/cli/volar", "VOLAR", a.build)
    shutil.copy2(src_d, os.path.join(bindir, "volantd"))
    shutil.copy2(src_v, os.path.join(bindir, "volar"))
    flags = ["--max-vms", "600", "--max-replicas", "600", "--memory-mib", "65536"]

    say("bench/probes: %d VMs with 1 s HTTP checks on one volantd: CPU, threads, RSS" % a.vms)
    say("date:     %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    say("command:  %s" % a.command)
    say("machine:  nproc=%d, %s, load average %s at start" % (
        os.cpu_count(), subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip(),
        load_avg()))
    say("volantd:  %s (mtime %s), copied to %s" % (src_d, stamp(src_d), bindir))
    say("volar:    %s (mtime %s)" % (src_v, stamp(src_v)))
    say("daemon:   volantd --data-dir D --listen 127.0.0.1:0 --pool %s %s" % (POOL, " ".join(flags)))
    say("workload: busybox httpd -f -v -p $VOLANT_IP:80 serving /health, --memory 16; HTTP check "
        "GET :80/health interval 1 s, timeout 1 s, threshold 3")

    if tcp_counts(POOL_PREFIX)[0]:
        sys.exit("probes: something already listens on %s*:80" % POOL_PREFIX)

    d = None
    failures = []
    results = {}
    try:
        d = Daemon(bindir, tmp, flags)
        manifest = {
            "name": "bench-probes-httpd", "version": "1.0.0",
            "description": "busybox httpd on <vm-ip>:80 serving /health (bench/probes)",
            "runtime": "process",
            "workload": {
                "entrypoint": ["/bin/sh", "-c",
                               "mkdir -p \"$VOLANT_VM_DIR/www\" && echo ok > \"$VOLANT_VM_DIR/www/health\" "
                               "&& exec busybox httpd -f -v -p \"$VOLANT_IP:80\" -h \"$VOLANT_VM_DIR/www\""],
                "health_check": {"enabled": True, "http": {
                    "port": 80, "path": "/health", "interval_seconds": 1,
                    "timeout_seconds": 1, "unhealthy_threshold": 3}}}}
        mpath = os.path.join(tmp, "plugin.json")
        with open(mpath, "w") as f:
            json.dump(manifest, f, indent=2)
        d.volar("plugins", "install", "--manifest", mpath)
        logdir = os.path.join(d.dir, "logs")
        time.sleep(1.0)
        results[0] = window(d, 5, say, "idle")

        def wait_ready(n, timeout):
            t0 = mono()
            last = None
            while mono() - t0 < timeout:
                dep = d.deployment("probes")
                last = dep
                if dep and dep["ready"] == n and dep["current"] == n and tcp_counts(POOL_PREFIX)[0] >= n:
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
        listen0 = tcp_counts(POOL_PREFIX)[0]
        ok0, bad0 = served(logdir)
        results[a.vms] = window(d, a.window, say, str(a.vms), per_thread=True)
        ok1, bad1 = served(logdir)
        listen1 = tcp_counts(POOL_PREFIX)[0]
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
        for f_ in failures:
            say("FAILED:   " + f_)
    except Watchdog as e:
        say("ABORTED:  %s" % e)
        failures.append(str(e))
    except Exception as e:
        say("ERROR:    %s: %s" % (type(e).__name__, e))
        failures.append(str(e))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        deleted = None
        if d is not None:
            try:
                t0 = mono()
                d.volar("deployments", "delete", "probes", "--force", check=False)
                while mono() - t0 < 90:
                    r = d.volar("vms", "list", "--json", check=False)
                    if r.returncode != 0 or json.loads(r.stdout or "[]") == []:
                        break
                    time.sleep(0.5)
                deleted = mono() - t0
            except Exception as e:
                say("cleanup: %s" % e)
            d.stop()
        left = pids_with_env_prefix("VOLANT_VM_DIR=" + os.path.join(tmp, "data") + "/")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)
        if d is not None:
            with open(d.logpath, errors="replace") as f:
                log = f.read().splitlines()
            warn = [l for l in log if "[warning]" in l or "[error]" in l or "[critical]" in l]
            say("")
            say("daemon log: %d lines, %d warning/error lines%s" % (len(log), len(warn), ":" if warn else ""))
            for l in warn[:10]:
                say("  " + l)
        say("cleanup:  deployment deleted (%s s until no VM listed), volantd stopped, %d leftover "
            "workload processes killed, listeners left on %s*:80: %d" % (
                "-" if deleted is None else "%.1f" % deleted, len(left), POOL_PREFIX,
                tcp_counts(POOL_PREFIX)[0]))
        if a.out:
            with open(a.out, "w") as f:
                f.write("\n".join(lines) + "\n")
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say("kept:     %s (logs)" % tmp)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
