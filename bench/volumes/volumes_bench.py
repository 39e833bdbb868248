#!/usr/bin/env python3
"""bench/volumes: the start of a replica with a persistent volume against the
same replica without one, for both drivers, in one run (not a test).

In a network namespace it creates (the microVM bridge never leaves it), two
volantd run: one with the process driver (pool 127.78.249.0/24, loopback) and
one for microVMs (the bridge 192.168.127.0/24, a busybox-static guest built by
`plugins install`, TCG where KVM cannot boot it). The workload appends a line
to DATA/runs and serves DATA over HTTP; DATA is the volume's path, or a plain
directory when there is no volume. Measured, kinds alternating in each round:

  * first start: `deployments create` -> first HTTP 200 of /runs. With a
    volume this includes making it (a directory, or an ext4 image by mke2fs);
  * restart: `deployments scale 0` then `scale 1` -> /runs answers with two
    lines (the volume is found again, not made).

The ratios are with / without a volume, per driver: what a volume adds to a
start.

Usage: bench/volumes/run.sh [--build DIR] [--rounds N] [--microvm-rounds N]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (Daemon, load_avg, mono, percentile, replace_section,  # noqa: E402
                          uname_sr, utc_now)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOST_PATH = "/var/lib/volant-bench-volumes/data"


def runs(ip):
    try:
        # A short timeout: a microVM not up yet answers no ARP, and a long one
        # would quantize the measurement.
        with urllib.request.urlopen("http://%s/runs" % ip, timeout=0.1) as r:
            return r.read().decode().splitlines() if r.status == 200 else None
    except Exception:
        return None


def wait_runs(d, name, lines, timeout):
    """Polls every 20 ms until NAME-0's /runs has `lines` lines; raises on timeout."""
    t0 = mono()
    ip = None
    while mono() - t0 < timeout:
        if ip is None:
            vms = d.vms(name)
            if vms and vms[0].get("ip"):
                ip = vms[0]["ip"]
        if ip is not None:
            got = runs(ip)
            if got is not None and len(got) == lines:
                return
        time.sleep(0.02)
    raise SystemExit("%s-0 never served /runs with %d lines" % (name, lines))


def plugin(name, runtime, data):
    m = {"name": name, "version": "1.0.0", "runtime": runtime,
         "description": "bench/volumes: appends to %s/runs and serves it" % data,
         "workload": {"entrypoint": [
             "/bin/sh", "-c",
             "mkdir -p %s && echo \"$VOLANT_VM_NAME\" >> %s/runs && exec busybox httpd -f "
             "-p %s:80 -h %s" % (data, data, "$VOLANT_IP" if runtime == "process" else "0.0.0.0",
                                 data)]}}
    if runtime == "qemu":
        m["guest"] = {"debian_packages": ["busybox-static"]}
    return m


def install(d, tmp, manifest):
    path = os.path.join(tmp, manifest["name"] + ".json")
    with open(path, "w") as f:
        json.dump(manifest, f)
    d.volar("plugins", "install", "--manifest", path)


