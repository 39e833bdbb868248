#!/usr/bin/env python3
"""bench/autoscale: the horizontal autoscaler (issue 15), in one run (not a test).

Part 1, load step -> new replicas ready. A process plugin whose replicas spin
(busybox sh's builtin test, no fork) while a switch file exists, idle otherwise.
A deployment of 2 replicas (--cpu 1), the guide's HorizontalPodAutoscaler on it
(min 2, max 6, cpu averageUtilization 30, default behavior). Once the
autoscaler has a CPU rate (two evaluations seen), the switch file is created at
a chosen phase of the evaluation period ((i + 0.5) / repeats of it, so the
repeats cover the period evenly). Measured on volantd's clock (the VMs'
ready_at, the autoscaler's evaluation times `last.at`, the deployment_scaled
event) against the host's time of the switch:

  * decision: switch -> the deployment_scaled event with cause "autoscaler NAME";
  * first step ready: switch -> the last VM of that first step READY;
  * peak ready: switch -> every VM of the highest count reached (K) READY; the
    deployment is followed until 6 are READY, or the count held for two
    evaluations after its last change, or 5 periods + 30 s.
Every evaluation after the switch is printed with its reason and the host's
busy % since the evaluation before (the machine is shared: a spinner gets
what is left of its 2 cores).

Baseline, same daemon, same repeat, same load: the autoscaler deleted, the
deployment (still spinning) scaled back to 2 with --wait, then `deployments
scale NAME --replicas K --wait`: the time until its last new VM is READY (and
the time --wait took, which polls every 250 ms). Every repeat uses a new
deployment and autoscaler (no rate-limit or stabilization history carried over).
Run on two daemons: volantd's default --metrics-interval (15s) and 2s.

Part 2, metric collection cost at 500 VMs. One volantd (--metrics-interval 1s
--reconcile-ms 1000: the evaluation runs at most once per reconcile round, so
the round must be 1 s too), a deployment of 500 idle busybox httpd VMs (no
health check) and a load balancer on it (HAProxy, --no-health-check; its
counters are read by volantd whether or not an autoscaler exists). volantd's
CPU (utime+stime of /proc/PID/stat, % of one core) over three windows of
--window s, no volar call during a window: without an autoscaler, with one
(min = max = 500: it never scales; cpu 70, memory 80, requests 1000), and
without again. The cost of collection = with - mean(without); per evaluation =
that x the observed evaluation period; at the default 15 s period = per
evaluation / 15. Goal (issue 15): < 5 % of one core at 500 VMs.

Only loopback addresses (default pools 127.93.200.0/24 and 127.93.0.0/20, LB
listening on 127.93.250.250). Everything is deleted, the daemons stopped and
leftover workloads killed at the end.
"""

import collections
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (HZ, REPO, Daemon, Say, arm_watchdog, copy_binaries,  # noqa: E402
                          disarm_watchdog, finish, install_plugin, kill_workloads, listeners,
                          load_avg, mono, parse_args, report_error, say_daemon_log,
                          say_failures, say_header, sample_cpu, status_field, host_ticks)

MIN_REPLICAS, MAX_REPLICAS, CPU_TARGET = 2, 6, 30


class BenchError(RuntimeError):
    pass


# --- time ---------------------------------------------------------------------------

