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
     daemon's clock); from the scale command a thread calls `lb show bench-lb
     --json` 10 ms after each return, until the new server counts requests > 0
     (when it is first listed with a state, when it counts); meanwhile a thread
     reads HAProxy's own `show stat` (its stats socket, read-only) every 5 ms:
     when the server is added, when it counts its first request. A client loop
     (http.client, keep-alive off, its own process) through the LB records which VM
     answered each request, so the first response from the new VM is known to the
     client's resolution too;
  3. `lb switch`: a second deployment `green` (2 replicas); with the client loop
     running, `lb switch bench-lb --to green`, then back `--to bench`, N times
     each: from the start of volar (and from its return) to the first response
     from the new deployment, and to the last response from the old one; and
     (the same `lb show` thread) to `lb show` listing the new deployment's
     servers with nothing draining, and each of them "UP";
  4. DNS (volantd answers volant.local; here --dns-listen 127.89.0.53:5353):
     with no load, scale 4 -> 5 -> 4, N times, while two pollers ask for
     `bench.volant.local A` (a UDP query from Python every 10 ms; `dig +short`, 10 ms
     after the previous dig exited): from the new VM's `ready_at` to its address in
     the answer, and from `scale --replicas 4` returning to the answer without the
     VM's address. Then queries/s: a Python load loop (its own process, UDP, 5 s,
     1 socket x 1 query in flight, then 4 sockets x 16), with volantd's CPU; no
     baseline (there is no other DNS server on the host).

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
import selectors
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
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
DNS_IP = "127.89.0.53"  # --dns-listen: loopback, outside the pool
DNS_PORT = 5353
DNS_NAME = BLUE + ".volant.local"


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
        if len(f) > req and f[px] in ("lb_%s_a" % LB, "lb_%s_b" % LB) and f[sv] not in ("BACKEND", "FRONTEND"):
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


class LbShowWatch(threading.Thread):
    """`lb show LB --json` in a loop, 10 ms after the previous call returned (a call
    is a volar process, ~30-40 ms here), from its start; keeps (returned at, answer)."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d, self.answers, self.stop = d, [], False
        self.start()

    def run(self):
        while not self.stop:
            lb = lb_show(self.d)
            self.answers.append((time.time(), lb))
            time.sleep(POLL)

    def first(self, pred, since=0.0):
        return next((t for t, lb in self.answers if t >= since and pred(lb)), None)

    def wait(self, pred, timeout, what):
        t0 = time.monotonic()
        while not (self.answers and pred(self.answers[-1][1])):
            if time.monotonic() - t0 > timeout:
                raise BenchError("%s within %d s; last `lb show %s`:\n%s" % (
                    what, timeout, LB, json.dumps(self.answers[-1][1] if self.answers else None,
                                                  indent=1)))
            time.sleep(POLL)

    def finish(self):
        self.stop = True
        self.join(10)


def listing(deployment, n):
    """Predicate: `lb show` serves `deployment` from n servers, each in an UP state
    (HAProxy's "UP", or "UP 1/2": added, its first health check not passed yet), and
    nothing draining."""
    def pred(lb):
        servers = (lb or {}).get("servers") or []
        return (lb is not None and lb.get("deployment") == deployment and len(servers) == n
                and all(str(s.get("state", "")).startswith("UP") for s in servers)
                and not lb.get("draining"))
    return pred


# --- DNS (volantd's responder for volant.local) -------------------------------------

def dns_query(qid, name=DNS_NAME, qtype=1):
    """A query packet: one question, class IN, RD clear (volantd is authoritative)."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def dns_skip_name(pkt, i):
    while True:
        n = pkt[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def dns_answer(pkt):
    """(id, rcode, [the A records' addresses]) of a response."""
    qid, flags, qd, an = struct.unpack("!HHHH", pkt[:8])
    i = 12
    for _ in range(qd):
        i = dns_skip_name(pkt, i) + 4
    ips = []
    for _ in range(an):
        i = dns_skip_name(pkt, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", pkt[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            ips.append(socket.inet_ntoa(pkt[i:i + 4]))
        i += rdlen
    return qid, flags & 0xF, ips


def udp_listeners(ip, port):
    """Whether a UDP socket is bound to ip:port (from /proc/net/udp)."""
    want = "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(ip))[0], port)
    with open("/proc/net/udp") as f:
        return any(line.split()[1] == want for line in list(f)[1:])


class DnsWatch(threading.Thread):
    """Asks volantd's DNS for bench.volant.local A every 10 ms, one of two ways, and
    keeps every answer: (sent, answered, frozenset of addresses, or None on a timeout
    or an error). "py": one UDP socket of this process (the query's own time is well
    under 1 ms); "dig": `dig @DNS_IP -p DNS_PORT +short +time=1 +tries=1 NAME`, a new
    process per query, started 10 ms after the previous one exited (answered = its exit)."""

    def __init__(self, how):
        super().__init__(daemon=True)
        self.how, self.answers, self.stop = how, [], False
        self.start()

    def ask_py(self, sock, qid):
        sock.send(dns_query(qid))
        while True:
            got_id, rcode, ips = dns_answer(sock.recv(4096))
            if got_id == qid:
                return frozenset(ips) if rcode == 0 else None

    def ask_dig(self):
        r = subprocess.run(["dig", "@" + DNS_IP, "-p", str(DNS_PORT), "+short", "+time=1",
                            "+tries=1", DNS_NAME], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=5)
        lines = r.stdout.split()
        if r.returncode != 0 or any(";" in l for l in lines):
            return None
        return frozenset(lines)

    def run(self):
        qid = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            sock.connect((DNS_IP, DNS_PORT))
            while not self.stop:
                qid = (qid + 1) & 0xFFFF
                t0 = time.time()
                try:
                    got = self.ask_py(sock, qid) if self.how == "py" else self.ask_dig()
                except (OSError, subprocess.TimeoutExpired, struct.error, IndexError):
                    got = None
                self.answers.append((t0, time.time(), got))
                time.sleep(POLL)

    def latest(self):
        return self.answers[-1][2] if self.answers else None


def dnsload_main(host, port, seconds, nsock, window):
    """The load loop (its own process: lb_bench.py --dnsload HOST PORT SECONDS SOCKETS
    WINDOW): SOCKETS connected UDP sockets, each keeping WINDOW queries for DNS_NAME A
    in flight (an answer sends the next; one unanswered after 0.5 s is counted lost and
    replaced); prints JSON: answers, NOERROR answers with records, lost, latencies."""
    sel = selectors.DefaultSelector()
    socks, inflight, nextid = [], [], []
    pkt = bytearray(dns_query(0))
    for i in range(nsock):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.connect((host, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
        inflight.append({})
        nextid.append(0)
    counts = {"sent": 0, "answers": 0, "good": 0, "lost": 0, "late": 0}
    lat = []

    def send(i, now):
        qid = nextid[i]
        nextid[i] = (qid + 1) & 0xFFFF
        struct.pack_into("!H", pkt, 0, qid)
        try:
            socks[i].send(pkt)
        except OSError:
            pass  # counted lost by the sweep
        inflight[i][qid] = now
        counts["sent"] += 1

    cpu0 = time.process_time()
    start = time.perf_counter()
    end = start + seconds
    for i in range(nsock):
        for _ in range(window):
            send(i, start)
    sweep = start + 0.1
    now = start
    while now < end:
        for key, _ in sel.select(0.05):
            i, s = key.data, key.fileobj
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                now = time.perf_counter()
                t = inflight[i].pop((data[0] << 8) | data[1], None)
                if t is None:
                    counts["late"] += 1
                    continue
                if now >= end:
                    continue
                counts["answers"] += 1
                if data[3] & 0xF == 0 and (data[6] << 8 | data[7]) > 0:
                    counts["good"] += 1
                lat.append(now - t)
                send(i, now)
        now = time.perf_counter()
        if now >= sweep:
            sweep = now + 0.1
            for i in range(nsock):
                for qid in [q for q, t in inflight[i].items() if now - t > 0.5]:
                    del inflight[i][qid]
                    counts["lost"] += 1
                    if now < end:
                        send(i, now)
    elapsed = time.perf_counter() - start
    lat.sort()
    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else float("nan")
    counts.update({"seconds": elapsed, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                   "cpu": (time.process_time() - cpu0) / elapsed})
    print(json.dumps(counts))


def plural(n, one, many=None):
    return "%d %s" % (n, one if n == 1 else (many or one + "s"))


def proc_cpu_seconds(pid):
    """utime + stime of a process (its threads included), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
            shows = LbShowWatch(d)
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
            try:
                def counts(lb):
                    return (find_server(lb, new) or {}).get("requests", 0) > 0
                shows.wait(counts, 60, "%s ready, but `lb show` counted no request for it" % new)
            finally:
                shows.finish()
            listed = next(((t, find_server(lb, new)["state"]) for t, lb in shows.answers
                           if "state" in (find_server(lb, new) or {})), None)
            first_state, counted = listed, shows.first(counts)
            watch.stop = watch.first is None
            watch.join(5)
            if watch.server not in (None, new):
                raise BenchError("HAProxy added server %s, the new VM is %s" % (watch.server, new))
            recs.append({"added": watch.added, "hfirst": watch.first, "vm": new, "cmd": t_cmd,
                         "ready_at": ready_at, "seen": seen,
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
                shows = LbShowWatch(d)
                try:
                    t0 = time.time()
                    d.volar("lb", "switch", LB, "--to", to)
                    t1 = time.time()
                    up = lambda lb: serving(lb, to, sizes[to])  # noqa: E731
                    shows.wait(up, 60, "switch to %s: `lb show` did not list %d servers of "
                               "%s, each \"state\" \"UP\", none draining" % (to, sizes[to], to))
                finally:
                    shows.finish()
                recs.append({"to": to, "from": frm, "start": t0, "returned": t1,
                             "shown": shows.first(lambda lb: (lb or {}).get("deployment") == to,
                                                  t0),
                             "listed": shows.first(listing(to, sizes[to]), t0),
                             "settled": shows.first(up, t0),
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
            "%s ms; lb show: names %s %s ms, its servers UP or UP 1/2 with nothing draining %s "
            "ms, each UP %s ms; %d errors; HAProxy %s" % (
                i + 1, r["to"], ms(r["returned"]), r["to"], ms(r["first"]), r["from"],
                ms(r["last_old"]), r["to"], ms(r["shown"]), ms(r["listed"]), ms(r["settled"]),
                r["errors"],
                "reloaded (new worker)" if r["reloaded"] else "not reloaded"))
    rate = len(answers) / max(1e-9, answers[-1][0] - answers[0][0]) if answers else 0
    say("  client loop: %d answers (%.0f/s, one every %.1f ms), %d errors"
        % (len(answers), rate, 1000 / rate if rate else float("nan"),
           sum(1 for _, what in answers if what.startswith("ERR:"))))
    return recs, rate


def ready_ips(d):
    return {v["ip"] for v in d.vms(BLUE) if v.get("status") == "ready"}


def wait_watch(watches, pred, timeout, what):
    """Until every watch's latest answer satisfies pred."""
    t0 = time.monotonic()
    while not all(pred(w.latest()) for w in watches):
        if time.monotonic() - t0 > timeout:
            raise BenchError("DNS: %s within %d s; latest answers: %s" % (
                what, timeout,
                "; ".join("%s %s" % (w.how, sorted(w.latest() or [])) for w in watches)))
        time.sleep(POLL)


def dns_follow(d, reps, say):
    """Scale 4 -> 5 -> 4 `reps` times with no load; two DnsWatch (py, dig) record
    every answer for bench.volant.local meanwhile."""
    watches = [DnsWatch("py"), DnsWatch("dig")]
    recs = []
    try:
        want = ready_ips(d)
        wait_watch(watches, lambda a: a == want, 10,
                   "the answer is not the 4 ready VMs' addresses %s" % sorted(want))
        for rep in range(reps):
            before = vm_names(d, BLUE)
            t_up = time.time()
            d.volar("deployments", "scale", BLUE, "--replicas", "5")
            new = None
            t0 = time.monotonic()
            while new is None:
                if time.monotonic() - t0 > 60:
                    raise BenchError("DNS: scale to 5: no new VM ready within 60 s")
                for v in d.vms(BLUE):
                    if v["name"] not in before and v.get("status") == "ready":
                        new = v
                if new is None:
                    time.sleep(2 * POLL)
            ip = new["ip"]
            wait_watch(watches, lambda a: a is not None and ip in a, 30,
                       "%s (%s) ready but not in the answer" % (new["name"], ip))
            time.sleep(0.5)
            t_down = time.time()
            d.volar("deployments", "scale", BLUE, "--replicas", "4")
            t_ret = time.time()
            wait_watch(watches, lambda a: a is not None and ip not in a, 30,
                       "scaled to 4, %s (%s) still in the answer" % (new["name"], ip))
            recs.append({"vm": new["name"], "ip": ip, "up": t_up,
                         "ready_at": parse_time(new.get("ready_at")), "down": t_down,
                         "returned": t_ret})
            t1 = time.monotonic()
            while new["name"] in vm_names(d, BLUE):
                if time.monotonic() - t1 > 90:
                    raise BenchError("DNS: scale to 4: %s still listed after 90 s" % new["name"])
                time.sleep(0.1)
            wait_serving(d, BLUE, 4, 60, "DNS: scale back to 4")
            time.sleep(0.5)
    finally:
        for w in watches:
            w.stop = True
        for w in watches:
            w.join(10)
    ends = [r["up"] for r in recs[1:]] + [float("inf")]
    for r, end in zip(recs, ends):
        for w in watches:
            a = [(t0, t1, got) for t0, t1, got in w.answers if t0 < end]
            # Join: the first answer to a query sent after the scale command that lists
            # the VM's address. Leave: the first answer to a query sent after the
            # scale-down command without it; "flaps": answers listing it again after
            # (before the next scale-up, which brings the address back).
            join = next((t1 for t0, t1, got in a if t0 >= r["up"] and got and r["ip"] in got),
                        None)
            after = [(t0, t1, got) for t0, t1, got in a if t0 >= r["down"] and got is not None]
            i = next((k for k, (_, _, got) in enumerate(after) if r["ip"] not in got), None)
            left = None if i is None else after[i][1]
            flaps = 0 if i is None else sum(1 for _, _, got in after[i:] if r["ip"] in got)
            r[w.how] = {"join": join, "left": left, "flaps": flaps}
    stats = {}
    for w in watches:
        took = [t1 - t0 for t0, t1, got in w.answers]
        stats[w.how] = {"n": len(w.answers), "errors": sum(got is None for _, _, got in w.answers),
                        "median": statistics.median(took) if took else float("nan"),
                        "max": max(took) if took else float("nan")}
    def ms(t, base):
        return "-" if t is None or base is None else fmt_num((t - base) * 1000)
    for i, r in enumerate(recs):
        say("  rep %d: %s (%s); ready_at -> in the answer: py %s ms, dig %s ms; scale 5 -> 4 "
            "returned after %.0f ms, then out of the answer: py %s ms, dig %s ms; listed again "
            "after: py %d, dig %d" % (
                i + 1, r["vm"], r["ip"], ms(r["py"]["join"], r["ready_at"]),
                ms(r["dig"]["join"], r["ready_at"]), (r["returned"] - r["down"]) * 1000,
                ms(r["py"]["left"], r["returned"]), ms(r["dig"]["left"], r["returned"]),
                r["py"]["flaps"], r["dig"]["flaps"]))
    for how in ("py", "dig"):
        st = stats[how]
        say("  %s poll: %d queries, %d without an answer, each query took median %.1f ms, max "
            "%.1f ms" % (how, st["n"], st["errors"], st["median"] * 1000, st["max"] * 1000))
    return recs, stats


def dns_rate(d, seconds, say):
    """Queries/s of volantd's DNS for bench.volant.local A: the load loop (its own
    process) once with 1 socket x 1 query in flight, once with 4 sockets x 16."""
    out = []
    for nsock, window in ((1, 1), (4, 16)):
        cpu0, t0 = proc_cpu_seconds(d.pid), time.monotonic()
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--dnsload", DNS_IP,
                            str(DNS_PORT), str(seconds), str(nsock), str(window)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=seconds + 30)
        cpu1, t1 = proc_cpu_seconds(d.pid), time.monotonic()
        if p.returncode != 0:
            raise BenchError("DNS load loop: exit %d: %s" % (p.returncode, p.stderr.strip()))
        r = json.loads(p.stdout)
        r.update({"sockets": nsock, "window": window, "qps": r["answers"] / r["seconds"],
                  "volantd_cpu": (cpu1 - cpu0) / (t1 - t0)})
        say("  %s x %s in flight, %.0f s: %d answers (%.0f/s), %d NOERROR with "
            "records, %d lost, %d late; latency p50 %.3f ms, p99 %.3f ms; CPU: load loop %.0f%%, "
            "volantd %.0f%% (of one core)" % (
                plural(nsock, "socket"), plural(window, "query", "queries"), r["seconds"],
                r["answers"], r["qps"], r["good"], r["lost"],
                r["late"], r["p50_ms"], r["p99_ms"], r["cpu"] * 100, r["volantd_cpu"] * 100))
        out.append(r)
    return out


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
    if udp_listeners(DNS_IP, DNS_PORT):
        raise SystemExit("bench/lb: something already listens on %s:%d/udp" % (DNS_IP, DNS_PORT))
    say("host: %d CPUs, %s, load average %s at start" % (os.cpu_count(), uname_sr(), load_avg()))
    say("binaries: %s/volantd (mtime %s), volar (mtime %s)"
        % (bindir, stamp(os.path.join(bindir, "volantd")), stamp(os.path.join(bindir, "volar"))))
    data = tempfile.mkdtemp(prefix="volant-bench-lb-")
    tmp = tempfile.mkdtemp(prefix="volant-bench-lb-work-")
    d = Daemon(os.path.join(bindir, "volantd"), os.path.join(bindir, "volar"),
               data, os.path.join(tmp, "volantd.log"), POOL,
               ["--memory-mib", "100000", "--cpus", "1000", "--max-replicas", "1000",
                "--max-vms", "1000", "--log-level", "warn",
                "--dns-listen", "%s:%d" % (DNS_IP, DNS_PORT)], error=BenchError)
    ok = False
    try:
        install_plugin(d, lb_plugin(), os.path.join(data, "plugin.json"))
        d.volar("deployments", "create", BLUE, "--plugin", "bench-lb", "--replicas", "4",
                "--memory", "16", "--wait", "--timeout", "600")
        d.volar("lb", "create", LB, "--deployment", BLUE, "--port", str(LB_PORT),
                "--listen", LB_IP)
        up = wait_serving(d, BLUE, 4, 60, "lb create")
        workers0 = haproxy_workers(data)
        say("lb create -> 4 servers UP in `lb show`: %.2f s" % up)
        t = time.monotonic()
        d.volar("lb", "show", LB, "--json")
        lb_show_ms = (time.monotonic() - t) * 1000
        say("one `volar lb show --json` call: %.1f ms (the polls' own period floor)" % lb_show_ms)
        result = {"throughput": throughput(d, a.duration, say),
                  "lb_show_ms": "%.0f ms" % lb_show_ms}
        phase = lambda text: say("%s [load average %s]" % (text, load_avg()))  # noqa: E731
        phase("ready -> first request (%d scale-ups 4 -> 5 under wrk -t1 -c4 through the LB):"
              % a.reps)
        result["ready"] = ready_to_first(d, data, a.reps, tmp, say)
        phase("DNS: %s A from volantd (--dns-listen %s:%d) while scaling 4 -> 5 -> 4, %d "
              "times, no load:" % (DNS_NAME, DNS_IP, DNS_PORT, a.reps))
        result["dns"] = dns_follow(d, a.reps, say)
        phase("DNS: queries/s for %s A (the load loop: one Python process, UDP):" % DNS_NAME)
        result["dns_rate"] = dns_rate(d, 5, say)
        d.volar("deployments", "create", GREEN, "--plugin", "bench-lb", "--replicas", "2",
                "--memory", "16", "--wait", "--timeout", "600")
        phase("lb switch (%d times to green and back, client loop through the LB):" % a.reps)
        took = []
        for _ in range(5):
            t = time.monotonic()
            subprocess.run([os.path.join(bindir, "volar"), "--help"], stdin=subprocess.DEVNULL,
                           capture_output=True)
            took.append(time.monotonic() - t)
        result["volar_ms"] = statistics.median(took) * 1000
        say("  a bare volar process (`volar --help`, no request): median %.1f ms of 5"
            % result["volar_ms"])
        result["switch"] = switches(d, data, a.reps, tmp, say)
        workers1 = haproxy_workers(data)
        result["workers"] = (workers0, workers1)
        say("HAProxy's workers (children of its master): %s after lb create, %s after the "
            "switches" % (sorted(workers0) or "none", sorted(workers1) or "none"))
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
    return fmt_num(statistics.median(v) * 1000, digits) + " ms", \
        fmt_num(max(v) * 1000, digits) + " ms"


def fmt_num(x, digits=0):
    """x with `digits` decimals, never "-0"."""
    x = round(x, digits)
    return "%.*f" % (digits, x if x != 0 else 0.0)


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
    row(base + " -> `lb show` lists it with a state (10 ms poll, from the scale command)",
        [None if r["state"] is None else r["state"][0] - r["base"] for r in recs], "")
    row(base + " -> `lb show` requests > 0 (same poll)",
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
        row("`lb switch` %s: volar started -> `lb show` lists its servers (\"UP\" or "
            "\"UP 1/2\"), nothing draining (10 ms poll)" % name,
            [None if r["listed"] is None else r["listed"] - r["start"] for r in rs], "", 1)
        row("`lb switch` %s: volar started -> `lb show` lists each \"UP\" (first check "
            "passed)" % name,
            [None if r["settled"] is None else r["settled"] - r["start"] for r in rs], "", 1)
    drecs, _ = result["dns"]
    for how, what in (("py", "a query from Python every 10 ms"),
                      ("dig", "`dig +short`, 10 ms after the previous one exited; at its exit")):
        row("DNS: VM ready (`ready_at`) -> its address in the answer (%s)" % what,
            [None if r[how]["join"] is None or r["ready_at"] is None
             else r[how]["join"] - r["ready_at"] for r in drecs], "")
    for how, what in (("py", "Python, every 10 ms"), ("dig", "`dig`, at its exit")):
        row("DNS: `scale --replicas 4` returned -> the VM's address out of the answer (%s)" % what,
            [None if r[how]["left"] is None else r[how]["left"] - r["returned"] for r in drecs],
            "")
    row("DNS: `scale --replicas 4` started -> the VM's address out of the answer (Python)",
        [None if r["py"]["left"] is None else r["py"]["left"] - r["down"] for r in drecs], "")
    say("")
    reloads = lambda rs: "%d of %d" % (sum(r["reloaded"] for r in rs), len(rs))  # noqa: E731
    say("HAProxy reloaded (a new worker) on %s scale-ups and %s switches."
        % (reloads(recs), reloads(sw)))
    say("Client loop during the switches: one answer every %.1f ms (the switch figures' "
        "resolution); errors: %d. A negative \"returned -> ...\" figure means the change "
        "came before volar had returned." % (
            1000 / rate if rate else float("nan"), sum(r["errors"] for r in sw)))
    say("")
    say("| DNS load loop (UDP, %s A) | answers/s | latency p50 | p99 | lost | CPU: load loop | "
        "CPU: volantd |" % DNS_NAME)
    say("|---|---|---|---|---|---|---|")
    for r in result["dns_rate"]:
        say("| %s x %s in flight, %.0f s | %.0f | %.3f ms | %.3f ms | %d | %.0f%% | %.0f%% |" % (
            plural(r["sockets"], "socket"), plural(r["window"], "query", "queries"),
            r["seconds"], r["qps"], r["p50_ms"], r["p99_ms"], r["lost"], r["cpu"] * 100,
            r["volantd_cpu"] * 100))


def verdict(vals, goal):
    """How a list of seconds (None: not measured) compares with a goal in seconds."""
    v = [x for x in vals if x is not None]
    if not v:
        return "not measured"
    med, top = statistics.median(v), max(v)
    if top < goal:
        return "meets the < %.0f ms goal" % (goal * 1000)
    if med < goal:
        return "meets the < %.0f ms goal at the median, not at the max" % (goal * 1000)
    return "misses the < %.0f ms goal" % (goal * 1000)


def mm(vals, digits=0):
    """"median X ms, max Y ms" of a list of seconds."""
    med, top = fmt_ms(vals, digits)
    return "median %s, max %s" % (med, top)


def reading(result):
    """The "Reading" paragraph: the run's figures in words (written by the script, so a
    re-run keeps it true)."""
    out = []
    rounds = result["throughput"]
    med = lambda key, side: statistics.median(r[side][key] for r in rounds)  # noqa: E731
    lb_overflows = sum(lb["tcp"]["ListenOverflows"] for _, lb in rounds)
    p99 = med("p99_ms", 1) / med("p99_ms", 0)
    out.append("Requests/s through the LB (4 VMs) are %.2fx one VM's straight; p50 is %.2fx "
               "(the extra hop)." % (med("rps", 1) / med("rps", 0),
                                     med("p50_ms", 1) / med("p50_ms", 0)))
    if p99 > 3 and lb_overflows:
        out.append("The p99 ratio (%.1fx) is not HAProxy's own cost. busybox httpd listens "
                   "with a backlog of 9, so under load the kernel drops SYNs (ListenOverflows "
                   "+%d in the LB runs) and the connect is sent again 1 s later. Straight to a "
                   "VM, wrk leaves the reconnect out of its latency. Through the LB, HAProxy's "
                   "connect to the server is part of the request, and wrk's coordinated-omission "
                   "correction spreads each 1 s stall over the percentiles." % (p99, lb_overflows))
    else:
        out.append("The p99 ratio is %.2fx." % p99)

    recs = result["ready"][0]
    since = lambda key: [None if r[key] is None else r[key] - r["base"] for r in recs]  # noqa: E731
    reloads = sum(r["reloaded"] for r in recs)
    out.append("Ready -> first request at HAProxy: the server is listed %s after `ready_at` "
               "and gets its first request %s, so it %s%s. The client loop sees the new VM "
               "later (%s) because it shares the round robin with wrk." % (
                   mm(since("added")), mm(since("hfirst")), verdict(since("hfirst"), 0.1),
                   "" if reloads == 0 else " (but HAProxy reloaded on %d of %d scale-ups)"
                   % (reloads, len(recs)), mm(since("first"))))
    counted = since("counted")
    listed = [None if r["state"] is None else r["state"][0] - r["base"] for r in recs]
    vc = [x for x in counted if x is not None]
    vl = [x for x in listed if x is not None]
    text = ("`lb show` lists the new server with a state %s after `ready_at`, and counts its "
            "first request %s: it %s." % (mm(listed), mm(counted), verdict(counted, 0.1)))
    if vc and vl and statistics.median(vl) < 0.3 and statistics.median(vc) >= 0.5:
        text += (" volantd reads HAProxy's stats right after a server change, so the server "
                 "shows at once; but that read comes before HAProxy's first request to it "
                 "(0 requests), and the count waits for the next read, at the supervisor's "
                 "1 s tick when nothing drains.")
    elif vc and statistics.median(vc) >= 0.5:
        text += " The stats are not read right after a server change."
    text += (" One `lb show` is one volar process (~%s here), so its 10 ms poll is coarser "
             "than 10 ms." % result["lb_show_ms"])
    out.append(text)

    sw, rate = result["switch"]
    parts = []
    for to, name in ((GREEN, "to green"), (BLUE, "back to bench")):
        rs = [r for r in sw if r["to"] == to]
        started = [None if r["first"] is None else r["first"] - r["start"] for r in rs]
        returned = [None if r["first"] is None else r["first"] - r["returned"] for r in rs]
        parts.append("%s: first response %s from volar's start (%s), %s after volar "
                     "returned (%s)" % (name, mm(started, 1), verdict(started, 0.05),
                                        mm(returned, 1), verdict(returned, 0.05)))
    sw_reloads = sum(r["reloaded"] for r in sw)
    took = [r["returned"] - r["start"] for r in sw]
    w0, w1 = result["workers"]
    clean = sum(1 for r in sw if r["first"] is not None and r["last_old"] is not None
                and r["last_old"] <= r["first"] + 1.0 / max(rate, 1e-9))
    lst = [None if r["listed"] is None else r["listed"] - r["start"] for r in sw]
    upd = [None if r["settled"] is None else r["settled"] - r["start"] for r in sw]
    took_med = statistics.median(took) if took else float("nan")
    text = "`lb switch` %s. volar takes %s from start to return, of which a bare volar " \
           "process (`volar --help`, no request) is %.0f ms here: the rest, ~%.0f ms at the " \
           "median, is the request itself (connect, volantd handling the switch, the " \
           "reply). `lb show` lists the new deployment's servers with nothing left " \
           "draining %s from volar's start, and each \"UP\" (not \"UP 1/2\") %s: a server " \
           "added through the runtime API counts as \"UP 1/2\" until its first health check " \
           "(interval 1 s) passes. " % (
               "; ".join(parts), mm(took, 1), result["volar_ms"],
               took_med * 1000 - result["volar_ms"], mm(lst), mm(upd))
    if sw_reloads == 0:
        text += ("HAProxy reloaded on 0 of %d switches: the servers change through the runtime "
                 "API only%s. " % (len(sw), ", and the master kept the same worker (%s) from "
                 "`lb create` to the end" % ", ".join(map(str, sorted(w1)))
                 if w0 == w1 and w1 else ""))
    else:
        text += ("HAProxy reloaded (a new worker) on %d of %d switches (volantd reloads for "
                 "a new frame, a lost reload or a dead HAProxy). " % (sw_reloads, len(sw)))
    text += ("The cut-over: in %d of %d switches the last answer from the old deployment "
             "came no later than one client-loop period (%.1f ms) after the first from the "
             "new one; %d errors in the client loop." % (
                 clean, len(sw), 1000 / rate if rate else float("nan"),
                 sum(r["errors"] for r in sw)))
    out.append(text)

    drecs, dstats = result["dns"]

    def j(how):
        return [None if r[how]["join"] is None or r["ready_at"] is None
                else r[how]["join"] - r["ready_at"] for r in drecs]

    def lv(how, since="returned"):
        return [None if r[how]["left"] is None else r[how]["left"] - r[since]
                for r in drecs]

    flaps = sum(r[how]["flaps"] for r in drecs for how in ("py", "dig"))
    quick = all(x is not None and x < 0.1 for x in j("py") + lv("py"))
    early = sum(1 for x in lv("py") if x is not None and x < 0)
    out.append("DNS follows scaling%s: a new VM's address is in volantd's answer %s after "
               "its `ready_at` (a query every 10 ms), and a VM scaled away is out of it %s "
               "from `scale --replicas 4` returning (%s%s from volar's start): it leaves as "
               "soon as it is terminating, while the LB still drains it%s. Through `dig` the "
               "same events are seen later (join %s; leave %s): a dig is a process taking "
               "%.0f ms (median) on this host, and one already running when the answer "
               "changes may miss it, so the dig poll sees a change up to about two digs plus "
               "10 ms (~%.0f ms) after it. These are volantd's answers; a resolver or client "
               "that caches them keeps the old set for up to the TTL, 5 s." % (
                   " at once" if quick else "", mm(j("py")), mm(lv("py")),
                   "" if not early else "%d of %d before volar had exited; " % (
                       early, len(drecs)), mm(lv("py", "down")),
                   "" if flaps == 0 else "; %d later answers listed it again" % flaps,
                   mm(j("dig")), mm(lv("dig")),
                   dstats["dig"]["median"] * 1000, dstats["dig"]["median"] * 2000 + 10))
    rate1, rateN = result["dns_rate"][0], result["dns_rate"][-1]
    out.append("DNS queries/s: %.0f answers/s with %s x %s in flight (p50 "
               "%.2f ms), %.0f/s one query at a time (p50 %.3f ms), %d lost. There is no "
               "other DNS server on this host to compare with, so the figure is absolute, and "
               "it is a floor: the load loop is one Python process (%.0f%% of a core) and "
               "volantd used %.0f%% of one, on 2 cores shared with whatever else runs (load "
               "average at the phase's start in the lines above)." % (
                   rateN["qps"], plural(rateN["sockets"], "socket"),
                   plural(rateN["window"], "query", "queries"), rateN["p50_ms"],
                   rate1["qps"], rate1["p50_ms"], rateN["lost"] + rate1["lost"],
                   rateN["cpu"] * 100, rateN["volantd_cpu"] * 100))
    return out


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--probe":
        probe_main(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    if len(sys.argv) == 7 and sys.argv[1] == "--dnsload":
        dnsload_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]),
                     int(sys.argv[6]))
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
    say("")
    text = " ".join(reading(result))
    say("\n".join(textwrap.wrap("**Reading.** " + text, 88, break_on_hyphens=False)))
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
                   "~5th request) and to `lb show --json` listing it and counting a request "
                   "for it (a thread from the scale command, a call 10 ms after the previous "
                   "returned; one call is a volar process). Switch: a `green` deployment (2 "
                   "replicas), `lb switch bench-lb --to green` then `--to bench`, %d times "
                   "each, timed by the same client loop from volar's start and from its "
                   "return, and by the same `lb show` thread. wrk's "
                   "percentiles carry its coordinated-omission correction (`stats_correct`: "
                   "one 1 s stall adds samples from 1 s down), and wrk's latency leaves out "
                   "the reconnects of a direct run (busybox httpd closes every connection) "
                   "while through the LB HAProxy's connect to a server is inside it; the "
                   "host-wide ListenOverflows / TCPSynRetrans counters are given per run. "
                   "A reload (`HAProxy reloaded`) is a new worker under the master. "
                   "DNS (volantd's own responder, `--dns-listen %s:%d`, loopback): with no "
                   "load, %d scale-ups 4 -> 5 and back, two pollers of `%s A` (a UDP query "
                   "from Python every 10 ms; `dig @%s -p %d +short +time=1 +tries=1`, 10 ms "
                   "after the previous dig exited, timed at its exit): from the new VM's "
                   "`ready_at` to its address in the answer, and from `volar deployments "
                   "scale --replicas 4` returning to the first answer without it. Every record "
                   "has a TTL of 5 s: volantd's answer changes at once (these figures), while "
                   "a resolver or client that caches it keeps the old set for up to 5 s more; "
                   "that is a separate matter, not measured. Queries/s: a Python load loop (one "
                   "process; connected UDP sockets, each keeping N queries in flight, the next "
                   "sent on each answer) for 5 s, 1 socket x 1 query, then 4 x 16; no baseline "
                   "(no other DNS server runs on the host), so the figure is absolute; the CPU "
                   "of the loop and of volantd (its /proc utime + stime, every thread) over the "
                   "run is given beside it. Not a test: goals named beside the figures." % (
                       a.duration, a.reps, a.reps, DNS_IP, DNS_PORT, a.reps, DNS_NAME, DNS_IP,
                       DNS_PORT),
                   ""] \
            + say.lines + [""]
        replace_section(a.results, "## bench/lb", section)


if __name__ == "__main__":
    main()
