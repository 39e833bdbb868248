#!/usr/bin/env python3
"""bench/client: how fast volar gives up when volantd dies during its request.

Per run: one volantd (--listen 127.0.0.1:0, pool 127.83.0.0/24, the same data dir
every run), one `volar shell -c 'events --follow'` attached to it (a long poll,
the kind of call that used to wait its whole 60 s request timeout). Once the
follow has printed the backlog (so it is connected), the daemon is SIGSTOPped:
volar's request is then in flight, held by the daemon or (if a reply had just
gone out) waiting unread in the daemon's end of the connection (/proc/net/tcp
rx_queue; the table says which). Then the daemon is SIGKILLed. Measured: kill ->
volar exited (wall clock, this process's monotonic clock), its exit code and its
stderr line (which must say "went away during the request").

Baselines in the same run, as whole volar processes like the measurement:
  * round trip: `volar deployments list` against a live daemon, exec to exit;
  * dead port:  `volar --endpoint 127.0.0.1:<closed port> deployments list`
    (connection refused), exec to exit;
  * with --old-volar PATH: the same kill with that volar (e.g. a build from
    before the fix), once, bounded by --old-limit seconds.

Only loopback addresses; every daemon and volar started here is stopped.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (Daemon, Say, arm_watchdog, copy_binaries, disarm_watchdog,  # noqa: E402
                          finish, http_health_plugin, install_plugin, kill_workloads,
                          mono, parse_args, percentile, report_error, say_daemon_log,
                          say_failures, say_header)

POOL = "127.83.0.0/24"


def unread_bytes(port):
    """Bytes received and not yet read on established connections to 127.0.0.1:port."""
    want = "0100007F:%04X" % port
    total = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[1] == want and p[3] == "01":
                total += int(p[4].split(":")[1], 16)
    return total


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed_volar(argv):
    """(seconds from exec to exit, exit code, stderr)."""
    t0 = mono()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    return mono() - t0, r.returncode, r.stderr.strip()


def wait_for(pred, timeout, every=0.01):
    t0 = mono()
    while mono() - t0 < timeout:
        if pred():
            return True
        time.sleep(every)
    return pred()


def kill_during_request(d, volar_bin, tmp, limit):
    """One measurement: returns (seconds from SIGKILL to volar's exit or None after
    `limit`, exit code, stderr, whether the request waited unread in the daemon's
    socket rather than held by it)."""
    out_path = os.path.join(tmp, "follow.out")
    err_path = os.path.join(tmp, "follow.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        follow = subprocess.Popen([volar_bin, "--data-dir", d.dir, "shell", "-c", "events --follow"],
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    try:
        if not wait_for(lambda: "plugin" in read(out_path), 10):
            raise RuntimeError("the follow printed no backlog within 10 s: %s" % read(err_path))
        port = int(read(os.path.join(d.dir, "endpoint")).strip().rsplit(":", 1)[1])
        os.kill(d.pid, signal.SIGSTOP)
        # The follow is a long poll (wait_ms 1000): its request is held by the
        # stopped daemon, or, if a reply had just gone out, the next one arrives
        # unread within a moment. Either way it is in flight.
        unread = wait_for(lambda: unread_bytes(port) > 0, 0.3)
        t0 = mono()
        os.kill(d.pid, signal.SIGKILL)
        try:
            code = follow.wait(limit)
            gave_up = mono() - t0
        except subprocess.TimeoutExpired:
            code, gave_up = None, None
        d.proc.wait()
        d.log.close()
        return gave_up, code, read(err_path).strip(), unread
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()


def own_flags(ap):
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--old-volar", default="", help="also measure this volar once")
    ap.add_argument("--old-limit", type=int, default=75, help="seconds to wait for --old-volar")


def main():
    a = parse_args(300 + a_old_budget(), own_flags)
    say = Say()
    arm_watchdog("client", a.deadline)
    tmp = tempfile.mkdtemp(prefix="volant-bench-client-")
    bindir, src_d, src_v = copy_binaries("client", a.build, tmp)
    volar = os.path.join(bindir, "volar")

    say("bench/client: volar's request when volantd dies mid-request -> volar gives up")
    say_header(say, a.command, src_d, src_v, bindir)
    say("daemon:   volantd --data-dir D --listen 127.0.0.1:0 --pool %s (restarted on D each run)" % POOL)
    say("request:  volar shell -c 'events --follow' (a long poll); SIGSTOP volantd, so the request "
        "stays in flight (held by the daemon, or unread in its socket); SIGKILL volantd; time "
        "from the SIGKILL to volar's exit")

    failures = []
    gave_up, trips, refused = [], [], []
    d = None
    data = os.path.join(tmp, "data")
    logpath = os.path.join(tmp, "volantd.log")

    def start():
        # A killed daemon leaves its endpoint file: Daemon() waits for a new one.
        try:
            os.unlink(os.path.join(data, "endpoint"))
        except FileNotFoundError:
            pass
        return Daemon(os.path.join(bindir, "volantd"), volar, data, logpath, POOL, [],
                      volar_timeout=60, settle=0.05)

    try:
        d = start()
        install_plugin(d, http_health_plugin("bench-client", "bench/client", "-f"),
                       os.path.join(tmp, "plugin.json"))
        say("")
        say("| run | round trip ms | dead port ms | request | kill -> volar exit ms | exit | stderr")
        say("|-----|---------------|--------------|---------|-----------------------|------|-------")
        for run in range(1, a.runs + 1):
            if d is None:
                d = start()
            trip, code, err = timed_volar([volar, "--data-dir", d.dir, "deployments", "list"])
            if code != 0:
                raise RuntimeError("deployments list: exit %d: %s" % (code, err))
            trips.append(trip)
            dead, dcode, derr = timed_volar([volar, "--data-dir", d.dir, "--endpoint",
                                             "127.0.0.1:%d" % closed_port(), "deployments", "list"])
            if dcode == 0:
                raise RuntimeError("volar reached a closed port")
            refused.append(dead)
            took, kcode, kerr, unread = kill_during_request(d, volar, tmp, 30)
            d = None
            if took is None:
                failures.append("run %d: volar still running 30 s after the kill" % run)
            elif "went away during the request" not in kerr or kcode == 0:
                failures.append("run %d: exit %s, stderr %r" % (run, kcode, kerr))
            if took is not None:
                gave_up.append(took)
            say("| %3d | %13.1f | %12.1f | %-7s | %21s | %4s | %s" % (
                run, trip * 1e3, dead * 1e3, "unread" if unread else "held",
                "-" if took is None else "%.1f" % (took * 1e3),
                kcode, kerr[:60] + ("..." if len(kerr) > 60 else "")))
        if a.old_volar:
            d = start()
            took, kcode, kerr, _ = kill_during_request(d, os.path.abspath(a.old_volar), tmp,
                                                       a.old_limit)
            d = None
            say("")
            say("old volar %s: %s after the kill (exit %s): %s" % (
                a.old_volar, "still running %d s" % a.old_limit if took is None
                else "%.1f ms" % (took * 1e3), kcode, kerr))
    except Exception as e:  # reported in the output, then cleaned up
        report_error(say, failures, e)
    finally:
        disarm_watchdog()
        if d is not None:
            d.stop()
        if os.path.isdir(data):
            kill_workloads(data)

    def row(name, xs):
        ms = [x * 1e3 for x in xs]
        say("| %-40s | %2d | %8.1f | %8.1f | %8.1f | %8.1f |" % (
            name, len(ms), percentile(ms, 50), percentile(ms, 90), min(ms or [float("nan")]),
            max(ms or [float("nan")])))

    say("")
    say("summary (ms):")
    say("| measure                                  |  n |   median |      p90 |      min |      max |")
    say("|------------------------------------------|----|----------|----------|----------|----------|")
    row("kill -9 of volantd -> volar exited", gave_up)
    row("baseline: deployments list round trip", trips)
    row("baseline: dead port (connection refused)", refused)
    if gave_up and trips:
        say("ratio:    give-up / round trip (medians): %.1fx; give-up / dead port: %.1fx" % (
            percentile(gave_up, 50) / percentile(trips, 50),
            percentile(gave_up, 50) / percentile(refused, 50)))
    if gave_up:
        say("goal:     volar gives up within about 1 s of the connection dropping: %s (max %.0f ms)"
            % ("MET" if max(gave_up) < 1.0 else "MISSED", max(gave_up) * 1e3))
    if os.path.exists(logpath):
        say_daemon_log(say, logpath)
    say_failures(say, failures)
    finish(say, a.out, tmp, failures)
    sys.exit(1 if failures else 0)


def a_old_budget():
    """Seconds of deadline the --old-volar run may need (the flags are parsed later)."""
    return 120 if "--old-volar" in sys.argv else 0


if __name__ == "__main__":
    main()
