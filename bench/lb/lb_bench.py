#!/usr/bin/env python3
"""bench/lb: the load balancer (issue 13) against a baseline measured in the same
run (not a test; no pass/fail).

One volantd on a temp data dir (process driver, pool 127.88.0.0/16, loopback only)
runs deployment `bench` (4 replicas of busybox httpd with an HTTP health check on
/health, interval 1 s; "/" serves the VM's name) behind `volar lb create bench-lb
--deployment bench --port 80 --listen 127.89.0.1` (outside the pool, so never a
VM's address), the HAProxy that volantd runs. Then:

  1. throughput: `wrk -t2 -c16 -dDs --latency` straight to one VM (the baseline)
     and through the LB, alternating (direct, lb, direct, lb): requests/s and the
     99% latency, ratio LB / direct;
  2. ready -> first request: under a steady `wrk -t1 -c4` through the LB, `scale
     bench --replicas 5` (then back to 4), N times. `vms list --deployment bench
     --json` polled every 10 ms until the new VM is ready (its `ready_at`, the
     daemon's clock), then `lb show bench-lb --json` every 10 ms until its server
     counts requests > 0; meanwhile a thread reads HAProxy's own `show stat` (its
     stats socket, read-only) every 5 ms: when the server is added, when it counts
     its first request. A client loop (http.client, keep-alive off, its own
     process) through the LB records which VM answered each request, so the first
     response from the new VM is known to the client's resolution too;
  3. `lb switch`: a second deployment `green` (2 replicas); with the client loop
     running, `lb switch bench-lb --to green`, then back `--to bench`, N times
     each: from the start of volar (and from its return) to the first response
     from the new deployment, and to the last response from the old one.

Goals (issue 13): ready -> first request < 100 ms, switch < 50 ms.

Usage: bench/lb/run.sh [--bin DIR] [--reps 5] [--duration 10] [--results FILE]
"""

import argparse
import calendar
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (Daemon, Say, arm_watchdog, disarm_watchdog,  # noqa: E402
                          http_health_plugin, install_plugin, kill_workloads, listeners,
                          load_avg, replace_section, stamp, uname_sr)

POOL = "127.88.0.0/16"
LB_IP = "127.89.0.1"
LB_PORT = 80
LB = "bench-lb"
BLUE = "bench"
GREEN = "green"
NICE = ["nice", "-n", "5"]
POLL = 0.01


class BenchError(Exception):
    pass


# --- the client loop (its own process: lb_bench.py --probe HOST PORT OUT) ------------

