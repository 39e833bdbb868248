#!/usr/bin/env python3
"""bench/cluster/hosts_bench.py: volantd's cluster mode (issue 16) with real
hosts, in one run (not a test): 0 -> N replicas across 3 hosts against one
host, and the time to reschedule after a host is lost.

Workload: a process plugin like tests/e2e's httpd_manifest (busybox httpd -f on
$VOLANT_IP:80 serving the VM's name, no health check), deployments of N
replicas (default 300) with --memory 32. Every volantd gets --dns-listen off
--max-vms 1000 --max-replicas 1000 --memory-mib 16384 --cpus 64
--cpu-overcommit 16 (room for all N on any one host), its own --data-dir and
--run-dir, and volantd's defaults otherwise (--lease-seconds 5, reconcile round).

1. Baseline: ONE volantd without --cluster (pool 127.95.8.0/23: a /24 holds
   only 254 VMs):
   `deployments create webK --plugin P --replicas N --memory 32`, then
   `vms list --json` every 250 ms until N VMs are listed with status "ready":
   the seconds from just before the create to that poll ("poll"), and to the
   last VM's ready_at on volantd's clock ("ready_at"). Repeated --repeats
   times (each a new deployment, the one before deleted).

2. Cluster: one etcd 3.4 member on loopback ports, 3 volantd hosts h1, h2, h3
   (--cluster http://127.0.0.1:PORT --host-name hI --cluster-prefix
   /volant-bench, the same --pool 127.95.0.0/22: a /24 each), all on this one
   machine. The same create with --multi-host, sent to h1 and polled on h1:
   seconds until N ready, the split per host, and the ratio to the baseline.

3. Reschedule after a host loss, in that cluster, once per repeat: the
   deployment of step 2 ready, a host that is NOT the leader (per `hosts list
   --json`) dies at T0: its volantd and its workloads (the processes with
   VOLANT_VM_DIR under its run directory, found before T0) SIGKILLed at once.
   Then, polling a surviving host (the leader) every 250 ms:
     * T0 -> host_lost: the "at" of the host_lost event for that host in the
       survivor's journal (`volant-replay events --json --data-dir DIR`),
       volantd's clock (the same machine's clock as T0);
     * T0 -> all N ready again with none on the lost host (poll, and the last
       ready_at of the replacements);
     * host_lost -> all ready: the reschedule itself.
   Goal (issue 16): < 10 s. The killed host is then started again on the same
   data dir (it rejoins) and must show "ready" in `hosts list` within 30 s, stay
   ready at every poll (0.25 s) over the next 3 s, and have no host_lost journaled
   after its host_joined (a regression check: before 2c70377 the leader judged a
   rejoining host by a stale list of live hosts and declared it lost again at
   once). If not: FAILED, and it is stopped (SIGTERM) and started again, at most 3
   starts, each reported, so that the run goes on. The run also checks that no VM
   runs twice (one process per VM name over every host's run directory) and that
   the rejoined host runs none of its old workloads. The deployment is deleted;
   the next repeat creates a new one (so each repeat measures step 2 again and
   loses a host holding N/3 replicas); the victim alternates between the two
   non-leaders.
   Last, once: the same with the LEADER host killed. A host takes over the
   lead when the old leader's lease expires, and by design journals lost hosts
   only after it has led 10 s: reported separately, with T0 -> new leader.
   Before each kill the run waits until the leader has led 12 s, so that a
   kill measures a steady cluster, not that grace.
   Also printed per loss, to read what happened: when the victim's key
   PREFIX/hosts/NAME left etcd (its lease expired), each survivor's and etcd's
   CPU per second from T0 (sampled every 0.25 s), what the survivors logged
   about the cluster, and each survivor's longest log silence (with the
   state and wait channel of its threads then, if over 4 s and its own lease
   expired meanwhile).

4. A new cluster (fresh etcd and hosts), --big replicas (default 400: 133 or
   134 per host, more than the 126 VMs whose removal, with host_lost and the
   head, would fit in one etcd transaction under etcd's default --max-txn-ops
   128; since 2c70377 the leader removes at most 100 VMs per append and
   repeats), one non-leader host killed as in 3, waiting at most 60 s; also
   printed: in how many appends its VMs were removed (vm_removed records of one
   append share their time).

After every `deployments delete` (steps 2-4), each host's log must hold no
"was rescheduled elsewhere while this host was away" line from the delete's
start to 2 s after its end (before 2c70377 every host logged it for each of its
own VMs deleted); such lines at other times are counted and shown only.

Only loopback addresses: the VM pools above, etcd and the daemons' endpoints
on 127.0.0.1. At the end every deployment is deleted, the daemons stopped,
leftover workloads killed and etcd stopped; the temp dir (logs) is kept only
after a failure.
"""

import base64
import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (HZ, REPO, Daemon, Say, arm_watchdog, copy_binaries,  # noqa: E402
                          disarm_watchdog, finish, install_plugin, kill_workloads, listeners,
                          load_avg, mono, parse_args, pick_binary, pids_with_env_prefix,
                          proc_dead, report_error, run_dir_for, say_failures, say_header, stamp,
                          stop_process, cpu_ticks, host_ticks)

PLUGIN = "bench-cluster-httpd"
FLAGS = ["--dns-listen", "off", "--max-vms", "1000", "--max-replicas", "1000",
         "--memory-mib", "16384", "--cpus", "64", "--cpu-overcommit", "16"]