def measure(d, plugin_name, volume, n, timeout):
    """(first start s, restart s) of deployment b<n>."""
    name = "b%d" % n
    args = ["deployments", "create", name, "--plugin", plugin_name, "--memory", "128"]
    if volume:
        args += ["--volume", volume]
    t0 = mono()
    d.volar(*args)
    wait_runs(d, name, 1, timeout)
    first = mono() - t0
    d.volar("deployments", "scale", name, "--replicas", "0", "--wait", "--timeout", str(timeout))
    t0 = mono()
    d.volar("deployments", "scale", name, "--replicas", "1")
    # With a volume the data is still there: two lines; without, the VM's
    # directory is new (process: recreated; microVM: a new root overlay).
    wait_runs(d, name, 2 if volume else 1, timeout)
    again = mono() - t0
    d.volar("deployments", "delete", name, "--force", "--purge-volumes")
    return first, again


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--microvm-rounds", type=int, default=3)
    ap.add_argument("--command", default="bench/volumes/run.sh")
    ap.add_argument("--results", default=os.path.join(REPO, "bench/RESULTS.md"))
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.in_netns:
        ns = "volant-v-%d" % os.getpid()
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable] + sys.argv + ["--in-netns"])
            return r.returncode
        finally:
            subprocess.run("ip netns pids %s | xargs -r kill -9" % ns, shell=True)
            time.sleep(0.3)
            subprocess.run(["ip", "netns", "del", ns])

    volantd = os.path.join(args.build, "src/daemon/volantd")
    volar = os.path.join(args.build, "src/cli/volar")
    tmp = tempfile.mkdtemp(prefix="volant-bench-volumes-")
    os.chmod(tmp, 0o711)
    out = []

    def say(line=""):
        print(line, flush=True)
        out.append(line)

    say("date:     %s" % utc_now())
    say("command:  %s" % args.command)
    say("machine:  nproc=%d, %s, load average %s at start" % (os.cpu_count(), uname_sr(), load_avg()))
    dp = Daemon(volantd, volar, os.path.join(tmp, "data-p"), os.path.join(tmp, "volantd-p.log"),
                "127.78.249.0/24", ["--memory-mib", "8192", "--cpus", "16", "--dns-listen", "off"],
                volar_timeout=300)
    dq = Daemon(volantd, volar, os.path.join(tmp, "data-q"), os.path.join(tmp, "volantd-q.log"),
                "192.168.127.0/24", ["--memory-mib", "8192", "--cpus", "16", "--dns-listen", "off"],
                volar_timeout=900)
    try:
        install(dp, tmp, plugin("bench-proc", "process", HOST_PATH))
        install(dp, tmp, plugin("bench-proc-plain", "process", "$VOLANT_VM_DIR/data"))
        install(dq, tmp, plugin("bench-vm", "qemu", "/data"))
        accel = json.loads(dq.volar("debug", "resources", "--json").stdout).get("qemu", {})
        say("qemu:     accelerator %s" % accel.get("accelerator", "?"))
        kinds = [("process, volume", dp, "bench-proc", HOST_PATH + ":persistent", args.rounds),
                 ("process, none", dp, "bench-proc-plain", None, args.rounds),
                 ("microVM, volume (64 MiB ext4)", dq, "bench-vm", "/data:persistent:64M",
                  args.microvm_rounds),
                 ("microVM, none", dq, "bench-vm", None, args.microvm_rounds)]
        first = {k[0]: [] for k in kinds}
        again = {k[0]: [] for k in kinds}
        n = 0
        for r in range(max(args.rounds, args.microvm_rounds)):
            for label, d, plugin_name, volume, rounds in kinds:
                if r >= rounds:
                    continue
                n += 1
                f, a = measure(d, plugin_name, volume, n, 600)
                first[label].append(f)
                again[label].append(a)
        say("")
        say("replica start -> first HTTP 200 of its data (rounds alternate the kinds):")
        say("  %-30s %8s %8s   %8s %8s" % ("", "first", "", "restart", ""))
        say("  %-30s %8s %8s   %8s %8s" % ("kind", "median", "max", "median", "max"))
        for label, *_ in kinds:
            say("  %-30s %7.3fs %7.3fs   %7.3fs %7.3fs   (%d rounds)"
                % (label, percentile(first[label], 50), max(first[label]),
                   percentile(again[label], 50), max(again[label]), len(first[label])))
        say("")
        for driver in ("process", "microVM"):
            with_v = [k[0] for k in kinds if k[0].startswith(driver) and k[3]][0]
            without = [k[0] for k in kinds if k[0].startswith(driver) and not k[3]][0]
            say("ratio:    %-8s with / without a volume: first start %.2fx, restart %.2fx"
                % (driver, percentile(first[with_v], 50) / percentile(first[without], 50),
                   percentile(again[with_v], 50) / percentile(again[without], 50)))
    finally:
        dp.shut_down(lambda s: say(s))
        dq.shut_down(lambda s: say(s))
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(os.path.dirname(HOST_PATH), ignore_errors=True)
    section = ["## bench/volumes", "",
               "Start of a replica with a persistent volume against the same replica without "
               "one, per driver, in one run (`bench/volumes/volumes_bench.py`).", "",
               "```"] + out + ["```"]
    replace_section(args.results, "## bench/volumes", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
