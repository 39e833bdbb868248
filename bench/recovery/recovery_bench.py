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

import argparse
import calendar
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
POOL = "127.81.0.0/24"
POOL_PREFIX = "127.81.0."
SUP_IP = "127.81.1.1"
PORT = 80
BUILDS = ["build", "build-e2e", "build-me"]


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
        sys.exit("recovery: no %s in %s (build it first, or set $%s)" % (rel, ", ".join(dirs), env))
    return max(found, key=os.path.getmtime)


def stamp(path):
    t = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


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


def proc_dead(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def wait_dead(pid, timeout=5.0):
    t0 = mono()
    while not proc_dead(pid):
        if mono() - t0 > timeout:
            return False
        time.sleep(0.0005)
    return True


def listeners(prefix, port=PORT):
    """Local addresses LISTENing on <prefix>*:port (from /proc/net/tcp)."""
    out = []
    want = "%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] != "0A":
                continue
            hexip, hexport = parts[1].split(":")
            if hexport != want:
                continue
            raw = int(hexip, 16)
            ip = ".".join(str((raw >> (8 * i)) & 0xFF) for i in range(4))
            if ip.startswith(prefix):
                out.append(ip)
    return out


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


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def load_avg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Daemon:
    def __init__(self, bindir, tmp, extra):
        self.volantd = os.path.join(bindir, "volantd")
        self.volar_bin = os.path.join(bindir, "volar")
        self.dir = os.path.join(tmp, "data")
        self.logpath = os.path.join(tmp, "volantd.log")
        os.makedirs(self.dir)
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [self.volantd, "--data-dir", self.dir, "--listen", "127.0.0.1:0", "--pool", POOL]
            + extra, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        t0 = mono()
        while not os.path.exists(os.path.join(self.dir, "endpoint")):
            if self.proc.poll() is not None:
                raise RuntimeError("volantd exited with %s; log %s" % (self.proc.returncode, self.logpath))
            if mono() - t0 > 30:
                raise RuntimeError("volantd wrote no endpoint within 30 s")
            time.sleep(0.02)
        time.sleep(0.05)

    def volar(self, *args, check=True, timeout=60):
        r = subprocess.run([self.volar_bin, "--data-dir", self.dir] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("volar %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                           r.stderr.strip()))
        return r

    def vms(self, deployment=None):
        args = ["vms", "list", "--json"]
        if deployment:
            args += ["--deployment", deployment]
        return json.loads(self.volar(*args).stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="", help="build dir (default: newest of %s)" % BUILDS)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--loop-kills", type=int, default=4, help="crash-loop kills of one VM")
    ap.add_argument("--gap", type=float, default=0.5, help="seconds between kills")
    ap.add_argument("--out", default="", help="also write the output to FILE")
    ap.add_argument("--command", default=" ".join(sys.argv))
    ap.add_argument("--deadline", type=int, default=540, help="seconds before giving up")
    a = ap.parse_args()

    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    def on_alarm(signum, frame):
        raise Watchdog("recovery: gave up after %d s" % a.deadline)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(a.deadline)

    tmp = tempfile.mkdtemp(prefix="volant-bench-recovery-")
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    src_d = pick_binary("src/daemon/volantd", "VOLANTD", a.build)
    src_v = pick_binary("src/cli/volar", "VOLAR", a.build)
    shutil.copy2(src_d, os.path.join(bindir, "volantd"))
    shutil.copy2(src_v, os.path.join(bindir, "volar"))

    say("bench/recovery: kill -9 of a workload -> replacement serving / READY, Volant vs supervisord")
    say("date:     %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    say("command:  %s" % a.command)
    say("machine:  nproc=%d, %s, load average %s at start" % (
        os.cpu_count(), subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip(),
        load_avg()))
    say("volantd:  %s (mtime %s), copied to %s" % (src_d, stamp(src_d), bindir))
    say("volar:    %s (mtime %s)" % (src_v, stamp(src_v)))
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
        d = Daemon(bindir, tmp, ["--cpus", "16", "--memory-mib", "8192", "--reconcile-ms", "500"])
        manifest = {
            "name": "bench-recovery-httpd", "version": "1.0.0",
            "description": "busybox httpd on <vm-ip>:80 serving /health (bench/recovery)",
            "runtime": "process",
            "workload": {
                "entrypoint": ["/bin/sh", "-c",
                               "mkdir -p \"$VOLANT_VM_DIR/www\" && echo ok > \"$VOLANT_VM_DIR/www/health\" "
                               "&& exec busybox httpd -f -p \"$VOLANT_IP:80\" -h \"$VOLANT_VM_DIR/www\""],
                "health_check": {"enabled": True, "http": {
                    "port": 80, "path": "/health", "interval_seconds": 1,
                    "timeout_seconds": 1, "unhealthy_threshold": 3}}}}
        mpath = os.path.join(tmp, "plugin.json")
        with open(mpath, "w") as f:
            json.dump(manifest, f, indent=2)
        d.volar("plugins", "install", "--manifest", mpath)
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
                label, len(vals), statistics.median(vals) * 1000, pct(vals, 90) * 1000,
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
            r_serv90 = pct(vs, 90) / pct(ss, 90)
            r_ready90 = pct(vr, 90) / pct(ss, 90)
            say("")
            say("ratio volant/supervisord (median): serving %.2f, READY %.2f; (p90): serving %.2f, READY %.2f"
                % (r_serv, r_ready, r_serv90, r_ready90))
            say("goal:     volant kill -> READY median <= supervisord kill -> serving median: %s (%.2fx); "
                "serving vs serving: %s (%.2fx)" % ("MET" if r_ready <= 1 else "MISSED", r_ready,
                                                  "MET" if r_serv <= 1 else "MISSED", r_serv))
        for f_ in failures:
            say("FAILED:   " + f_)
    except Watchdog as e:
        say("ABORTED:  %s" % e)
        failures.append(str(e))
    except Exception as e:  # report, clean up, exit non-zero
        say("ERROR:    %s: %s" % (type(e).__name__, e))
        failures.append(str(e))
    finally:
        signal.alarm(0)
        if d is not None:
            try:
                for dep in json.loads(d.volar("deployments", "list", "--json", check=False).stdout or "[]"):
                    d.volar("deployments", "delete", dep["name"], "--force", check=False)
                t0 = mono()
                while mono() - t0 < 20:
                    r = d.volar("vms", "list", "--json", check=False)
                    if r.returncode != 0 or json.loads(r.stdout or "[]") == []:
                        break
                    time.sleep(0.2)
            except Exception as e:
                say("cleanup: %s" % e)
            d.stop()
        if s is not None:
            s.stop()
        left = pids_with_env_prefix("VOLANT_VM_DIR=" + os.path.join(tmp, "data") + "/")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if d is not None:
            with open(d.logpath, errors="replace") as f:
                log = f.read().splitlines()
            warn = [l for l in log if "[warning]" in l or "[error]" in l or "[critical]" in l]
            say("")
            say("daemon log: %d lines, %d warning/error lines%s" % (len(log), len(warn),
                                                                   ":" if warn else ""))
            for l in warn[:10]:
                say("  " + l)
        say("cleanup:  deployments deleted, volantd and supervisord stopped, %d leftover workload "
            "processes killed, listeners left on 127.81.*:80: %d" % (len(left), len(listeners("127.81."))))
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