PREFIX = "/volant-bench"
POLL = 0.25
LEAD_AGE = 12.0  # s a leader has led before a host is killed


class BenchError(RuntimeError):
    pass


# --- small helpers ------------------------------------------------------------------

def parse_at(value):
    """volantd's time ("2026-12-03T16:00:35.766155232Z") -> unix seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value / 1e9
    whole, _, frac = value.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


def commit_line(binary):
    """HEAD, and the files under src/ that differ from it: edited before `binary` was
    built (maybe in it) or after (not in it), by mtime."""
    def git(*args):
        return subprocess.run(["git", "--no-optional-locks", "-C", REPO] + list(args),
                              capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    dirty = [l[3:] for l in git("status", "--porcelain", "--", "src").splitlines() if l]
    built = os.path.getmtime(binary)
    before = [f for f in dirty if os.path.exists(os.path.join(REPO, f))
              and os.path.getmtime(os.path.join(REPO, f)) <= built]
    notes = []
    if before:
        notes.append("%d files under src/ differ from HEAD, edited before the build" % len(before))
    if len(dirty) > len(before):
        notes.append("%d edited after the build, not in it" % (len(dirty) - len(before)))
    return head + (" (%s)" % "; ".join(notes) if notes else "")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def fmt(v, digits=2):
    return "-" if v is None or v != v else ("%.*f" % (digits, v))


def per_run(values, digits=2):
    return " / ".join(fmt(v, digits) for v in values)


def httpd_manifest():
    return {"name": PLUGIN, "version": "1.0.0", "runtime": "process",
            "description": "busybox httpd on <vm-ip>:80 serving the VM's name, no health check "
                           "(bench/cluster)",
            "workload": {"entrypoint": [
                "/bin/sh", "-c",
                "mkdir -p \"$VOLANT_VM_DIR/www\" && echo \"$VOLANT_VM_NAME\" > "
                "\"$VOLANT_VM_DIR/www/index.html\" && exec busybox httpd -f -p \"$VOLANT_IP:80\" "
                "-h \"$VOLANT_VM_DIR/www\""]}}


def scan_workloads(run_dirs):
    """{vm name: [(host, pid)]} of the processes whose VOLANT_VM_DIR is under one of
    run_dirs ({host: run dir}), tops of process trees only."""
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        vm_dir = vm_name = None
        for e in env:
            if e.startswith(b"VOLANT_VM_DIR="):
                vm_dir = e[len(b"VOLANT_VM_DIR="):].decode(errors="replace")
            elif e.startswith(b"VOLANT_VM_NAME="):
                vm_name = e[len(b"VOLANT_VM_NAME="):].decode(errors="replace")
        if vm_dir is None or vm_name is None or proc_dead(pid):
            continue
        host = next((h for h, d in run_dirs.items() if vm_dir.startswith(d + "/")), None)
        if host is None:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        procs[pid] = (vm_name, host, ppid)
    out = {}
    for pid, (vm, host, ppid) in procs.items():
        if ppid in procs and procs[ppid][0] == vm:
            continue  # a child of the VM's own process
        out.setdefault(vm, []).append((host, pid))
    return out


# --- etcd ---------------------------------------------------------------------------

class Etcd:
    """One etcd member on 127.0.0.1 ports of its own, data and log in `dir`."""

    def __init__(self, dir, say):
        self.client, self.peer = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.client
        peer = "http://127.0.0.1:%d" % self.peer
        os.makedirs(dir, exist_ok=True)
        self.logpath = os.path.join(dir, "etcd.log")
        self.log = open(self.logpath, "ab")
        args = ["etcd", "--name", "m0", "--data-dir", os.path.join(dir, "m0"),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "m0=" + peer, "--initial-cluster-state", "new"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        t0 = mono()
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if b"true" in r.read():
                        break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise BenchError("etcd exited with %s; log %s" % (self.proc.returncode, self.logpath))
            if mono() - t0 > 30:
                raise BenchError("etcd not healthy within 30 s; log %s" % self.logpath)
            time.sleep(0.1)
        say("etcd:     %s (1 member, %s), healthy after %.1f s" % (
            self.url, subprocess.run(["etcd", "--version"], capture_output=True, text=True)
            .stdout.splitlines()[0], mono() - t0))

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.loads(r.read())

    def host_lease(self, name):
        """(lease id, seconds it has left) of host NAME's key PREFIX/hosts/NAME; None if
        the key is gone (its lease expired)."""
        key = base64.b64encode(("%s/hosts/%s" % (PREFIX, name)).encode()).decode()
        kvs = self.post("/v3/kv/range", {"key": key}).get("kvs", [])
        if not kvs:
            return None
        lease = kvs[0].get("lease", "0")
        ttl = self.post("/v3/lease/timetolive", {"ID": lease}).get("TTL")
        return lease, None if ttl is None else int(ttl)

    def stop(self):
        stop_process(self.proc, 10)
        self.log.close()


# --- hosts --------------------------------------------------------------------------

class Host:
    """One volantd of the cluster (a Daemon with --cluster ... --host-name NAME), that
    can be killed -9 and started again on the same data dir."""

    def __init__(self, name, bindir, tmp, pool, etcd_url):
        self.name = name
        self.bindir = bindir
        self.dir = os.path.join(tmp, name, "data")
        self.run_dir = run_dir_for(self.dir)
        self.logpath = os.path.join(tmp, name, "volantd.log")
        self.pool = pool
        self.extra = FLAGS + ["--cluster", etcd_url, "--host-name", name, "--cluster-prefix", PREFIX]
        self.d = None
        self.start()

    @classmethod
    def wrap(cls, name, daemon):
        """A Host for volar calls to a Daemon started otherwise (the baseline's)."""
        h = cls.__new__(cls)
        h.name, h.d, h.dir, h.run_dir = name, daemon, daemon.dir, daemon.run_dir
        h.logpath = daemon.logpath
        return h

    def start(self):
        try:
            os.unlink(os.path.join(self.dir, "endpoint"))  # a killed volantd's
        except FileNotFoundError:
            pass
        self.d = Daemon(os.path.join(self.bindir, "volantd"), os.path.join(self.bindir, "volar"),
                        self.dir, self.logpath, self.pool, self.extra, volar_timeout=60,
                        stop_wait=20, error=BenchError)

    def alive(self):
        return self.d is not None and self.d.alive()

    def kill9(self):
        os.kill(self.d.pid, signal.SIGKILL)
        self.d.proc.wait()
        self.d.log.close()

    def json(self, *args):
        """volar ARGS --json, or None if it failed."""
        try:
            r = self.d.volar(*(list(args) + ["--json"]), check=False)
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None


def leader_of(host):
    rows = host.json("hosts", "list") or []
    return next((r["name"] for r in rows if r.get("leader")), None), rows


def ready_split(vms):
    split = {}
    for v in vms:
        if v.get("status") == "ready":
            split[v.get("host", "local")] = split.get(v.get("host", "local"), 0) + 1
    return split


def wait_ready(host, dep, n, t_start, timeout, lost=None, on_poll=None):
    """Polls `vms list --json --deployment DEP` on host every POLL s until n are ready
    (and none is on host `lost`); returns (seconds from t_start (mono) at that poll, the
    VMs then)."""
    while True:
        vms = host.json("vms", "list", "--deployment", dep)
        now = mono()
        if on_poll is not None:
            on_poll(now, vms)
        if vms is not None:
            ready = [v for v in vms if v.get("status") == "ready" and v.get("pid", 0) > 0]
            if (len(ready) == n and len(vms) == n
                    and (lost is None or not any(v.get("host") == lost for v in vms))):
                return now - t_start, vms
        if now - t_start > timeout:
            raise BenchError("%s: not %d ready within %.0f s (via %s): %s" % (
                dep, n, timeout, host.name,
                "volar failed" if vms is None else "%d listed, ready per host %s" % (
                    len(vms), ready_split(vms))))
        time.sleep(max(0.0, now + POLL - mono()))


def last_ready_at(vms):
    ats = [parse_at(v.get("ready_at")) for v in vms]
    return None if not vms or None in ats else max(ats)


DELETES = []  # (unix time of a delete's start, of its end): the windows of check_deletes


def delete_and_wait(host, dep, timeout=120):
    t0, w0 = mono(), time.time()
    host.d.volar("deployments", "delete", dep, "--force")
    while mono() - t0 < timeout:
        vms = host.json("vms", "list")  # (--deployment of a deleted one is an error)
        if vms is not None and not any(v.get("deployment") == dep for v in vms):
            DELETES.append((w0, time.time()))
            return mono() - t0
        time.sleep(0.5)
    raise BenchError("%s: VMs still listed %.0f s after delete" % (dep, timeout))


def journal(replay, host):
    r = subprocess.run([replay, "events", "--json", "--data-dir", host.dir], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=120)
    if r.returncode != 0:
        raise BenchError("volant-replay events on %s: exit %d: %s" % (host.name, r.returncode,
                                                                       r.stderr.strip()))
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def daemon_log_summary(say, name, logpath):
    """The log's warning/error lines, grouped by their text with numbers as N: a count
    and the first line of each group."""
    with open(logpath, errors="replace") as f:
        log = f.read().splitlines()
    warn = [l for l in log if "[warning]" in l or "[error]" in l or "[critical]" in l]
    say("  %s: %d lines, %d warning/error lines%s" % (name, len(log), len(warn), ":" if warn else ""))
    groups = {}
    for l in warn:
        text = l[l.find("]") + 1:] if l.startswith("[") else l  # without the timestamp
        key = re.sub(r"[0-9a-f]{8,}|\d+", "N", text)
        if key not in groups:
            groups[key] = [0, l]
        groups[key][0] += 1
    for count, first in groups.values():
        say("    %3dx %s" % (count, first[:260]))


RESCHEDULED = "was rescheduled elsewhere while this host was away"


def check_deletes(say, failures, title, hosts):
    """Each host's "rescheduled elsewhere" log lines: those from a delete's start (of
    DELETES) to 2 s after its end are FAILED (a host's own deleted VMs taken for VMs
    the leader moved away), the others only counted."""
    for h in hosts:
        ts = [t for t, l in log_since(h.logpath, 0, float("inf")) if RESCHEDULED in l]
        during = [t for t in ts if any(a - 0.5 <= t <= b + 2.0 for a, b in DELETES)]
        say("  %s: \"rescheduled elsewhere\" lines: %d during the %d deletes, %d at other times" % (
            h.name, len(during), len(DELETES), len(ts) - len(during)))
        if during:
            failures.append("%s: %s logged %d \"%s\" lines during deletes" % (
                title, h.name, len(during), RESCHEDULED))
    del DELETES[:]


# --- the steps ----------------------------------------------------------------------

def baseline(bindir, tmp, pool, n, repeats, say, failures):
    sub = os.path.join(tmp, "single")
    os.makedirs(sub)
    say("")
    say("1. baseline, one volantd: --pool %s %s" % (pool, " ".join(FLAGS)))
    d = host = None
    out = []
    try:
        d = Daemon(os.path.join(bindir, "volantd"), os.path.join(bindir, "volar"),
                   os.path.join(sub, "data"), os.path.join(sub, "volantd.log"), pool, FLAGS,
                   volar_timeout=60, stop_wait=20, error=BenchError)
        host = Host.wrap("local", d)
        install_plugin(d, httpd_manifest(), os.path.join(sub, "plugin.json"))
        for i in range(repeats):
            dep = "web%d" % (i + 1)
            w0, m0 = time.time(), mono()
            d.volar("deployments", "create", dep, "--plugin", PLUGIN, "--replicas", str(n),
                    "--memory", "32")
            took, vms = wait_ready(host, dep, n, m0, 300)
            at = last_ready_at(vms) - w0
            lis = len(listeners(".".join(pool.split(".")[:2]) + "."))
            deleted = delete_and_wait(host, dep)
            say("  #%d %s: %d ready after %.2f s (poll), last ready_at +%.2f s; %d listening on :80; "
                "deleted in %.1f s" % (i + 1, dep, n, took, at, lis, deleted))
            if lis < n:
                failures.append("baseline #%d: only %d of %d VMs listening" % (i + 1, lis, n))
            out.append({"poll": took, "at": at})
    finally:
        if d is not None:
            d.shut_down(say, timeout=60, poll=0.5)
            left = kill_workloads(d.dir, groups=True)
            if left:
                failures.append("baseline: %d leftover workload processes killed" % len(left))
            daemon_log_summary(say, "volantd log", d.logpath)
        if host is not None:
            check_deletes(say, failures, "baseline", [host])
    return out


def create_cluster(hosts, dep, n, say, failures):
    h1 = hosts[0]
    w0, m0 = time.time(), mono()
    h1.d.volar("deployments", "create", dep, "--plugin", PLUGIN, "--replicas", str(n), "--memory",
               "32", "--multi-host")
    took, vms = wait_ready(h1, dep, n, m0, 300)
    at = last_ready_at(vms) - w0
    split = ready_split(vms)
    lis = len(listeners("127.95."))
    say("  create %s --multi-host via h1: %d ready after %.2f s (poll), last ready_at +%.2f s; "
        "per host %s; %d listening on :80" % (dep, n, took, at, " ".join(
            "%s=%d" % kv for kv in sorted(split.items())), lis))
    if lis < n:
        failures.append("%s: only %d of %d VMs listening" % (dep, lis, n))
    return {"poll": took, "at": at, "split": split}


def wait_hosts_ready(via, names, timeout):
    t0 = mono()
    while True:
        leader, rows = leader_of(via)
        states = {r["name"]: r.get("state") for r in rows}
        if leader and all(states.get(h) == "ready" for h in names):
            return mono() - t0, leader
        if mono() - t0 > timeout:
            raise BenchError("hosts not all ready within %.0f s (via %s): %s" % (
                timeout, via.name, rows))
        time.sleep(POLL)


class Sampler:
    """Every 0.25 s from its start: the machine's busy ticks, each process's CPU ticks
    (utime + stime) and, for each, the state and kernel wait channel of its threads."""

    def __init__(self, procs):
        self.procs = procs  # {label: pid}
        self.samples = []  # (mono, host ticks, {label: ticks}, {label: [(comm, state, wchan)]})
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_flag:
            t = mono()
            ticks, threads = {}, {}
            for label, pid in self.procs.items():
                try:
                    ticks[label] = cpu_ticks(pid)
                    threads[label] = thread_states(pid)
                except OSError:
                    pass
            self.samples.append((t, host_ticks(), ticks, threads))
            time.sleep(max(0.0, t + 0.25 - mono()))

    def stop(self):
        self.stop_flag = True
        self.thread.join()

    def per_second(self, m0, seconds):
        """{label: [CPU % of one core in second k after m0]} and the machine's busy %
        (of all cores) per second."""
        out, busy = {}, []
        for k in range(seconds):
            inside = [x for x in self.samples if m0 + k <= x[0] <= m0 + k + 1.0001]
            if len(inside) < 2:
                break
            a, b = inside[0], inside[-1]
            dt = b[0] - a[0]
            tot, idle = b[1][0] - a[1][0], b[1][1] - a[1][1]
            busy.append(100.0 * (tot - idle) / max(1, tot) * os.cpu_count())
            for label in self.procs:
                if label in a[2] and label in b[2]:
                    out.setdefault(label, []).append(100.0 * (b[2][label] - a[2][label]) / HZ / dt)
        return out, busy

    def threads_between(self, label, t_from, t_to):
        """Counts of (thread name, state, wait channel) of `label`'s threads over the
        samples between two mono times."""
        counts = {}
        for t, _, _, threads in self.samples:
            if t_from <= t <= t_to:
                for key in threads.get(label, []):
                    counts[key] = counts.get(key, 0) + 1
        return counts


def thread_states(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                st = f.read()
            with open("/proc/%d/task/%s/wchan" % (pid, tid)) as f:
                wchan = f.read().strip() or "-"
        except OSError:
            continue
        comm = st[st.find("(") + 1:st.rfind(")")]
        out.append((comm, st[st.rfind(")") + 2], wchan))
    return out


LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")


def log_since(logpath, w0, w1):
    """[(unix time, line)] of a daemon log between two unix times (its times are local)."""
    out = []
    with open(logpath, errors="replace") as f:
        for line in f:
            m = LOG_TIME.match(line)
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            if w0 <= t <= w1:
                out.append((t, line.rstrip("\n")))
    return out


def lose_host(etcd, hosts, victim, dep, n, replay, say, failures, label, timeout=180):
    """Kills host `victim` (volantd and workloads) once `dep` is ready; measures, then
    starts it again."""
    survivors = [h for h in hosts if h is not victim]
    leader0, _ = leader_of(survivors[0])
    pids = kill_workloads_preview(victim)
    listed = survivors[0].json("vms", "list", "--deployment", dep) or []
    before = ready_split(listed)
    on_victim = before.get(victim.name, 0)
    on_victim_names = {v.get("name") for v in listed if v.get("host") == victim.name}
    lease = etcd.host_lease(victim.name)
    procs = {h.name: h.d.pid for h in survivors}
    procs["etcd"] = etcd.proc.pid
    sampler = Sampler(procs)
    time.sleep(0.3)
    w0, m0 = time.time(), mono()
    victim.kill9()
    for pid in pids:
        for kill in (lambda p: os.killpg(p, signal.SIGKILL), lambda p: os.kill(p, signal.SIGKILL)):
            try:
                kill(pid)
            except OSError:
                pass
    kill_ms = (mono() - m0) * 1000
    late = [p for p in kill_workloads(victim.dir, groups=True) if p not in pids]  # missed at first
    seen = {"new_leader": None, "gone": None, "key_gone": None}
    # Poll a survivor: the leader if it survives, else the first survivor.
    via = next((h for h in survivors if h.name == leader0), survivors[0])

    def on_poll(now, vms):
        if seen["key_gone"] is None:
            try:
                if etcd.host_lease(victim.name) is None:
                    seen["key_gone"] = mono() - m0
            except OSError:
                pass
        if vms is not None and seen["gone"] is None and not any(v.get("host") == victim.name for v in vms):
            seen["gone"] = now - m0
        if victim.name == leader0 and seen["new_leader"] is None:
            l, _ = leader_of(via)
            if l and l != leader0:
                seen["new_leader"] = mono() - m0

    took = at = None
    split = {}
    try:
        took, vms = wait_ready(via, dep, n, m0, timeout, lost=victim.name, on_poll=on_poll)
        at = last_ready_at(vms) - w0
        split = ready_split(vms)
    except BenchError as e:
        failures.append("%s: %s" % (label, e))
        split = ready_split(via.json("vms", "list", "--deployment", dep) or [])
    time.sleep(1.0)
    sampler.stop()
    w1 = time.time()
    events = journal(replay, via)
    lost = [e for e in events if e.get("event") == "host_lost"
            and (e.get("fields", {}).get("name") == victim.name or e.get("id") == victim.name)
            and parse_at(e.get("at")) >= w0]
    lost_at = parse_at(lost[0]["at"]) - w0 if lost else None
    if not lost:
        failures.append("%s: no host_lost for %s journaled after T0" % (label, victim.name))
    starts = [parse_at(e["at"]) - w0 for e in events if e.get("event") == "vm_started"
              and parse_at(e.get("at")) >= w0]
    # The victim's VMs removed by the leader: one time per append (a lose_host).
    removed = [e for e in events if e.get("event") == "vm_removed" and e.get("id") in on_victim_names
               and parse_at(e.get("at")) >= w0]
    appends = sorted({parse_at(e["at"]) - w0 for e in removed})
    new_leader = leader_of(via)[0]
    say("  %s: killed %s (%s; leader %s) with its %d workload processes (%d VMs on it) at T0 "
        "(kill -9s took %.0f ms; %d more found after)" % (
            label, victim.name, "the leader" if victim.name == leader0 else "not the leader",
            leader0, len(pids), on_victim, kill_ms, len(late)))
    say("    etcd: %s/hosts/%s held lease %s with %s s left at T0; key gone (lease expired) at "
        "T0+%s s" % (PREFIX, victim.name, lease[0] if lease else "-", lease[1] if lease else "-",
                     fmt(seen["key_gone"])))
    say("    via %s: host_lost at T0+%s s (%s)%s; its %d VMs removed in %d appends (at +%s s); "
        "first vm_started after T0 at +%s s; its VMs gone "
        "from vms list at +%s s; %s ready, none on %s, at +%s s (poll), last ready_at +%s s; "
        "per host (ready) %s" % (
            via.name, fmt(lost_at), (lost[0].get("fields", {}).get("reason") if lost else "-"),
            ("; new leader %s at +%s s" % (new_leader, fmt(seen["new_leader"])))
            if victim.name == leader0 else "",
            len(removed), len(appends), ", +".join(fmt(t) for t in appends) or "-",
            fmt(min(starts) if starts else None), fmt(seen["gone"]), n if took else "NOT all",
            victim.name, fmt(took), fmt(at), " ".join("%s=%d" % kv for kv in sorted(split.items()))))
    secs = int(min(w1 - w0, 30))
    cpu, busy = sampler.per_second(m0, secs)
    say("    CPU %% per second from T0 (of one core; the machine: of %d): machine %s" % (
        os.cpu_count(), " ".join("%.0f" % x for x in busy)))
    for name in sorted(cpu):
        say("      %-5s %s" % (name, " ".join("%.0f" % x for x in cpu[name])))
    # What the survivors logged about the cluster after T0, and their longest silence.
    for h in survivors:
        lines = log_since(h.logpath, w0 - 1.0, w1)
        ts = [w0] + [t for t, _ in lines if t >= w0] + [w1]
        gap, gap_at = max(((b - a, a) for a, b in zip(ts, ts[1:])), default=(0.0, w0))
        odd = [(t, l) for t, l in lines if t >= w0 and ("[cluster]" in l or "txn" in l
                                                        or ("lost" in l and "[warning]" in l))]
        say("    %s log after T0: %d lines; longest silence %.1f s (from T0+%.1f s)%s" % (
            h.name, len([1 for t, _ in lines if t >= w0]), gap, gap_at - w0,
            "; about the cluster:" if odd else ""))
        shown = {}
        for t, l in odd:
            key = re.sub(r"\d+", "N", l[l.find("]") + 1:])
            shown[key] = shown.get(key, 0) + 1
            if shown[key] <= 2:
                say("      T0+%5.2f s  %s" % (t - w0, l[26:230]))
            elif shown[key] == 3:
                say("      ... (the same again, see the log)")
        expired = [t for t, l in odd if "[cluster]" in l and "lease" in l]
        if gap > 4.0 and expired:  # its own lease expired: what were its threads doing?
            counts = sampler.threads_between(h.name, m0 + (gap_at - w0), m0 + (gap_at - w0) + gap)
            top = sorted(counts.items(), key=lambda kv: -kv[1])
            say("      its threads during that silence (name, state, wait channel: samples): %s" % (
                ", ".join("%s %s %s: %d" % (k[0], k[1], k[2], c) for k, c in top[:12])))
    # The host comes back on the same data dir and rejoins: ready in hosts list, and
    # ready at every poll of the next 3 s, with no host_lost for it in the journal
    # after its start. Else FAILED, and it is stopped and started again (at most 3
    # starts) so that the run goes on.
    starts_needed = 0
    for attempt in range(1, 4):
        starts_needed = attempt
        t_start = time.time()
        victim.start()
        try:
            rejoin, leader1 = wait_hosts_ready(via, [victim.name], 30)
        except BenchError:
            rejoin, leader1 = float("nan"), "?"
        not_ready, polls = [], 0
        t_end = mono() + 3.0
        while mono() < t_end:
            st = {r["name"]: r.get("state") for r in leader_of(via)[1]}.get(victim.name)
            polls += 1
            if st != "ready":
                not_ready.append("+%.1f s %s" % (time.time() - t_start, st))
            time.sleep(POLL)
        scan = scan_workloads({h.name: h.run_dir for h in hosts})
        twice = {vm: ps for vm, ps in scan.items() if len(ps) > 1}
        on_back = sum(1 for ps in scan.values() for h, _ in ps if h == victim.name)
        vms_now = via.json("vms", "list", "--deployment", dep) or []
        leader2, rows = leader_of(via)
        states = {r["name"]: r.get("state") for r in rows}
        host_events = [e for e in journal(replay, via) if e.get("aggregate") == "host"
                       and e.get("id") == victim.name
                       and parse_at(e.get("at")) >= (w0 if attempt == 1 else t_start)]
        relost = [e for e in host_events if e.get("event") == "host_lost"
                  and parse_at(e.get("at")) >= t_start]
        say("    %s %s: ready in hosts list %.1f s after its start (leader %s), then not ready in %d "
            "of %d polls over 3 s%s; %d VMs listed, %d processes of them, %d on %s, %d VMs running "
            "twice; hosts list: %s" % (
                victim.name, "restarted" if attempt == 1 else "stopped and started again (#%d)" % attempt,
                rejoin, leader1, len(not_ready), polls,
                (" (%s)" % ", ".join(not_ready[:4])) if not_ready else "", len(vms_now),
                sum(len(ps) for ps in scan.values()), on_back, victim.name, len(twice),
                " ".join("%s=%s%s" % (h, st, " (leader)" if h == leader2 else "")
                         for h, st in sorted(states.items()))))
        say("      journal: %s" % "; ".join("seq %s %s %s" % (e.get("seq"), e.get("at"), e.get("event"))
                                           for e in host_events))
        if rejoin == rejoin and not not_ready and not relost and all(
                st == "ready" for st in states.values()):
            break
        failures.append("REGRESSION: %s: %s not steadily ready after rejoining (start #%d): "
                        "ready after %s s, not ready at %s, host_lost after its start: %d; "
                        "hosts list %s" % (
                            label, victim.name, attempt, fmt(rejoin, 1), ", ".join(not_ready) or "-",
                            len(relost), " ".join("%s=%s" % kv for kv in sorted(states.items()))))
        if attempt < 3:
            victim.d.stop()
    if twice:
        failures.append("%s: VMs running twice after %s rejoined: %s" % (
            label, victim.name, sorted(twice)[:5]))
    if len(vms_now) != n:
        failures.append("%s: %d VMs listed after %s rejoined (want %d)" % (
            label, len(vms_now), victim.name, n))
    return {"lost": lost_at, "poll": took, "key_gone": seen["key_gone"], "at": at, "split": split,
            "gone": seen["gone"], "new_leader": seen["new_leader"], "moved": on_victim,
            "starts": starts_needed, "appends": appends,
            "reschedule": (at - lost_at) if lost_at is not None and at is not None else None}


def kill_workloads_preview(host):
    """The workload pids of `host` (as kill_workloads finds them), not killed."""
    return pids_with_env_prefix("VOLANT_VM_DIR=" + host.run_dir + "/")


def cluster(bindir, replay, tmp, pool, n, plan, say, failures, title):
    """etcd and hosts h1-h3 in tmp; for each (kind, timeout) of plan: a new deployment
    of n replicas created, then a host lost (kind "nonleader" or "leader"), measured by
    lose_host, and the deployment deleted. Returns (creates, {kind: [losses]})."""
    say("")
    say("%s: etcd + volantd h1 h2 h3 --cluster URL --host-name hI --cluster-prefix %s "
        "--pool %s %s" % (title, PREFIX, pool, " ".join(FLAGS)))
    etcd = None
    hosts = []
    creates, losses = [], {}
    try:
        etcd = Etcd(os.path.join(tmp, "etcd"), say)
        m0 = mono()
        for name in ("h1", "h2", "h3"):
            hosts.append(Host(name, bindir, tmp, pool, etcd.url))
        took, leader = wait_hosts_ready(hosts[0], ["h1", "h2", "h3"], 60)
        led_since = mono()  # (at the latest)
        say("  3 hosts ready in hosts list %.1f s after the first start; leader %s" % (
            mono() - m0, leader))

        def settle_lead():
            # A leader journals lost hosts only once it has led 10 s: a kill before
            # that would measure the new leader's grace, not a steady cluster's.
            nonlocal leader, led_since
            now_leader, _ = leader_of(hosts[0])
            if now_leader != leader:
                leader, led_since = now_leader, mono()
            wait = LEAD_AGE - (mono() - led_since)
            if wait > 0:
                say("    (waiting %.1f s: leader %s has led < %.0f s)" % (wait, leader, LEAD_AGE))
                time.sleep(wait)

        install_plugin(hosts[0].d, httpd_manifest(), os.path.join(tmp, "plugin.json"))
        for k, (kind, timeout) in enumerate(plan):
            dep = "web%d" % (k + 1)
            creates.append(create_cluster(hosts, dep, n, say, failures))
            settle_lead()
            if kind == "leader":
                victim = next(h for h in hosts if h.name == leader)
                label = "loss of the leader"
            else:
                others = [h for h in hosts if h.name != leader]
                victim = others[len(losses.get(kind, [])) % len(others)]
                label = "loss #%d (not the leader)" % (len(losses.get(kind, [])) + 1)
            losses.setdefault(kind, []).append(lose_host(
                etcd, hosts, victim, dep, n, replay, say, failures, label, timeout))
            say("    %s deleted in %.1f s" % (dep, delete_and_wait(hosts[0], dep)))
    finally:
        up = [h for h in hosts if h.alive()]
        if up:
            try:
                for d in up[0].json("deployments", "list") or []:
                    delete_and_wait(up[0], d["name"])
            except Exception as e:  # best effort: everything is stopped all the same
                say("cleanup: %s" % e)
        for h in hosts:
            if h.alive():
                h.d.stop()
        left = sum(len(kill_workloads(h.dir, groups=True)) for h in hosts)
        if etcd is not None:
            etcd.stop()
        time.sleep(0.5)
        say("")
        say("daemon logs (warning/error lines, grouped by their text with numbers as N: count, first):")
        for h in hosts:
            daemon_log_summary(say, h.name, h.logpath)
        check_deletes(say, failures, title, hosts)
        say("cleanup:  deployments deleted, volantd h1-h3 stopped, etcd stopped, %d leftover workload "
            "processes killed, listeners left on 127.95.*:80: %d" % (left, len(listeners("127.95."))))
        if left:
            failures.append("%s: %d leftover workload processes killed" % (title, left))
    return creates, losses


# --- main ---------------------------------------------------------------------------

def own_flags(ap):
    ap.add_argument("--replicas", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3, help="baseline creates, and host losses")
    ap.add_argument("--no-leader", action="store_true", help="skip the loss of the leader")
    ap.add_argument("--big", type=int, default=400, help="replicas of step 4, a second cluster "
                    "whose hosts hold more than 126 VMs each (0: skip it)")
    ap.add_argument("--pool", default="127.95.0.0/22", help="the cluster's pool")
    ap.add_argument("--single-pool", default="127.95.8.0/23", help="the baseline host's pool")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs) in any case")


def main():
    a = parse_args(2400, own_flags)
    for p in (a.pool, a.single_pool):
        if not p.startswith("127."):
            sys.exit("hosts_bench: loopback addresses only (%s)" % p)
    if listeners("127.95."):
        sys.exit("hosts_bench: something already listens on 127.95.*:80")
    say = Say()
    arm_watchdog("hosts_bench", a.deadline)
    tmp = tempfile.mkdtemp(prefix="volant-bench-cluster-")
    os.chmod(tmp, 0o711)  # the workload user reaches the run directories below it
    bindir, src_d, src_v = copy_binaries("hosts_bench", a.build, tmp)
    src_r = pick_binary("hosts_bench", "tools/replay/volant-replay", "VOLANT_REPLAY", a.build)
    replay = os.path.join(bindir, "volant-replay")
    subprocess.run(["cp", "-p", src_r, replay], check=True)

    n = a.replicas
    say("bench/cluster/hosts_bench.py: 0 -> %d replicas on 1 host vs 3 hosts, and rescheduling "
        "after a host loss" % n)
    say_header(say, a.command, src_d, src_v, bindir)
    say("replay:   %s (mtime %s)" % (src_r, stamp(src_r)))
    say("commit:   %s" % commit_line(src_d))
    say("workload: busybox httpd -f on $VOLANT_IP:80 (process plugin, no health check), "
        "--memory 32; polls of vms list --json every %.0f ms" % (POLL * 1000))

    failures = []
    base, creates, losses, leader_losses, big = [], [], [], [], []
    try:
        base = baseline(bindir, tmp, a.single_pool, n, a.repeats, say, failures)
        plan = [("nonleader", 180)] * a.repeats + ([] if a.no_leader else [("leader", 180)])
        creates, by_kind = cluster(bindir, replay, os.path.join(tmp, "cluster"), a.pool, n, plan,
                                   say, failures, "2./3. cluster")
        losses, leader_losses = by_kind.get("nonleader", []), by_kind.get("leader", [])
        if a.big:
            _, by_kind = cluster(bindir, replay, os.path.join(tmp, "big"), a.pool, a.big,
                                 [("nonleader", 60)], say, failures,
                                 "4. a new cluster, %d replicas (a host holds more than 126)" % a.big)
            big = by_kind.get("nonleader", [])
    except Exception as e:  # Watchdog too: report, clean up, exit non-zero
        report_error(say, failures, e)
    finally:
        disarm_watchdog()

    b = med([r["poll"] for r in base])
    b_at = med([r["at"] for r in base])
    say("")
    say("| %d replicas, --memory 32 | runs | median s | per run s | vs baseline |" % n)
    say("|---|---|---|---|---|")
    if base:
        say("| 1 host (no --cluster): create -> all ready (poll) | %d | %.2f | %s | 1.00x |" % (
            len(base), b, per_run([r["poll"] for r in base])))
        say("| 1 host: create -> last ready_at | %d | %.2f | %s | 1.00x |" % (
            len(base), b_at, per_run([r["at"] for r in base])))
    if creates:
        c = med([r["poll"] for r in creates])
        c_at = med([r["at"] for r in creates])
        say("| 3 hosts, --multi-host: create -> all ready (poll) | %d | %.2f | %s | %.2fx |" % (
            len(creates), c, per_run([r["poll"] for r in creates]), c / b if base else float("nan")))
        say("| 3 hosts: create -> last ready_at | %d | %.2f | %s | %.2fx |" % (
            len(creates), c_at, per_run([r["at"] for r in creates]), c_at / b_at if base else float("nan")))
        say("| 3 hosts: per-host split (h1/h2/h3) | %d | | %s | |" % (len(creates), " , ".join(
            "/".join(str(r["split"].get(h, 0)) for h in ("h1", "h2", "h3")) for r in creates)))
    for rows, what, n in ((losses, "non-leader host killed", n), (leader_losses, "LEADER host killed", n),
                          (big, "%d replicas: non-leader host killed" % a.big, a.big)):
        if not rows:
            continue
        say("| %s (%s VMs on it): T0 -> host_lost journaled | %d | %s | %s | |" % (
            what, "/".join(str(r["moved"]) for r in rows), len(rows), fmt(med([r["lost"] for r in rows])),
            per_run([r["lost"] for r in rows])))
        say("| %s: T0 -> its key gone from etcd (lease expired) | %d | %s | %s | |" % (
            what, len(rows), fmt(med([r["key_gone"] for r in rows])),
            per_run([r["key_gone"] for r in rows])))
        if rows is leader_losses:
            say("| %s: T0 -> new leader in hosts list | %d | %s | %s | |" % (
                what, len(rows), fmt(med([r["new_leader"] for r in rows])),
                per_run([r["new_leader"] for r in rows])))
        say("| %s: T0 -> all %d ready, none on it (poll) | %d | %s | %s | |" % (
            what, n, len(rows), fmt(med([r["poll"] for r in rows])), per_run([r["poll"] for r in rows])))
        say("| %s: T0 -> last ready_at | %d | %s | %s | |" % (
            what, len(rows), fmt(med([r["at"] for r in rows])), per_run([r["at"] for r in rows])))
        say("| %s: host_lost -> last ready_at (the reschedule) | %d | %s | %s | |" % (
            what, len(rows), fmt(med([r["reschedule"] for r in rows])),
            per_run([r["reschedule"] for r in rows])))
    n = a.replicas
    if losses:
        t = med([r["at"] for r in losses])
        say("")
        say("goal:     non-leader host lost -> all %d ready again < 10 s: %s (median %.2f s by ready_at, "
            "%.2f s by the poll)" % (n, "MET" if med([r["poll"] for r in losses]) < 10 else "MISSED", t,
                                    med([r["poll"] for r in losses])))
    rows = losses + leader_losses + big
    if rows:
        say("rejoin:   %d killed hosts restarted: %d ready and steady at the first start, %d needed "
            "a retry (starts per restart: %s)" % (
                len(rows), sum(1 for r in rows if r["starts"] == 1),
                sum(1 for r in rows if r["starts"] > 1), " ".join(str(r["starts"]) for r in rows)))
    for r in big:
        say("big:      %d replicas, %d VMs on the killed host: host_lost at T0+%s s, its VMs removed in "
            "%d appends (at +%s s), all %d ready again, none on it, at T0+%s s (poll)" % (
                a.big, r["moved"], fmt(r["lost"]), len(r["appends"]),
                ", +".join(fmt(t) for t in r["appends"]) or "-", a.big, fmt(r["poll"])))
    say_failures(say, failures)
    say("load average at end: %s" % load_avg())
    finish(say, a.out, tmp, failures or (["--keep"] if a.keep else []))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
