#!/usr/bin/env python3
"""bench/scale: scaling benchmark of volantd + volar on the process driver (not a test).

Measures, in one run:
  * 0 -> 100 READY: time from `volar deployments create --replicas 100` to
    desired == current == ready == 100, and to all 100 workloads listening;
    baseline: the same 100 busybox httpd processes spawned from a shell loop.
  * 100 -> 0: time from `volar deployments scale --replicas 0` to CURRENT 0, and to
    no workload left listening.
  * `volar deployments list` round trip, p50 / p99 over 200 calls (100 replicas
    running); baseline: `curl` of one replica (a process start plus one loopback
    request).
  * volantd RSS (VmRSS) idle, at 100 replicas and at 1,000 replicas (the latter
    with --max-replicas 1000 --max-vms 1000, 8 MiB per VM).

The workload is busybox httpd without a health check (READY when running). Only
loopback addresses are used: the VMs' pool is 127.79.0.0/16, the baseline's
127.80.0.0/24.

Usage: bench/scale/run.sh [--build DIR] [--no-1000] [--results FILE]
"""

import argparse
import datetime
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (Daemon, Say, install_plugin, kill_workloads, listeners, mono,  # noqa: E402
                          percentile, replace_section, rss_mib, uname_sr)

POOL = "127.79.0.0/16"
BASELINE_NET = "127.80.0."


class ScaleDaemon(Daemon):
    """volantd from the build dir on a fresh temp data dir (log inside it)."""

    def __init__(self, build, extra):
        data = tempfile.mkdtemp(prefix="volant-bench-scale-")
        super().__init__(os.path.join(build, "src/daemon/volantd"),
                         os.path.join(build, "src/cli/volar"), data,
                         os.path.join(data, "volantd.log"), POOL,
                         ["--stop-grace-ms", "2000", "--log-level", "warn"] + extra,
                         error=SystemExit)
        self.group = None

    def counts(self, name):
        d = self.deployment(name)
        return None if d is None else (d["desired"], d["current"], d["ready"])

    def wait_counts(self, name, pred, timeout):
        deadline = mono() + timeout
        while mono() < deadline:
            c = self.counts(name)
            if c is not None and pred(*c):
                return True
            time.sleep(0.02)
        return False

    def rss(self):
        return rss_mib(self.pid)

    def find_group(self):
        """volantd's cgroup group, read from one of its running workloads."""
        for vm in self.vms():
            try:
                with open("/proc/%d/cgroup" % vm["pid"]) as f:
                    for line in f:
                        parts = line.strip().split(":", 2)
                        if parts[1] == "memory" and parts[2].startswith("/volant-"):
                            self.group = parts[2].split("/")[1]
                            return
            except (OSError, KeyError, IndexError):
                continue

    def cleanup(self):
        self.shut_down(lambda line: print(line, file=sys.stderr), timeout=60, poll=0.2)
        # Anything left of this data dir's workloads.
        kill_workloads(self.dir, groups=True)
        # The VMs' cgroups (volant-<hash of the data dir>/<vm>), now empty.
        if self.group:
            for controller in ("memory", "cpu", "cpuacct", "pids"):
                base = os.path.join("/sys/fs/cgroup", controller, self.group)
                if not os.path.isdir(base):
                    continue
                for sub in os.listdir(base):
                    if os.path.isdir(os.path.join(base, sub)):
                        try:
                            os.rmdir(os.path.join(base, sub))
                        except OSError:
                            pass
                try:
                    os.rmdir(base)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def install_httpd_plugin(d, www):
    manifest = {
        "name": "bench-httpd",
        "version": "1.0.0",
        "description": "bench: busybox httpd, no health check",
        "runtime": "process",
        "workload": {"entrypoint": ["busybox", "httpd", "-f", "-p", "${VOLANT_IP}:80",
                                    "-h", www]},
    }
    install_plugin(d, manifest, os.path.join(d.dir, "bench-httpd.json"))


def baseline_spawn(www, n=100):
    """The same n processes from a shell loop: time to all listening."""
    script = ("for i in $(seq 1 %d); do busybox httpd -f -p %s$i:80 -h %s & done; wait"
              % (n, BASELINE_NET, shlex.quote(www)))
    t0 = mono()
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    while len(listeners(BASELINE_NET)) < n and mono() - t0 < 60:
        time.sleep(0.002)
    elapsed = mono() - t0
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = mono() + 10
    while len(listeners(BASELINE_NET)) > 0 and mono() < deadline:
        time.sleep(0.01)
    return elapsed


