#!/usr/bin/env python3
"""bench/recovery: kill -9 of a replica's workload -> replacement serving / READY.

Volant and supervisord restart the same workload, side by side in one run, kills
interleaved (Volant first on kills 1, 3, 5, ..., supervisord first on 2, 4, ...)
so that both see the same machine load:

  workload:    /bin/sh -c 'mkdir -p DIR && echo ok > DIR/health &&
                           exec busybox httpd -f -p IP:80 -h DIR'
  Volant:      N deployments of 1 replica each (plugin with an HTTP check on
               /health, interval 1 s, timeout 1 s, threshold 3, auto-restart on).
               Kill i hits the only VM of deployment i: every kill is the first crash
               of its VM, so its restart back-off is 0 (the first restart of a VM is
               immediate; later ones back off 1 s, 2 s, 4 s, ... unless the VM stayed
               up 60 s). Pid from `volar vms list --json`.
  supervisord: one program, autorestart=true, startsecs=0, startretries=1000000
               (no back-off: with startsecs=0 every start counts as successful).
               Pid from `supervisorctl pid`.

Per kill, time 0 is just before kill(pid, SIGKILL). Then the bench waits until the
old process is dead (gone or a zombie, so that no answer can come from it), polls
GET http://IP:80/health every 10 ms (0.5 s timeout per try) until it answers 200
("serving"), and then polls `volar vms list --json` until the VM is "ready" with a
new pid. "ready" is the VM's ready_at (the daemon's clock, when the probe's first
successful sample was taken) minus the kill time; "seen" is when the polling volar
call returned it (an upper bound, includes volar's own round trip). "started" is the
VM's started_at (the new workload process was spawned).

Then a crash loop on one more deployment: K kills in a row, each as soon as the VM
is ready again, to show the back-off growing (0, 1 s, 2 s, 4 s, ...).

Goal (issue 4): Volant's median kill -> READY <= supervisord's kill -> serving.
Only loopback addresses: Volant's pool 127.81.0.0/24, supervisord's workload on
127.81.1.1 (bench/scale uses 127.79/16 and 127.80.0/24, so the benches can run at
the same time).
"""

import calendar
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (Daemon, Say, arm_watchdog, copy_binaries, disarm_watchdog,  # noqa: E402
                          finish, http_health_plugin, install_plugin, kill_workloads,
                          listeners, mono, parse_args, percentile, proc_dead,
                          report_error, say_daemon_log, say_failures, say_header,
                          stop_process)

POOL = "127.81.0.0/24"
POOL_PREFIX = "127.81.0."
SUP_IP = "127.81.1.1"
PORT = 80


def parse_time_ns(s):
    """RFC 3339 UTC with nanoseconds (wire::format_time) -> unix ns."""
    if not s:
        return 0
    secs = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = s[19:].rstrip("Z")
    ns = int((frac[1:] + "000000000")[:9]) if frac.startswith(".") else 0
    return secs * 1_000_000_000 + ns


def http_status(ip, port=PORT, path="/health", timeout=0.5):
    """Status code of GET ip:port/path, 0 if nothing answers."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, ip)).encode())
            data = b""
            while b"\r\n" not in data and len(data) < 4096:
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
            parts = data.split(b" ", 2)
            return int(parts[1]) if len(parts) >= 2 else 0
    except (OSError, ValueError):
        return 0


def wait_dead(pid, timeout=5.0):
    t0 = mono()
    while not proc_dead(pid):
        if mono() - t0 > timeout:
            return False
        time.sleep(0.0005)
    return True


class Supervisord:
    def __init__(self, tmp):
        self.tmp = tmp
        self.conf = os.path.join(tmp, "supervisord.conf")
        www = os.path.join(tmp, "sup-www")
        cmd = ("/bin/sh -c \"mkdir -p %s && echo ok > %s/health && "
               "exec busybox httpd -f -p %s:%d -h %s\"" % (www, www, SUP_IP, PORT, www))
        self.command = cmd
        with open(self.conf, "w") as f:
            f.write("""[unix_http_server]
