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
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

POOL = "127.79.0.0/16"
BASELINE_NET = "127.80.0."


def now():
    return time.monotonic()


def listeners(prefix, port=80):
    """Number of LISTEN sockets on <prefix>*:port, from /proc/net/tcp."""
    count = 0
    want_port = "%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, state = parts[1], parts[3]
            if state != "0A":
                continue
            hexip, hexport = local.split(":")
            if hexport != want_port:
                continue
            raw = int(hexip, 16)
            ip = ".".join(str((raw >> (8 * i)) & 0xFF) for i in range(4))
            if ip.startswith(prefix):
                count += 1
    return count


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Daemon:
    def __init__(self, build, extra, label):
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="volant-bench-scale-")
        self.label = label
        self.group = None
        self.volantd = os.path.join(build, "src/daemon/volantd")
        self.volar_bin = os.path.join(build, "src/cli/volar")
        self.log = open(os.path.join(self.dir, "volantd.log"), "ab")
        args = [self.volantd, "--data-dir", self.dir, "--listen", "127.0.0.1:0",
                "--pool", POOL, "--stop-grace-ms", "2000", "--log-level", "warn"] + extra
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, start_new_session=True)
        deadline = now() + 30
        endpoint = os.path.join(self.dir, "endpoint")
        while now() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("volantd exited: see " + self.log.name)
            try:
                with open(endpoint) as f:
                    if f.read().endswith("\n"):
                        break
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        else:
            raise SystemExit("volantd wrote no endpoint")

    def volar(self, *args, check=True):
        r = subprocess.run([self.volar_bin, "--data-dir", self.dir] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit("volar %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def list_json(self):
        return json.loads(self.volar("deployments", "list", "--json").stdout)

    def counts(self, name):
        for d in self.list_json():
            if d["name"] == name:
                return d["desired"], d["current"], d["ready"]
        return None

    def wait_counts(self, name, pred, timeout):
        deadline = now() + timeout
        while now() < deadline:
            c = self.counts(name)
            if c is not None and pred(*c):
                return True
            time.sleep(0.02)
        return False

    def rss(self):
        return rss_mib(self.proc.pid)

    def find_group(self):
        """volantd's cgroup group, read from one of its running workloads."""
        for vm in json.loads(self.volar("vms", "list", "--json").stdout):
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
        try:
            for d in self.list_json():
                self.volar("deployments", "delete", d["name"], "--force", check=False)
            deadline = now() + 60
            while now() < deadline:
                if not json.loads(self.volar("vms", "list", "--json").stdout):
                    break
                time.sleep(0.2)
        except Exception as e:  # noqa: BLE001 - best effort
            print("cleanup:", e, file=sys.stderr)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # Anything left of this data dir's workloads.
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if ("VOLANT_VM_DIR=" + self.dir + "/").encode() in env:
                try:
                    os.killpg(int(pid), signal.SIGKILL)
                except OSError:
                    pass
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        # The VMs' cgroups (volant-<hash of the data dir>/<vm>), now empty.
        if self.group:
            for controller in ("memory", "cpu"):
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


def install_plugin(d, www):
    manifest = {
        "name": "bench-httpd",
        "version": "1.0.0",
        "description": "bench: busybox httpd, no health check",
        "runtime": "process",
        "workload": {"entrypoint": ["busybox", "httpd", "-f", "-p", "${VOLANT_IP}:80",
                                    "-h", www]},
    }
    path = os.path.join(d.dir, "bench-httpd.json")
    with open(path, "w") as f:
        json.dump(manifest, f)
    d.volar("plugins", "install", "--manifest", path)


def baseline_spawn(www, n=100):
    """The same n processes from a shell loop: time to all listening."""
    script = ("for i in $(seq 1 %d); do busybox httpd -f -p %s$i:80 -h %s & done; wait"
              % (n, BASELINE_NET, shlex.quote(www)))
    t0 = now()
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    while listeners(BASELINE_NET) < n and now() - t0 < 60:
        time.sleep(0.002)
    elapsed = now() - t0
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = now() + 10
    while listeners(BASELINE_NET) > 0 and now() < deadline:
        time.sleep(0.01)
    return elapsed


def timed_calls(cmd, n):
    out = []
    for _ in range(n):
        t0 = now()
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        out.append((now() - t0) * 1000.0)
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
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("ok\n")
    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    say("host: %d CPUs, %s" % (os.cpu_count(), subprocess.run(
        ["uname", "-sr"], capture_output=True, text=True).stdout.strip()))

    base100 = baseline_spawn(www)

    d = Daemon(build, ["--memory-mib", "100000", "--cpus", "1000"], "100")
    try:
        install_plugin(d, www)
        rss_idle = d.rss()
        t0 = now()
        d.volar("deployments", "create", "bench", "--plugin", "bench-httpd",
                "--replicas", "100", "--memory", "16")
        ack = now() - t0
        ok = d.wait_counts("bench", lambda de, cu, re: re == 100 and cu == 100, 120)
        ready100 = now() - t0
        while listeners("127.79.") < 100 and now() - t0 < 120:
            time.sleep(0.005)
        serving100 = now() - t0
        if not ok:
            say("0 -> 100: NOT READY after 120 s: %s" % (d.counts("bench"),))
        time.sleep(1.0)
        rss100 = d.rss()
        d.find_group()

        volar_list = [d.volar_bin, "--data-dir", d.dir, "deployments", "list"]
        list_ms = timed_calls(volar_list, 200)
        curl_ms = timed_calls(["curl", "-s", "-o", "/dev/null", "http://127.79.0.1/"], 200)

        t0 = now()
        d.volar("deployments", "scale", "bench", "--replicas", "0")
        ok0 = d.wait_counts("bench", lambda de, cu, re: cu == 0, 120)
        zero = now() - t0
        while listeners("127.79.") > 0 and now() - t0 < 120:
            time.sleep(0.005)
        unlisten = now() - t0
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
        d = Daemon(build, ["--memory-mib", "100000", "--cpus", "1000",
                           "--max-replicas", "1000", "--max-vms", "1000"], "1000")
        try:
            install_plugin(d, www)
            t0 = now()
            d.volar("deployments", "create", "bench", "--plugin", "bench-httpd",
                    "--replicas", "1000", "--memory", "8")
            ok = d.wait_counts("bench", lambda de, cu, re: re == 1000 and cu == 1000, 600)
            ready1000 = now() - t0
            time.sleep(1.0)
            rss1000 = d.rss()
            d.find_group()
            list1000 = timed_calls([d.volar_bin, "--data-dir", d.dir, "deployments", "list"], 50)
            t0 = now()
            d.volar("deployments", "scale", "bench", "--replicas", "0")
            ok0 = d.wait_counts("bench", lambda de, cu, re: cu == 0, 600)
            zero1000 = now() - t0
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
        write_results(a.results, a.command, lines)


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
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmark results\n\n"
    out = []
    skipping = False
    replaced = False
    for line in text.splitlines():
        if line.strip() == "## bench/scale":
            skipping = True
            replaced = True
            out.extend(section)
            continue
        if skipping and line.startswith("## "):
            skipping = False
        if not skipping:
            out.append(line)
    if not replaced:
        if out and out[-1].strip():
            out.append("")
        out.extend(section)
    with open(path, "w") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