def timed_calls(cmd, n):
    out = []
    for _ in range(n):
        t0 = mono()
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        out.append((mono() - t0) * 1000.0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--no-1000", action="store_true")
    ap.add_argument("--results", default="")
    ap.add_argument("--command", default=" ".join(sys.argv))
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    www = tempfile.mkdtemp(prefix="volant-bench-www-")
    os.chmod(www, 0o755)  # served by the workload user
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("ok\n")
    say = Say()
    say("host: %d CPUs, %s" % (os.cpu_count(), uname_sr()))

    base100 = baseline_spawn(www)

    d = ScaleDaemon(build, ["--memory-mib", "100000", "--cpus", "1000"])
    try:
        install_httpd_plugin(d, www)
        rss_idle = d.rss()
        t0 = mono()
        d.volar("deployments", "create", "bench", "--plugin", "bench-httpd",
                "--replicas", "100", "--memory", "16")
        ack = mono() - t0
        ok = d.wait_counts("bench", lambda de, cu, re: re == 100 and cu == 100, 120)
        ready100 = mono() - t0
        while len(listeners("127.79.")) < 100 and mono() - t0 < 120:
            time.sleep(0.005)
        serving100 = mono() - t0
        if not ok:
            say("0 -> 100: NOT READY after 120 s: %s" % (d.counts("bench"),))
        time.sleep(1.0)
        rss100 = d.rss()
        d.find_group()

        volar_list = [d.volar_bin, "--data-dir", d.dir, "deployments", "list"]
        list_ms = timed_calls(volar_list, 200)
        curl_ms = timed_calls(["curl", "-s", "-o", "/dev/null", "http://127.79.0.1/"], 200)

        t0 = mono()
        d.volar("deployments", "scale", "bench", "--replicas", "0")
        ok0 = d.wait_counts("bench", lambda de, cu, re: cu == 0, 120)
        zero = mono() - t0
        while len(listeners("127.79.")) > 0 and mono() - t0 < 120:
            time.sleep(0.005)
        unlisten = mono() - t0
        if not ok0:
            say("100 -> 0: CURRENT not 0 after 120 s: %s" % (d.counts("bench"),))
    finally:
        d.cleanup()

    say("")
    say("| measure | value | baseline | ratio | goal |")
    say("|---|---|---|---|---|")
    say("| 0 -> 100 READY (create to desired = current = ready = 100) | %.2f s | %.2f s (100 busybox httpd from a shell loop, all listening) | %.1fx | < 2 s |"
        % (ready100, base100, ready100 / base100))
    say("| 0 -> 100 all listening | %.2f s | %.2f s | %.1fx | |" % (serving100, base100, serving100 / base100))
    say("| create acknowledged | %.0f ms | | | |" % (ack * 1000))
    say("| 100 -> 0 (scale to CURRENT 0) | %.2f s | | | |" % zero)
    say("| 100 -> 0 no replica listening | %.2f s | | | |" % unlisten)
    say("| `volar deployments list` p50 / p99 (200 calls, 100 replicas) | %.1f / %.1f ms | %.1f / %.1f ms (`curl` of a replica) | %.1fx (p50) | p50 < 20 ms |"
        % (percentile(list_ms, 50), percentile(list_ms, 99), percentile(curl_ms, 50),
           percentile(curl_ms, 99), percentile(list_ms, 50) / percentile(curl_ms, 50)))
    say("| volantd RSS idle / 100 replicas | %.1f / %.1f MiB | | | |" % (rss_idle, rss100))

    if not a.no_1000:
        d = ScaleDaemon(build, ["--memory-mib", "100000", "--cpus", "1000",
                                "--max-replicas", "1000", "--max-vms", "1000"])
        try:
            install_httpd_plugin(d, www)
            t0 = mono()
            d.volar("deployments", "create", "bench", "--plugin", "bench-httpd",
                    "--replicas", "1000", "--memory", "8")
            ok = d.wait_counts("bench", lambda de, cu, re: re == 1000 and cu == 1000, 600)
            ready1000 = mono() - t0
            time.sleep(1.0)
            rss1000 = d.rss()
            d.find_group()
            list1000 = timed_calls([d.volar_bin, "--data-dir", d.dir, "deployments", "list"], 50)
            t0 = mono()
            d.volar("deployments", "scale", "bench", "--replicas", "0")
            ok0 = d.wait_counts("bench", lambda de, cu, re: cu == 0, 600)
            zero1000 = mono() - t0
        finally:
            d.cleanup()
        say("| volantd RSS at 1,000 replicas | %.1f MiB | %.1f MiB (at 100) | %.1fx | < 150 MiB |"
            % (rss1000, rss100, rss1000 / rss100))
        say("| 0 -> 1,000 READY | %.2f s%s | | | |" % (ready1000, "" if ok else " (NOT reached)"))
        say("| 1,000 -> 0 CURRENT | %.2f s%s | | | |" % (zero1000, "" if ok0 else " (NOT reached)"))
        say("| `volar deployments list` p50 / p99 (50 calls, 1,000 replicas) | %.1f / %.1f ms | | | |"
            % (percentile(list1000, 50), percentile(list1000, 99)))
    shutil.rmtree(www, ignore_errors=True)

    if a.results:
        write_results(a.results, a.command, say.lines)


def write_results(path, command, lines):
    """Replaces (or appends) the "## bench/scale" section of RESULTS.md only."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.abspath(path))).stdout.strip()
    section = ["## bench/scale", "",
               "Latest run: %s (commit %s, plus uncommitted work)." % (stamp, commit or "?"),
               "", "Command: `%s`" % command, "",
               "Workload: busybox httpd per replica, no health check (READY when running); "
               "process driver; pool 127.79.0.0/16. Times are wall clock from the volar "
               "command to the state shown by `volar deployments list --json` (polled every "
               "20 ms).", ""] + lines + [""]
    replace_section(path, "## bench/scale", section)


if __name__ == "__main__":
    main()