def probe_main(host, port, out):
    """GET / with keep-alive off, in a tight loop until SIGTERM; one line per
    answer: `<wall time> <body's first word, or ERR:...>`."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "w", buffering=1 << 16) as f:
        while not stop:
            try:
                c = http.client.HTTPConnection(host, port, timeout=2)
                c.request("GET", "/", headers={"Connection": "close"})
                r = c.getresponse()
                body = r.read().decode(errors="replace").strip()
                c.close()
                what = body.split()[0] if r.status == 200 and body else "ERR:HTTP%d" % r.status
            except Exception as e:  # refused, reset, timeout: counted, not fatal
                what = "ERR:" + type(e).__name__
                time.sleep(0.001)
            f.write("%.6f %s\n" % (time.time(), what))


class Prober:
    def __init__(self, path):
        self.path = path
        self.proc = subprocess.Popen(NICE + [sys.executable, os.path.abspath(__file__), "--probe",
                                             LB_IP, str(LB_PORT), path],
                                     stdin=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self):
        """Stops it; returns [(t, what)]."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = []
        with open(self.path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    out.append((float(parts[0]), parts[1]))
        return out


# --- wrk ----------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text):
    """{rps, p99_ms, requests, errors (socket errors + non-2xx/3xx)}."""
    r = {"rps": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan"), "requests": 0,
         "errors": 0, "text": text}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    for p in ("50", "99"):
        m = re.search(r"^\s*%s%%\s+([0-9.]+)(us|ms|s)\s*$" % p, text, re.M)
        if m:
            r["p%s_ms" % p] = float(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["errors"] += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["errors"] += int(m.group(1))
    return r


def tcp_counters():
    """Host-wide TcpExt ListenOverflows (a full accept queue: the SYN is dropped) and
    TCPSynRetrans (SYNs sent again, 1 s later the first time)."""
    out = {}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        with open(path) as f:
            lines = f.read().splitlines()
        for head, vals in zip(lines[::2], lines[1::2]):
            for k, v in zip(head.split()[1:], vals.split()[1:]):
                out[k] = int(v)
    return {k: out.get(k, 0) for k in ("ListenOverflows", "TCPSynRetrans")}


def wrk(url, duration):
    c0 = tcp_counters()
    p = subprocess.run(NICE + ["wrk", "-t2", "-c16", "-d%ds" % duration, "--latency", url],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=duration + 60)
    c1 = tcp_counters()
    r = parse_wrk(p.stdout + p.stderr)
    r["tcp"] = {k: c1[k] - c0[k] for k in c0}
    if r["rps"] != r["rps"] or r["p99_ms"] != r["p99_ms"]:
        raise BenchError("wrk %s: no Requests/sec or 99%% line:\n%s" % (url, r["text"]))
    return r


class SteadyLoad:
    """wrk -t1 -c4 through the LB until finish() (SIGINT: it prints its totals)."""

    def __init__(self, url):
        self.proc = subprocess.Popen(NICE + ["wrk", "-t1", "-c4", "-d3600s", "--timeout", "10s",
                                             url],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        time.sleep(1.0)

    def finish(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return parse_wrk(out or "")


# --- volar --------------------------------------------------------------------------

def parse_time(s):
    """RFC 3339 UTC with nanoseconds (wire::format_time) -> unix seconds; None if unset."""
    if not s:
        return None
    secs = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = s[19:].rstrip("Z")
    ns = int((frac[1:] + "000000000")[:9]) if frac.startswith(".") else 0
    return secs + ns / 1e9


def lb_show(d):
    r = d.volar("lb", "show", LB, "--json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def serving(lb, deployment, n):
    """The LB serves `deployment` from n servers, each UP in HAProxy, none draining."""
    if lb is None or lb.get("deployment") != deployment:
        return False
    servers = lb.get("servers") or []
    return (len(servers) == n and all(s.get("state") == "UP" for s in servers)
            and not lb.get("draining"))


def wait_serving(d, deployment, n, timeout, what):
    t0 = time.monotonic()
    lb = None
    while time.monotonic() - t0 < timeout:
        lb = lb_show(d)
        if serving(lb, deployment, n):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise BenchError("%s: `lb show %s` did not list %d servers of %s, each \"state\" \"UP\", "
                     "none draining, within %d s; last answer:\n%s"
                     % (what, LB, n, deployment, timeout, json.dumps(lb, indent=1)))


def vm_names(d, deployment):
    return {v["name"] for v in d.vms(deployment)}


def haproxy_workers(data):
    """Pids of the HAProxy master's children (its workers): a new one = a reload."""
    try:
        with open(os.path.join(data, "haproxy", "haproxy.pid")) as f:
            master = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return set()
    out = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2:].split()[1]) == master:
            out.add(int(name))
    return out


def haproxy_stat(data):
    """HAProxy's own `show stat` through its stats socket (read-only):
    {server: req_tot} of the LB's backend; None if it cannot be reached."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(os.path.join(data, "haproxy", "haproxy.sock"))
            s.sendall(b"show stat\n")
            chunks = []
            while True:
                c = s.recv(1 << 16)
                if not c:
                    break
                chunks.append(c)
    except OSError:
        return None
    lines = b"".join(chunks).decode(errors="replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return None
    head = lines[0][2:].split(",")
    px, sv, req = head.index("pxname"), head.index("svname"), head.index("req_tot")
    out = {}
    for line in lines[1:]:
        f = line.split(",")
        if len(f) > req and f[px] == "lb_%s_servers" % LB and f[sv] not in ("BACKEND", "FRONTEND"):
            out[f[sv]] = int(f[req] or 0)
    return out


class StatWatch(threading.Thread):
    """Polls haproxy_stat every 5 ms for a server not in `before`: when it is first
    listed (added through the runtime API) and first counts a request."""

    def __init__(self, data, before):
        super().__init__(daemon=True)
        # What HAProxy lists now (a server still being deleted included) is old.
        self.data, self.before = data, set(before) | set(haproxy_stat(data) or {})
        self.added = self.first = None
        self.server = None
        self.stop = False
        self.start()

    def run(self):
        t0 = time.monotonic()
        while not self.stop and self.first is None and time.monotonic() - t0 < 120:
            st = haproxy_stat(self.data) or {}
            now = time.time()
            for name, req in st.items():
                if name in self.before:
                    continue
                self.server = name
                if self.added is None:
                    self.added = now
                if req > 0:
                    self.first = now
            time.sleep(0.005)


def find_server(lb, vm):
    for s in (lb or {}).get("servers") or []:
        if s.get("id") == vm:
            return s
    return None


# --- the measurements ---------------------------------------------------------------

def throughput(d, duration, say):
    """[(direct, lb)] for two rounds, alternating."""
    vms = sorted(d.vms(BLUE), key=lambda v: v["name"])
    ip = vms[0]["ip"]
    say("throughput: direct = %s (http://%s/), LB = http://%s/" % (vms[0]["name"], ip, LB_IP))
    rounds = []
    for i in range(2):
        direct = wrk("http://%s/" % ip, duration)
        lb = wrk("http://%s/" % LB_IP, duration)
        for what, r in (("direct", direct), ("LB", lb)):
            say("  round %d %-6s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors; host-wide "
                "ListenOverflows +%d, TCPSynRetrans +%d"
                % (i + 1, what, r["rps"], r["p50_ms"], r["p99_ms"], r["errors"],
                   r["tcp"]["ListenOverflows"], r["tcp"]["TCPSynRetrans"]))
        rounds.append((direct, lb))
    return rounds


def ready_to_first(d, data, reps, tmp, say):
    """Scale 4 -> 5 -> 4 `reps` times under a steady load through the LB."""
    load = SteadyLoad("http://%s/" % LB_IP)
    prober = Prober(os.path.join(tmp, "probe-scale.log"))
    recs = []
    try:
        for rep in range(reps):
            before = vm_names(d, BLUE)
            workers = haproxy_workers(data)
            watch = StatWatch(data, before)
            t_cmd = time.time()
            d.volar("deployments", "scale", BLUE, "--replicas", "5")
            new, ready_at, seen = None, None, None
            t0 = time.monotonic()
            while seen is None:
                if time.monotonic() - t0 > 60:
                    raise BenchError("scale to 5: no new VM ready within 60 s")
                for v in d.vms(BLUE):
                    if v["name"] not in before and v.get("status") == "ready":
                        new, seen, ready_at = v["name"], time.time(), parse_time(v.get("ready_at"))
                if seen is None:
                    time.sleep(POLL)
            first_state, counted, lb = None, None, None
            while counted is None:
                if time.monotonic() - t0 > 60:
                    raise BenchError("%s ready, but `lb show %s` counted no request for it "
                                     "within 60 s; last answer:\n%s"
                                     % (new, LB, json.dumps(lb, indent=1)))
                lb = lb_show(d)
                s = find_server(lb, new)
                if s is not None and "state" in s and first_state is None:
                    first_state = (time.time(), s["state"])
                if s is not None and s.get("requests", 0) > 0:
                    counted = time.time()
                else:
                    time.sleep(POLL)
            watch.stop = watch.first is None
            watch.join(5)
            if watch.server not in (None, new):
                raise BenchError("HAProxy added server %s, the new VM is %s" % (watch.server, new))
            recs.append({"added": watch.added, "hfirst": watch.first,"vm": new, "cmd": t_cmd, "ready_at": ready_at, "seen": seen,
                         "state": first_state, "counted": counted,
                         "reloaded": bool(haproxy_workers(data) - workers)})
            d.volar("deployments", "scale", BLUE, "--replicas", "4")
            t1 = time.monotonic()
            while new in vm_names(d, BLUE):
                if time.monotonic() - t1 > 90:
                    raise BenchError("scale to 4: %s still listed after 90 s" % new)
                time.sleep(0.1)
            wait_serving(d, BLUE, 4, 60, "scale back to 4")
            time.sleep(0.5)
    finally:
        answers = prober.stop()
        steady = load.finish()
    ends = [r["cmd"] for r in recs[1:]] + [float("inf")]
    for r, end in zip(recs, ends):
        r["first"] = next((t for t, what in answers if r["cmd"] <= t < end and what == r["vm"]),
                          None)
    errors = sum(1 for _, what in answers if what.startswith("ERR:"))
    for i, r in enumerate(recs):
        base = r["ready_at"] if r["ready_at"] is not None else r["seen"]
        r["base"] = base
        ms = lambda t: "-" if t is None else "%.0f" % ((t - base) * 1000)  # noqa: E731
        say("  rep %d: %s ready_at %s; from it: poll saw ready %s ms, first response (client) "
            "%s ms, HAProxy added it %s ms, HAProxy's first request to it %s ms, lb show "
            "\"state\" first listed (%s) %s ms, requests > 0 %s ms; HAProxy %s"
            % (i + 1, r["vm"], "-" if r["ready_at"] is None else "set", ms(r["seen"]),
               ms(r["first"]), ms(r["added"]), ms(r["hfirst"]),
               r["state"][1] if r["state"] else "-",
               ms(r["state"][0] if r["state"] else None), ms(r["counted"]),
               "reloaded (new worker)" if r["reloaded"] else "not reloaded"))
    say("  steady load through the LB meanwhile: %d requests, %.0f req/s, %d errors; client loop: "
        "%d answers (%.0f/s), %d errors"
        % (steady["requests"], steady["rps"], steady["errors"], len(answers),
           len(answers) / max(1e-9, answers[-1][0] - answers[0][0]) if answers else 0, errors))
    return recs, steady, answers


def switches(d, data, reps, tmp, say):
    """`lb switch` to green and back `reps` times under the client loop."""
    prober = Prober(os.path.join(tmp, "probe-switch.log"))
    recs = []
    sizes = {BLUE: 4, GREEN: 2}
    try:
        for rep in range(reps):
            for to, frm in ((GREEN, BLUE), (BLUE, GREEN)):
                wait_serving(d, frm, sizes[frm], 60, "before the switch to %s" % to)
                time.sleep(0.5)
                workers = haproxy_workers(data)
                t0 = time.time()
                d.volar("lb", "switch", LB, "--to", to)
                t1 = time.time()
                settled = wait_serving(d, to, sizes[to], 60, "switch to %s" % to)
                recs.append({"to": to, "from": frm, "start": t0, "returned": t1,
                             "settled": t1 + settled,
                             "reloaded": bool(haproxy_workers(data) - workers)})
    finally:
        answers = prober.stop()
    ends = [r["start"] for r in recs[1:]] + [float("inf")]
    for i, (r, end) in enumerate(zip(recs, ends)):
        window = [(t, what) for t, what in answers if r["start"] <= t < end]
        r["first"] = next((t for t, what in window if what.startswith(r["to"] + "-")), None)
        old = [t for t, what in window if what.startswith(r["from"] + "-")]
        r["last_old"] = old[-1] if old else None
        r["errors"] = sum(1 for _, what in window if what.startswith("ERR:"))
        ms = lambda t: "-" if t is None else "%.1f" % ((t - r["start"]) * 1000)  # noqa: E731
        say("  switch %d -> %s: volar returned %s ms, first %s response %s ms, last %s response "
            "%s ms, lb show settled %s ms, %d errors; HAProxy %s" % (
                i + 1, r["to"], ms(r["returned"]), r["to"], ms(r["first"]), r["from"],
                ms(r["last_old"]), ms(r["settled"]), r["errors"],
                "reloaded (new worker)" if r["reloaded"] else "not reloaded"))
    rate = len(answers) / max(1e-9, answers[-1][0] - answers[0][0]) if answers else 0
    say("  client loop: %d answers (%.0f/s, one every %.1f ms), %d errors"
        % (len(answers), rate, 1000 / rate if rate else float("nan"),
           sum(1 for _, what in answers if what.startswith("ERR:"))))
    return recs, rate


# --- the run ------------------------------------------------------------------------

def lb_plugin():
    """http_health_plugin with "/" serving the VM's name (index.html)."""
    m = http_health_plugin("bench-lb", "bench/lb", "-f")
    cmd = m["workload"]["entrypoint"][2]
    m["workload"]["entrypoint"][2] = cmd.replace(
        " && exec busybox", " && echo \"$VOLANT_VM_NAME\" > \"$VOLANT_VM_DIR/www/index.html\""
        " && exec busybox", 1)
    m["description"] = "busybox httpd on <vm-ip>:80: / = the VM's name, /health (bench/lb)"
    return m


def own_haproxy(data):
    """Pids of HAProxy processes whose command line names data/haproxy."""
    out = []
    needle = (data.rstrip("/") + "/haproxy").encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle in cmd and b"haproxy" in cmd.split(b"\0")[0]:
            out.append(int(name))
    return out


def run(a, say):
    bindir = os.path.abspath(a.bin)
    for tool in ("wrk", "haproxy"):
        if shutil.which(tool) is None:
            raise SystemExit("bench/lb: no %s on PATH" % tool)
    if listeners(LB_IP, LB_PORT):
        raise SystemExit("bench/lb: something already listens on %s:%d" % (LB_IP, LB_PORT))
    say("host: %d CPUs, %s, load average %s at start" % (os.cpu_count(), uname_sr(), load_avg()))
    say("binaries: %s/volantd (mtime %s), volar (mtime %s)"
        % (bindir, stamp(os.path.join(bindir, "volantd")), stamp(os.path.join(bindir, "volar"))))
    data = tempfile.mkdtemp(prefix="volant-bench-lb-")
    tmp = tempfile.mkdtemp(prefix="volant-bench-lb-work-")
    d = Daemon(os.path.join(bindir, "volantd"), os.path.join(bindir, "volar"),
               data, os.path.join(tmp, "volantd.log"), POOL,
               ["--memory-mib", "100000", "--cpus", "1000", "--max-replicas", "1000",
                "--max-vms", "1000", "--log-level", "warn"], error=BenchError)
    ok = False
    try:
        install_plugin(d, lb_plugin(), os.path.join(data, "plugin.json"))
        d.volar("deployments", "create", BLUE, "--plugin", "bench-lb", "--replicas", "4",
                "--memory", "16", "--wait", "--timeout", "600")
        d.volar("lb", "create", LB, "--deployment", BLUE, "--port", str(LB_PORT),
                "--listen", LB_IP)
        up = wait_serving(d, BLUE, 4, 60, "lb create")
        say("lb create -> 4 servers UP in `lb show`: %.2f s" % up)
        t = time.monotonic()
        d.volar("lb", "show", LB, "--json")
        say("one `volar lb show --json` call: %.1f ms (the polls' own period floor)"
            % ((time.monotonic() - t) * 1000))
        result = {"throughput": throughput(d, a.duration, say)}
        say("ready -> first request (%d scale-ups 4 -> 5 under wrk -t1 -c4 through the LB):"
            % a.reps)
        result["ready"] = ready_to_first(d, data, a.reps, tmp, say)
        d.volar("deployments", "create", GREEN, "--plugin", "bench-lb", "--replicas", "2",
                "--memory", "16", "--wait", "--timeout", "600")
        say("lb switch (%d times to green and back, client loop through the LB):" % a.reps)
        result["switch"] = switches(d, data, a.reps, tmp, say)
        ok = True
        return result
    finally:
        d.volar("lb", "delete", LB, check=False)
        try:
            d.shut_down(lambda line: print(line, file=sys.stderr), timeout=60)
        finally:
            kill_workloads(data, groups=True)
            for pid in own_haproxy(data):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if not ok:
                keep = tmp + ".log"
                shutil.copy(d.logpath, keep)
                print("bench/lb: daemon log kept in %s" % keep, file=sys.stderr)
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(d.run_dir, ignore_errors=True)
            shutil.rmtree(tmp, ignore_errors=True)


def fmt_ms(values, digits=0):
    v = [x for x in values if x is not None]
    if not v:
        return "-", "-"
    f = "%%.%df ms" % digits
    return f % (statistics.median(v) * 1000), f % (max(v) * 1000)


def table(result, a, say):
    rounds = result["throughput"]
    say("")
    say("| run | direct to one VM | through the LB (4 VMs) | ratio LB / direct |")
    say("|---|---|---|---|")
    for i, (dr, lb) in enumerate(rounds):
        say("| round %d requests/s | %.0f | %.0f | %.2f |"
            % (i + 1, dr["rps"], lb["rps"], lb["rps"] / dr["rps"]))
        for p in ("p50", "p99"):
            say("| round %d %s | %.2f ms | %.2f ms | %.2f |"
                % (i + 1, p, dr[p + "_ms"], lb[p + "_ms"], lb[p + "_ms"] / dr[p + "_ms"]))
    med = lambda key, side: statistics.median(r[side][key] for r in rounds)  # noqa: E731
    say("| **median requests/s** | %.0f | %.0f | **%.2f** |"
        % (med("rps", 0), med("rps", 1), med("rps", 1) / med("rps", 0)))
    for p in ("p50", "p99"):
        say("| **median %s** | %.2f ms | %.2f ms | **%.2f** |"
            % (p, med(p + "_ms", 0), med(p + "_ms", 1), med(p + "_ms", 1) / med(p + "_ms", 0)))
    errs = sum(dr["errors"] + lb["errors"] for dr, lb in rounds)
    if errs:
        say("")
        say("wrk errors (socket errors + non-2xx) in the throughput runs: %d" % errs)

    recs, _, _ = result["ready"]
    sw, rate = result["switch"]
    say("")
    say("| measure | median | max | n | goal |")
    say("|---|---|---|---|---|")
    def row(what, vals, goal, digits=0):
        got = sum(v is not None for v in vals)
        n = str(got) if got == len(vals) else "%d of %d" % (got, len(vals))
        say("| %s | %s | %s | %s | %s |" % ((what,) + fmt_ms(vals, digits) + (n, goal)))
    base = "VM ready (`ready_at`)" if all(r["ready_at"] is not None for r in recs) \
        else "VM seen ready by the 10 ms poll"
    since = lambda key: [None if r[key] is None else r[key] - r["base"] for r in recs]  # noqa: E731
    row(base + " -> HAProxy lists it (its stats socket, polled every 5 ms)", since("added"),
        "")
    row(base + " -> HAProxy's first request to it (`req_tot` > 0, same poll)",
        since("hfirst"), "< 100 ms")
    row(base + " -> its first response through the LB (client loop)",
        [None if r["first"] is None else r["first"] - r["base"] for r in recs], "< 100 ms")
    row(base + " -> `lb show` requests > 0 (10 ms poll)",
        [r["counted"] - r["base"] for r in recs], "< 100 ms")
    for to in (GREEN, BLUE):
        rs = [r for r in sw if r["to"] == to]
        name = "to green" if to == GREEN else "back to bench"
        row("`lb switch` %s: volar started -> first response from it" % name,
            [None if r["first"] is None else r["first"] - r["start"] for r in rs], "< 50 ms", 1)
        row("`lb switch` %s: volar returned -> first response from it" % name,
            [None if r["first"] is None else r["first"] - r["returned"] for r in rs],
            "< 50 ms", 1)
        row("`lb switch` %s: volar started -> last response from the old one" % name,
            [None if r["last_old"] is None else r["last_old"] - r["start"] for r in rs], "", 1)
        row("`lb switch` %s: volar started -> volar returned" % name,
            [r["returned"] - r["start"] for r in rs], "", 1)
    say("")
    reloads = lambda rs: "%d of %d" % (sum(r["reloaded"] for r in rs), len(rs))  # noqa: E731
    say("HAProxy reloaded (a new worker) on %s scale-ups and %s switches."
        % (reloads(recs), reloads(sw)))
    say("Client loop during the switches: one answer every %.1f ms (the switch figures' "
        "resolution); errors: %d. A negative \"returned -> first response\" means the new "
        "deployment answered before volar had returned." % (
            1000 / rate if rate else float("nan"), sum(r["errors"] for r in sw)))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--probe":
        probe_main(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="/tmp/lbbench-bin", help="directory of volantd and volar")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--results", default="")
    ap.add_argument("--command", default=" ".join(sys.argv))
    a = ap.parse_args()
    say = Say()
    arm_watchdog("bench/lb", 1800)
    result = run(a, say)
    disarm_watchdog()
    table(result, a, say)
    if a.results:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        git = lambda *args: subprocess.run(["git"] + list(args), capture_output=True,  # noqa: E731
                                           text=True).stdout.strip()
        commit = git("rev-parse", "--short", "HEAD") or "?"
        if git("status", "--porcelain", "--untracked-files=no", "--", "src", "schemas"):
            commit += ", binaries built from the working tree with uncommitted changes"
        section = ["## bench/lb", "",
                   "Latest run: %s (commit %s)." % (when, commit), "",
                   "Command: `%s`" % a.command, "",
                   "The load balancer (issue 13) against baselines from the same run: one "
                   "volantd (process driver, pool 127.88.0.0/16, loopback only), deployment "
                   "`bench` of 4 busybox httpd replicas (HTTP check on /health, interval 1 s; "
                   "\"/\" serves the VM's name) behind `lb create bench-lb --port 80 --listen "
                   "127.89.0.1` (volantd's HAProxy, servers joined through its runtime API). "
                   "Throughput: `wrk -t2 -c16 -d%ds --latency` (nice 5) straight to one VM, "
                   "then through the LB, twice, alternating; ratio LB / direct. Ready -> first "
                   "request: %d scale-ups 4 -> 5 under `wrk -t1 -c4` through the LB; from the "
                   "new VM's `ready_at` (daemon's clock) to HAProxy listing it and counting "
                   "its first request (`show stat` on HAProxy's stats socket, read-only, "
                   "polled every 5 ms), to its first answer seen by a client loop through the "
                   "LB (http.client, keep-alive off, one process; every answer names its VM; "
                   "it shares the round robin with wrk, so it meets the new VM only every "
                   "~5th request) and to `lb show --json` counting a request for it (polled "
                   "every 10 ms). Switch: a `green` deployment (2 replicas), `lb "
                   "switch bench-lb --to green` then `--to bench`, %d times each, timed by the "
                   "same client loop from volar's start and from its return. wrk's "
                   "percentiles carry its coordinated-omission correction (`stats_correct`: "
                   "one 1 s stall adds samples from 1 s down), and wrk's latency leaves out "
                   "the reconnects of a direct run (busybox httpd closes every connection) "
                   "while through the LB HAProxy's connect to a server is inside it; the "
                   "host-wide ListenOverflows / TCPSynRetrans counters are given per run. "
                   "A reload (`HAProxy reloaded`) is a new worker under the master. Not a "
                   "test: goals named beside the figures." % (a.duration, a.reps, a.reps),
                   ""] \
            + say.lines + [""]
        replace_section(a.results, "## bench/lb", section)


if __name__ == "__main__":
    main()