file={t}/supervisor.sock

[supervisord]
nodaemon=true
logfile={t}/supervisord.log
pidfile={t}/supervisord.pid
childlogdir={t}
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{t}/supervisor.sock

[program:httpd]
command={cmd}
autostart=true
autorestart=true
startsecs=0
startretries=1000000
stopsignal=TERM
stopwaitsecs=2
redirect_stderr=true
stdout_logfile={t}/httpd.log
""".format(t=tmp, cmd=cmd))
        self.out = open(os.path.join(tmp, "supervisord.stdout"), "ab")
        self.proc = subprocess.Popen(["supervisord", "-n", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        t0 = mono()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("supervisord exited with %s" % self.proc.returncode)
            r = self.ctl("status", "httpd", check=False)
            if "RUNNING" in r.stdout and http_status(SUP_IP) == 200:
                break
            if mono() - t0 > 30:
                raise RuntimeError("supervisord's httpd not RUNNING/serving within 30 s: %s"
                                   % r.stdout.strip())
            time.sleep(0.1)

    def ctl(self, *args, check=True):
        r = subprocess.run(["supervisorctl", "-c", self.conf] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError("supervisorctl %s: %s" % (" ".join(args), r.stdout + r.stderr))
        return r

    def pid(self):
        return int(self.ctl("pid", "httpd").stdout.strip())

    def stop(self):
        stop_process(self.proc, 15)
        self.out.close()


def poll_serving(ip, t0, timeout=30.0):
    """Seconds from t0 until GET /health answers 200 (polled every 10 ms), or None."""
    tries = 0
    while mono() - t0 < timeout:
        tries += 1
        if http_status(ip) == 200:
            return mono() - t0, tries
        time.sleep(0.010)
    return None, tries


def kill_volant(d, deployment, timeout=30.0):
    vm = d.vms(deployment)[0]
    old, ip = vm["pid"], vm["ip"]
    if vm["status"] != "ready" or not old:
        raise RuntimeError("%s not ready before the kill: %s" % (vm["name"], vm))
    if http_status(ip) != 200:
        raise RuntimeError("%s (%s) not serving before the kill" % (vm["name"], ip))
    wall0 = time.time_ns()
    t0 = mono()
    os.kill(old, signal.SIGKILL)
    wait_dead(old)
    dead = mono() - t0
    serving, tries = poll_serving(ip, t0, timeout)
    seen = None
    while mono() - t0 < timeout:
        cur = d.vms(deployment)
        if cur and cur[0]["status"] == "ready" and cur[0]["pid"] not in (0, old):
            seen = mono() - t0
            vm = cur[0]
            break
        time.sleep(0.02)
    ready = (parse_time_ns(vm.get("ready_at")) - wall0) / 1e9 if seen is not None else None
    started = (parse_time_ns(vm.get("started_at")) - wall0) / 1e9 if seen is not None else None
    return {"vm": vm["name"], "old": old, "new": vm["pid"] if seen is not None else None,
            "dead": dead, "serving": serving, "tries": tries, "started": started,
            "ready": ready, "seen": seen, "restarts": vm.get("restarts"),
            "backoff_ms": vm.get("backoff_ms")}


def kill_supervisord(s, timeout=30.0):
    old = s.pid()
    if http_status(SUP_IP) != 200:
        raise RuntimeError("supervisord's httpd not serving before the kill")
    t0 = mono()
    os.kill(old, signal.SIGKILL)
    wait_dead(old)
    dead = mono() - t0
    serving, tries = poll_serving(SUP_IP, t0, timeout)
    new = s.pid()
    return {"old": old, "new": new, "dead": dead, "serving": serving, "tries": tries}


def ms(x):
    return "-" if x is None else "%.1f" % (x * 1000)


def own_flags(ap):
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--loop-kills", type=int, default=4, help="crash-loop kills of one VM")
    ap.add_argument("--gap", type=float, default=0.5, help="seconds between kills")


def main():
    a = parse_args(540, own_flags)

    say = Say()
    arm_watchdog("recovery", a.deadline)

    tmp = tempfile.mkdtemp(prefix="volant-bench-recovery-")
    bindir, src_d, src_v = copy_binaries("recovery", a.build, tmp)

    say("bench/recovery: kill -9 of a workload -> replacement serving / READY, Volant vs supervisord")
    say_header(say, a.command, src_d, src_v, bindir)
    sup_ver = subprocess.run(["supervisord", "--version"], capture_output=True, text=True).stdout.strip()
    say("supervisord: %s (Debian package supervisor), autorestart=true startsecs=0 startretries=1000000" % sup_ver)
    say("workload: /bin/sh -c 'mkdir -p DIR && echo ok > DIR/health && exec busybox httpd -f -p IP:80 -h DIR'")
    say("volant:   %d deployments x 1 replica, HTTP check GET :80/health interval 1 s, timeout 1 s, "
        "threshold 3; pool %s; volantd --cpus 16 --memory-mib 8192 --reconcile-ms 500" % (a.kills, POOL))
    say("poll:     GET /health every 10 ms (after the old pid is dead), then `volar vms list --json` "
        "every 20 ms until ready with a new pid")

    busy = listeners(POOL_PREFIX) + [ip for ip in listeners("127.81.1.") if ip == SUP_IP]
    if busy:
        sys.exit("recovery: something already listens on %s port 80" % ", ".join(busy))

    d = s = None
    vm_results, sup_results, loop_results = [], [], []
    failures = []
    try:
        s = Supervisord(tmp)
        d = Daemon.in_tmp(bindir, tmp, POOL,
                          ["--cpus", "16", "--memory-mib", "8192", "--reconcile-ms", "500"],
                          volar_timeout=60, stop_wait=10, settle=0.05)
        install_plugin(d, http_health_plugin("bench-recovery-httpd", "bench/recovery", "-f"),
                       os.path.join(tmp, "plugin.json"))
        names = ["r%02d" % i for i in range(a.kills)] + ["loop"]
        for n in names:
            d.volar("deployments", "create", n, "--plugin", "bench-recovery-httpd",
                    "--replicas", "1", "--memory", "16")
        t0 = mono()
        while True:
            vms = d.vms()
            ready = [v for v in vms if v["status"] == "ready"]
            if len(ready) == len(names):
                break
            if mono() - t0 > 90:
                raise RuntimeError("only %d of %d VMs ready after 90 s" % (len(ready), len(names)))
            time.sleep(0.2)
        say("setup:    %d VMs ready %.1f s after the creates; supervisord's httpd serving" % (
            len(names), mono() - t0))
        time.sleep(2.0)

        say("")
        say("| kill | first       | volant: dead ms | started ms | serving ms | ready ms | seen ms | restarts | backoff ms | supervisord: dead ms | serving ms |")
        say("|------|-------------|-----------------|------------|------------|----------|---------|----------|------------|----------------------|------------|")
        for i in range(a.kills):
            order = ["volant", "supervisord"] if i % 2 == 0 else ["supervisord", "volant"]
            r = {}
            for who in order:
                if who == "volant":
                    r[who] = kill_volant(d, names[i])
                else:
                    r[who] = kill_supervisord(s)
                time.sleep(a.gap)
            v, sp = r["volant"], r["supervisord"]
            vm_results.append(v)
            sup_results.append(sp)
            if v["serving"] is None or v["seen"] is None:
                failures.append("volant kill %d (%s): serving %s, ready %s" % (i + 1, v["vm"], v["serving"], v["seen"]))
            if sp["serving"] is None:
                failures.append("supervisord kill %d: not serving again within 30 s" % (i + 1))
            say("| %4d | %-11s | %15s | %10s | %10s | %8s | %7s | %8s | %10s | %20s | %10s |" % (
                i + 1, order[0], ms(v["dead"]), ms(v["started"]), ms(v["serving"]), ms(v["ready"]),
                ms(v["seen"]), v["restarts"], v["backoff_ms"], ms(sp["dead"]), ms(sp["serving"])))

        say("")
        say("crash loop: %d kills in a row of deployment 'loop' (each as soon as it is ready again)" % a.loop_kills)
        say("| kill | serving ms | ready ms | restarts after | backoff_ms shown |")
        say("|------|------------|----------|----------------|------------------|")
        for i in range(a.loop_kills):
            v = kill_volant(d, "loop", timeout=60.0)
            loop_results.append(v)
            say("| %4d | %10s | %8s | %14s | %16s |" % (i + 1, ms(v["serving"]), ms(v["ready"]),
                                                       v["restarts"], v["backoff_ms"]))
            if v["seen"] is None:
                failures.append("loop kill %d: not ready again within 60 s" % (i + 1))
                break

        def row(label, vals):
            vals = [x for x in vals if x is not None]
            if not vals:
                return "| %-44s | %2d | - | - | - | - |" % (label, 0)
            return "| %-44s | %2d | %8.1f | %8.1f | %8.1f | %8.1f |" % (
                label, len(vals), statistics.median(vals) * 1000, percentile(vals, 90) * 1000,
                min(vals) * 1000, max(vals) * 1000)

        say("")
        say("summary over %d kills (ms from kill -9):" % a.kills)
        say("| metric                                       |  n |   median |      p90 |      min |      max |")
        say("|----------------------------------------------|----|----------|----------|----------|----------|")
        say(row("volant: new workload started (started_at)", [v["started"] for v in vm_results]))
        say(row("volant: serving again (GET /health 200)", [v["serving"] for v in vm_results]))
        say(row("volant: READY (ready_at)", [v["ready"] for v in vm_results]))
        say(row("volant: READY seen by polling volar", [v["seen"] for v in vm_results]))
        say(row("supervisord: serving again (GET /health 200)", [x["serving"] for x in sup_results]))

        vs = [v["serving"] for v in vm_results if v["serving"] is not None]
        vr = [v["ready"] for v in vm_results if v["ready"] is not None]
        ss = [x["serving"] for x in sup_results if x["serving"] is not None]
        if vs and vr and ss:
            r_serv = statistics.median(vs) / statistics.median(ss)
            r_ready = statistics.median(vr) / statistics.median(ss)
            r_serv90 = percentile(vs, 90) / percentile(ss, 90)
            r_ready90 = percentile(vr, 90) / percentile(ss, 90)
            say("")
            say("ratio volant/supervisord (median): serving %.2f, READY %.2f; (p90): serving %.2f, READY %.2f"
                % (r_serv, r_ready, r_serv90, r_ready90))
            say("goal:     volant kill -> READY median <= supervisord kill -> serving median: %s (%.2fx); "
                "serving vs serving: %s (%.2fx)" % ("MET" if r_ready <= 1 else "MISSED", r_ready,
                                                  "MET" if r_serv <= 1 else "MISSED", r_serv))
        say_failures(say, failures)
    except Exception as e:  # Watchdog too: report, clean up, exit non-zero
        report_error(say, failures, e)
    finally:
        disarm_watchdog()
        if d is not None:
            d.shut_down(say, timeout=20, poll=0.2)
        if s is not None:
            s.stop()
        left = kill_workloads(os.path.join(tmp, "data"))
        if d is not None:
            say_daemon_log(say, d.logpath)
        say("cleanup:  deployments deleted, volantd and supervisord stopped, %d leftover workload "
            "processes killed, listeners left on 127.81.*:80: %d" % (len(left), len(listeners("127.81."))))
        finish(say, a.out, tmp, failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