def parse_at(value):
    """volantd's time ("2026-12-03T16:00:35.766155232Z", or unix nanos) -> unix seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value / 1e9
    whole, _, frac = value.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


def hms(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def commit_line():
    def git(*args):
        return subprocess.run(["git", "--no-optional-locks", "-C", REPO] + list(args),
                              capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    dirty = [l for l in git("status", "--porcelain", "--untracked-files=no", "--", "src").splitlines() if l]
    return "%s%s" % (head, " (+ %d uncommitted files under src/ in the build)" % len(dirty) if dirty else "")


def other_daemons():
    """The --pool of every volantd running (another user's tests share the machine)."""
    pools = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args and os.path.basename(args[0]) == "volantd":
            pools.append(args[args.index("--pool") + 1] if "--pool" in args[:-1] else "?")
    return pools


# --- /proc --------------------------------------------------------------------------

def thread_ticks(pid):
    """{thread name: CPU ticks summed over its threads}."""
    out = collections.Counter()
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        out[s[s.find("(") + 1:s.rfind(")")]] += int(rest[11]) + int(rest[12])
    return out


def cpu_window(pid, seconds):
    """volantd's CPU over `seconds`, sampled every second (nothing else is asked of it)."""
    t0 = thread_ticks(pid)
    out = sample_cpu(pid, seconds)
    t1 = thread_ticks(pid)
    out["threads"] = int(status_field(pid, "Threads"))
    out["host"] = out["host_pct"]
    out["by_thread"] = {k: (t1[k] - t0.get(k, 0)) / HZ for k in t1}
    return out


# --- volar --------------------------------------------------------------------------

def hpa_yaml(name, deployment, lo, hi, metrics):
    """The guide's HorizontalPodAutoscaler; metrics: [(kind, value)], default behavior."""
    out = ["apiVersion: volant.io/v1", "kind: HorizontalPodAutoscaler",
           "metadata:", "  name: %s" % name, "spec:", "  deploymentRef: %s" % deployment,
           "  minReplicas: %d" % lo, "  maxReplicas: %d" % hi, "  metrics:"]
    for kind, value in metrics:
        key = "averageValue" if kind == "requests" else "averageUtilization"
        out += ["    - type: %s" % kind, "      target:", "        %s: %s" % (key, value)]
    return "\n".join(out) + "\n"


def apply_hpa(d, tmp, name, text):
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return d.volar("apply", "-f", path).stdout.strip()


def show(d, name):
    return json.loads(d.volar("deployments", "show", name, "--json").stdout)


def last_of(shown):
    a = shown.get("autoscaler") or {}
    return a.get("last") if isinstance(a.get("last"), dict) else None


def cpu_average(last):
    for m in (last or {}).get("metrics", []):
        if m.get("kind") == "cpu":
            return m.get("average")
    return None


def wait_evaluations(d, name, n, timeout, seen=None, hpa=None, poll=0.1):
    """Polls `deployments show NAME` (or `hpa show HPA`) every `poll` s until `n` new
    evaluations (distinct last.at) were seen; returns [(at, last)] of them, oldest first."""
    seen = [] if seen is None else seen
    known = {s[0] for s in seen}
    t0 = mono()
    new = []
    while len(new) < n:
        if mono() - t0 > timeout:
            raise BenchError("%s: %d of %d evaluations within %d s" % (name, len(new), n, timeout))
        if hpa:
            last = json.loads(d.volar("hpa", "show", hpa, "--json").stdout).get("last")
        else:
            last = last_of(show(d, name))
        if isinstance(last, dict) and last.get("at") not in known:
            known.add(last["at"])
            new.append((parse_at(last["at"]), last))
            seen.append(new[-1])
        time.sleep(poll)
    return new


def vms_created_after(d, name, t):
    return sorted([v for v in d.vms(name) if parse_at(v["created_at"]) > t],
                  key=lambda v: parse_at(v["created_at"]))


def last_ready(vms):
    ats = [parse_at(v.get("ready_at")) for v in vms]
    return None if not vms or None in ats else max(ats)


# --- part 1 -------------------------------------------------------------------------

def burner_plugin(switch):
    return {"name": "bench-autoscale-burner", "version": "1.0.0", "runtime": "process",
            "description": "spins while %s exists (bench/autoscale)" % switch,
            "workload": {"entrypoint": ["/bin/sh", "-c",
                                        "while :; do while [ -f %s ]; do :; done; sleep 0.2; done"
                                        % switch]}}


def switch_on(path):
    with open(path, "w") as f:
        f.write("on\n")
    os.chmod(path, 0o644)


def switch_off(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def one_reaction(d, tmp, switch, label, i, repeats, say):
    """One repeat of part 1 on daemon d: the autoscaled reaction, then the baseline."""
    dep, hpa = "burn%d" % i, "burn%d-hpa" % i
    switch_off(switch)
    d.volar("deployments", "create", dep, "--plugin", "bench-autoscale-burner", "--replicas",
            str(MIN_REPLICAS), "--cpu", "1", "--memory", "32", "--wait", "--timeout", "60")
    apply_hpa(d, tmp, hpa, hpa_yaml(hpa, dep, MIN_REPLICAS, MAX_REPLICAS, [("cpu", CPU_TARGET)]))
    evals = []
    # Two evaluations: the second has a CPU rate (idle), and their distance is the period.
    wait_evaluations(d, dep, 2, 60, evals, poll=0.25)
    h_prev = host_ticks()
    host = {}  # evaluation time -> host busy % (all cores) since the one before
    period = evals[-1][0] - evals[-2][0]
    phase = (i + 0.5) / repeats
    t_switch = evals[-1][0] + phase * period
    time.sleep(max(0.0, t_switch - time.time()))
    switch_on(switch)
    t_switch = time.time()

    # Follow, every period/4 (0.25..1 s: a volar call costs about 35 ms of CPU,
    # volar's and volantd's, taken from the spinners; the times measured are
    # volantd's, not the poll's), until MAX_REPLICAS are READY, or the count rose and
    # then held for two evaluations (a scale's new VMs have no CPU rate at the
    # evaluation after it: they count as idle and hold the next step), or 5
    # periods + 30 s have passed.
    t0 = mono()
    poll = min(1.0, max(0.25, period / 4))
    desired = MIN_REPLICAS
    held = 0
    while True:
        s = show(d, dep)
        last = last_of(s)
        if last and last.get("at") not in {e[1].get("at") for e in evals}:
            evals.append((parse_at(last["at"]), last))
            h = host_ticks()
            host[evals[-1][0]] = 100.0 * ((h[0] - h_prev[0]) - (h[1] - h_prev[1])) / max(1, h[0] - h_prev[0]) * os.cpu_count()
            h_prev = h
            held = 0 if last.get("replicas") != last.get("from") else held + 1
        desired = s["desired"]
        settled = s["ready"] == s["desired"] == s["current"]
        if settled and (desired >= MAX_REPLICAS or (desired > MIN_REPLICAS and held >= 2)
                        or (desired > MIN_REPLICAS and mono() - t0 > 5 * period + 30)):
            break
        if mono() - t0 > 5 * period + 60:
            raise BenchError("%s %s: no scale-up within %.0f s of the switch (desired %d, ready %d); "
                             "last evaluation: %s" % (label, dep, mono() - t0, s["desired"],
                                                      s["ready"], json.dumps(last)))
        time.sleep(poll)
    scaled = [e for e in s.get("events", []) if e.get("event") == "deployment_scaled"
              and e.get("fields", {}).get("cause", "") == "autoscaler " + hpa]
    scaled.sort(key=lambda e: e.get("seq", 0))
    if not scaled:
        raise BenchError("%s %s: desired %d but no deployment_scaled by %s in its events" % (
            label, dep, desired, hpa))
    t_decision = parse_at(scaled[0].get("at") or scaled[0]["fields"].get("at"))
    k1 = scaled[0]["fields"]["to"]
    peak = desired
    new = vms_created_after(d, dep, t_switch)
    first_ready = last_ready(new[:k1 - MIN_REPLICAS])
    peak_ready = last_ready(new)
    after = [e for e in evals if e[0] > t_switch]
    before = [e for e in evals if e[0] <= t_switch]
    # The deciding evaluation started just before its deployment_scaled was
    # committed; its CPU rate spans back to the evaluation before it.
    deciding = max([e[0] for e in evals if e[0] <= t_decision], default=None)
    rate_from = max([e[0] for e in evals if deciding is not None and e[0] < deciding], default=None)
    r = {"label": label, "phase": phase, "period": period, "k1": k1, "peak": peak,
         "decision": t_decision - t_switch, "first": first_ready - t_switch,
         "peak_ready": peak_ready - t_switch, "start": first_ready - t_decision,
         "to_next_eval": (after[0][0] - t_switch) if after else float("nan"),
         "evals_to_decision": len([e for e in after if e[0] <= t_decision]),
         "rate_window": (deciding - rate_from) if rate_from else float("nan"),
         "steps": [(e["fields"]["from"], e["fields"]["to"], parse_at(e.get("at") or e["fields"]["at"]) - t_switch,
                    e["fields"].get("detail", "")) for e in scaled],
         "evals": [(e[0] - t_switch, cpu_average(e[1]), e[1].get("replicas")) for e in (before[-1:] + after)],
         "reasons": [(e[0] - t_switch, e[1].get("reason", ""), host.get(e[0])) for e in after]}

    # Baseline: no autoscaler, the same load, 2 -> peak by hand.
    d.volar("hpa", "delete", hpa)
    d.volar("deployments", "scale", dep, "--replicas", str(MIN_REPLICAS), "--wait", "--timeout", "60")
    time.sleep(1.0)
    t_b = time.time()
    m_b = mono()
    d.volar("deployments", "scale", dep, "--replicas", str(peak), "--wait", "--timeout", "60")
    r["wait"] = mono() - m_b
    r["base"] = last_ready(vms_created_after(d, dep, t_b)) - t_b
    switch_off(switch)
    d.volar("deployments", "delete", dep, "--force")
    say("  %-4s #%d: switch at phase %.2f of the %.2f s period; evaluations (s after the switch: "
        "cpu %% -> replicas): %s" % (label, i + 1, phase, period, ", ".join(
            "%+.2f: %s -> %s" % (t, "-" if a is None else "%.0f" % a, n) for t, a, n in r["evals"])))
    for t, why, busy in r["reasons"]:
        say("         %+6.2f s: %s   [host busy %s %% of %d cores since the evaluation before]" % (
            t, why, "-" if busy is None else "%.0f" % busy, os.cpu_count()))
    say("         scaled %s; %d READY at +%.2f s; baseline 2 -> %d by hand: READY at +%.3f s "
        "(--wait returned after %.2f s)" % (
            ", ".join("%d->%d at +%.2f s" % (f, t, at) for f, t, at, _ in r["steps"]),
            peak, r["peak_ready"], peak, r["base"], r["wait"]))
    return r


def part1(bindir, tmp, pool, interval, repeats, say, failures):
    label = interval or "15s"
    flags = ["--dns-listen", "off", "--cpus", "16", "--memory-mib", "8192"]
    if interval:
        flags += ["--metrics-interval", interval]
    sub = os.path.join(tmp, "p1-" + label)
    os.makedirs(sub)
    switch_dir = tempfile.mkdtemp(prefix="volant-bench-autoscale-switch-", dir="/tmp")
    os.chmod(switch_dir, 0o755)
    switch = os.path.join(switch_dir, "burn")
    say("")
    say("part 1, --metrics-interval %s%s: volantd --pool %s %s" % (
        label, "" if interval else " (the default: no flag)", pool, " ".join(flags)))
    d = None
    out = []
    try:
        d = Daemon.in_tmp(bindir, sub, pool, flags, volar_timeout=120, stop_wait=15, settle=0.05)
        install_plugin(d, burner_plugin(switch), os.path.join(sub, "plugin.json"))
        for i in range(repeats):
            out.append(one_reaction(d, sub, switch, label, i, repeats, say))
    finally:
        switch_off(switch)
        os.rmdir(switch_dir)
        if d is not None:
            d.shut_down(say, timeout=30, poll=0.5)
            left = kill_workloads(d.dir, groups=True)
            if left:
                failures.append("part 1 %s: %d leftover workload processes killed" % (label, len(left)))
            say_daemon_log(say, d.logpath)
    return out


# --- part 2 -------------------------------------------------------------------------

def httpd_plugin():
    return {"name": "bench-autoscale-httpd", "version": "1.0.0", "runtime": "process",
            "description": "idle busybox httpd on <vm-ip>:80 (bench/autoscale)",
            "workload": {"entrypoint": [
                "/bin/sh", "-c",
                "mkdir -p \"$VOLANT_VM_DIR/www\" && echo ok > \"$VOLANT_VM_DIR/www/index.html\" "
                "&& exec busybox httpd -f -p \"$VOLANT_IP:80\" -h \"$VOLANT_VM_DIR/www\""]}}


def part2(bindir, tmp, pool, lb_ip, n, seconds, deadline_at, say, failures):
    prefix = ".".join(pool.split(".")[:2]) + "."
    flags = ["--dns-listen", "off", "--max-vms", str(n + 100), "--max-replicas", str(n + 100),
             "--cpus", str(n + 100), "--memory-mib", "65536", "--metrics-interval", "1s",
             "--reconcile-ms", "1000"]
    sub = os.path.join(tmp, "p2")
    os.makedirs(sub)
    say("")
    say("part 2, %d idle VMs: volantd --pool %s %s" % (n, pool, " ".join(flags)))
    say("  workload: busybox httpd -f -p $VOLANT_IP:80, --memory 16, no health check; "
        "lb create idle-lb --deployment idle --port 80 --listen %s --no-health-check" % lb_ip)
    d = None
    res = {}
    try:
        d = Daemon.in_tmp(bindir, sub, pool, flags, volar_timeout=120, stop_wait=15, settle=0.05)
        install_plugin(d, httpd_plugin(), os.path.join(sub, "plugin.json"))
        t0 = mono()
        d.volar("deployments", "create", "idle", "--plugin", "bench-autoscale-httpd",
                "--replicas", str(n), "--memory", "16")
        while True:
            dep = d.deployment("idle")
            if dep and dep["ready"] == n and len(listeners(prefix)) >= n:
                break
            if mono() - t0 > 180 or time.time() > deadline_at:
                raise BenchError("%d VMs: not all ready in %.0f s: %s" % (n, mono() - t0, dep))
            time.sleep(1.0)
        say("  %d VMs READY and listening %.1f s after create" % (n, mono() - t0))
        d.volar("lb", "create", "idle-lb", "--deployment", "idle", "--port", "80", "--listen", lb_ip,
                "--no-health-check")
        t0 = mono()
        while True:
            lb = json.loads(d.volar("lb", "show", "idle-lb", "--json").stdout)
            if len(lb.get("servers", [])) >= n:
                break
            if mono() - t0 > 60:
                raise BenchError("lb idle-lb: %d servers after 60 s" % len(lb.get("servers", [])))
            time.sleep(1.0)
        def get():
            try:
                with urllib.request.urlopen("http://%s:80/" % lb_ip, timeout=2) as r:
                    return r.status == 200
            except Exception:
                return False
        t1 = mono()
        while not get():  # HAProxy listens a moment after `lb create`
            if mono() - t1 > 30:
                raise BenchError("lb idle-lb: no 200 through %s:80 within 30 s" % lb_ip)
            time.sleep(0.2)
        ok = sum(get() for _ in range(50))
        say("  lb idle-lb: %d servers %.1f s after lb create; %d/50 GET / through it answered 200" % (
            len(lb["servers"]), mono() - t0, ok))
        time.sleep(5.0)
        res["without"] = cpu_window(d.pid, seconds)

        hpa_text = hpa_yaml("idle-hpa", "idle", n, n, [("cpu", 70), ("memory", 80), ("requests", 1000)])
        say("  %s" % apply_hpa(d, sub, "idle-hpa", hpa_text))
        evals = wait_evaluations(d, "idle", 6, 60, hpa="idle-hpa")
        ats = [e[0] for e in evals]
        gaps = [b - a for a, b in zip(ats, ats[1:])]
        period = statistics.median(gaps)
        shown = json.loads(d.volar("hpa", "show", "idle-hpa", "--json").stdout)
        say("  evaluation period observed: %s s (gaps of 6 consecutive last.at)" % " ".join("%.3f" % g for g in gaps))
        res["with"] = cpu_window(d.pid, seconds)
        shown_after = json.loads(d.volar("hpa", "show", "idle-hpa", "--json").stdout)
        d.volar("hpa", "delete", "idle-hpa")
        time.sleep(3.0)
        res["without2"] = cpu_window(d.pid, seconds)

        last = shown_after.get("last") or {}
        say("  volar hpa show idle-hpa --json, after the window with it (its \"last\"):")
        for line in json.dumps(last, indent=2, sort_keys=True).splitlines():
            say("    " + line)
        if parse_at(last.get("at")) is None or parse_at(last["at"]) <= parse_at((shown.get("last") or {}).get("at")):
            failures.append("part 2: no evaluation during the window with the autoscaler")
        for m in last.get("metrics", []):
            if m.get("average") is None or "missing" in m.get("note", ""):
                failures.append("part 2: metric %s not collected: %s" % (m.get("kind"), m.get("note")))
        if {m.get("kind") for m in last.get("metrics", [])} != {"cpu", "memory", "requests"}:
            failures.append("part 2: metrics in last: %s" % [m.get("kind") for m in last.get("metrics", [])])
        if last.get("from") != n or last.get("replicas") != n:
            failures.append("part 2: last evaluation from %s to %s replicas" % (last.get("from"), last.get("replicas")))
        dep = d.deployment("idle")
        say("  deployment idle after the windows: desired %d, ready %d, current %d" % (
            dep["desired"], dep["ready"], dep["current"]))
        if dep["ready"] != n:
            failures.append("part 2: only %d of %d VMs ready after the windows" % (dep["ready"], n))
        res["period"] = period
    finally:
        if d is not None:
            try:
                d.volar("lb", "delete", "idle-lb", check=False)
            except Exception as e:
                say("cleanup: lb delete: %s" % e)
            deleted = d.shut_down(say, timeout=90, poll=0.5)
            left = kill_workloads(d.dir, groups=True)
            time.sleep(0.5)
            say_daemon_log(say, d.logpath)
            say("  cleanup: deployment deleted (%s s until no VM listed), volantd stopped, %d leftover "
                "workload processes killed, listeners left on %s*:80: %d" % (
                    "-" if deleted is None else "%.1f" % deleted, len(left), prefix, len(listeners(prefix))))
    return res


# --- main ---------------------------------------------------------------------------

def own_flags(ap):
    ap.add_argument("--repeats", type=int, default=3, help="load steps per metrics interval")
    ap.add_argument("--intervals", default=",2s", help="--metrics-interval values of part 1, "
                    "comma-separated; empty: volantd's default (default ',2s')")
    ap.add_argument("--vms", type=int, default=500)
    ap.add_argument("--window", type=int, default=30, help="seconds per CPU window of part 2")
    ap.add_argument("--pool1", default="127.93.200.0/24")
    ap.add_argument("--pool2", default="127.93.0.0/20")
    ap.add_argument("--lb-ip", default="127.93.250.250")
    ap.add_argument("--skip", default="", help="part1 or part2: leave it out")


def main():
    a = parse_args(900, own_flags)
    for p in (a.pool1, a.pool2, a.lb_ip):
        if not p.startswith("127."):
            sys.exit("autoscale: loopback addresses only (%s)" % p)
    say = Say()
    arm_watchdog("autoscale", a.deadline)
    deadline_at = time.time() + a.deadline - 120
    tmp = tempfile.mkdtemp(prefix="volant-bench-autoscale-")
    os.chmod(tmp, 0o711)  # the workload user reaches the run directories below it
    bindir, src_d, src_v = copy_binaries("autoscale", a.build, tmp)

    say("bench/autoscale: load step -> new replicas READY, and metric collection cost at %d VMs" % a.vms)
    say_header(say, a.command, src_d, src_v, bindir)
    say("commit:   %s" % commit_line())
    others = other_daemons()
    say("shared:   %d other volantd running at start%s" % (len(others), (" (pools %s)" % ", ".join(others)) if others else ""))
    if listeners("127.93."):
        sys.exit("autoscale: something already listens on 127.93.*:80")

    failures = []
    p1 = collections.OrderedDict()
    p2 = {}
    try:
        if a.skip != "part1":
            say("")
            say("part 1: burner deployment (process, --cpu 1) at %d replicas, autoscaler min %d max %d "
                "cpu averageUtilization %d, default behavior; switch created at phase (i+0.5)/%d of the "
                "evaluation period after two evaluations; times on volantd's clock, s after the switch" % (
                    MIN_REPLICAS, MIN_REPLICAS, MAX_REPLICAS, CPU_TARGET, a.repeats))
            for interval in a.intervals.split(","):
                p1[interval or "15s"] = part1(bindir, tmp, a.pool1, interval, a.repeats, say, failures)
        if a.skip != "part2":
            p2 = part2(bindir, tmp, a.pool2, a.lb_ip, a.vms, a.window, deadline_at, say, failures)
    except Exception as e:  # Watchdog too: report, clean up, exit non-zero
        report_error(say, failures, e)
    finally:
        disarm_watchdog()

    med = lambda rs, k: statistics.median([r[k] for r in rs])  # noqa: E731
    if p1:
        say("")
        say("| metrics interval | repeats | observed evaluation period s | switch -> next evaluation s | "
            "evaluations to decide | switch -> scaled (decision) s | decision -> READY s | "
            "switch -> first step READY s | first step | switch -> peak READY s | peak K | "
            "baseline 2 -> K by hand s (--wait s) | ratio first step / baseline |")
        say("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for label, rs in p1.items():
            if not rs:
                continue
            say("| %s | %d | %.2f | %.2f | %s | %.2f | %.3f | %.2f | 2->%s | %.2f | %s | %.3f (%.2f) | %.0fx |" % (
                label, len(rs), med(rs, "period"), med(rs, "to_next_eval"),
                "/".join(str(r["evals_to_decision"]) for r in rs), med(rs, "decision"), med(rs, "start"),
                med(rs, "first"), "/".join(str(r["k1"]) for r in rs), med(rs, "peak_ready"),
                "/".join(str(r["peak"]) for r in rs), med(rs, "base"), med(rs, "wait"),
                med(rs, "first") / med(rs, "base")))
        say("(medians over the repeats; a/b/c = per repeat)")
        say("")
        for label, rs in p1.items():
            if not rs:
                continue
            first, base, dec, per = med(rs, "first"), med(rs, "base"), med(rs, "decision"), med(rs, "period")
            say("ratio:    %-4s switch -> first step READY / baseline = %.2f / %.3f s = %.0fx; peak READY / "
                "baseline = %.0fx; waiting for the evaluation that decides (switch -> scaled) = %.0f %% of "
                "the reaction = %.2f evaluation periods; rate window of the deciding evaluation %.2f s" % (
                    label, first, base, first / base, med(rs, "peak_ready") / base, 100.0 * dec / first,
                    dec / per, med(rs, "rate_window")))
    if p2.get("with"):
        o1, w, o2 = p2["without"], p2["with"], p2["without2"]
        base = (o1["cpu"] + o2["cpu"]) / 2
        diff = w["cpu"] - base
        per_eval_ms = diff / 100.0 * p2["period"] * 1000.0
        at15 = diff * p2["period"] / 15.0
        say("")
        say("| part 2, %d VMs + LB | window s | volantd CPU %% of one core | per-second min / max %% | "
            "CPU s | threads | host busy %% of %d cores |" % (a.vms, os.cpu_count()))
        say("|---|---|---|---|---|---|---|")
        for name, r in (("no autoscaler", o1), ("autoscaler, --metrics-interval 1s", w),
                        ("no autoscaler again", o2)):
            say("| %s | %.1f | %.2f | %.1f / %.1f | %.2f | %d | %.0f |" % (
                name, r["wall"], r["cpu"], min(r["per_sec"]), max(r["per_sec"]), r["cpu_s"],
                r["threads"], r["host"]))
        say("")
        say("per-second volantd CPU %% with the autoscaler: %s" % " ".join("%.0f" % x for x in w["per_sec"]))
        say("per-second volantd CPU %% without (first):     %s" % " ".join("%.0f" % x for x in o1["per_sec"]))
        grown = sorted(((k, w["by_thread"].get(k, 0) - (o1["by_thread"].get(k, 0) + o2["by_thread"].get(k, 0)) / 2)
                        for k in set(w["by_thread"]) | set(o1["by_thread"])), key=lambda kv: -kv[1])
        say("threads, CPU s with minus mean without: %s" % ", ".join("%s %+.2f" % kv for kv in grown[:5]))
        say("ratio:    volantd CPU with / without an autoscaler at %d VMs = %.2f / %.2f %% = %.2fx" % (
            a.vms, w["cpu"], base, w["cpu"] / base if base else float("nan")))
        say("cost:     collection at a %.2f s period: %+.2f %% of one core (%.1f ms of CPU per evaluation of "
            "%d VMs); at the default 15 s period: %+.2f %%" % (p2["period"], diff, per_eval_ms, a.vms, at15))
        say("goal:     < 5 %% of one core at %d VMs: %s (%.2f %% at 15 s; %.2f %% even at the 1 s period)" % (
            a.vms, "MET" if at15 < 5.0 else "MISSED", at15, diff))
    say_failures(say, failures)
    say("load average at end: %s" % load_avg())
    finish(say, a.out, tmp, failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
