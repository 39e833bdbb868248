#!/usr/bin/env python3
"""bench/microvm/guests.sh: microVM guests built at install, through volantd (docs/guests.md).

In a network namespace it creates (volant-g-<pid>; bridge and TAPs exist only
there), with a fresh guest cache (cold builds) and the machine's package cache:

  * guest build: `plugins install` of nginx-qemu (cold: packages unpacked, ext4
    written) and of the same guest again under another version (cached), and the
    python3 guest cold
  * launch -> first HTTP 200 on GET /health, per replica, ROUNDS rounds, the three
    kinds alternating in each round: the busybox initramfs guest of tools/mkguest,
    the nginx rootfs guest (Debian's nginx), and the same nginx as a host process
    (examples/plugins/nginx.manifest.json: the baseline of the same run). Each
    round creates a 1-replica deployment, polls the VM's /health every 20 ms from
    the moment `deployments create` is sent, then deletes it.

Not a test; needs root, qemu-system-x86 and the package cache (`volar guest fetch
nginx python3`).
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
from volant_bench import Daemon, load_avg, percentile, uname_sr, utc_now  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def mono():
    return time.monotonic()


def health_ok(ip):
    try:
        with urllib.request.urlopen("http://%s/health" % ip, timeout=0.5) as r:
            return r.status == 200
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--command", default="bench/microvm/guests.sh")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.in_netns:
        ns = "volant-g-%d" % os.getpid()
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
    tmp = tempfile.mkdtemp(prefix="volant-bench-guests-")
    os.chmod(tmp, 0o711)
    cache = os.path.join(tmp, "guest-cache")
    out = []

    def say(line=""):
        print(line, flush=True)
        out.append(line)

    say("date:     %s" % utc_now())
    say("command:  %s" % args.command)
    say("machine:  nproc=%d, %s, load average %s at start" % (os.cpu_count(), uname_sr(), load_avg()))
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    say("qemu:     %s" % qemu)

    # The older busybox guest, from tools/mkguest (cached by it), where QEMU (run
    # as the workload user) can read it.
    mk_out = "/var/cache/volant/mkguest-busybox-httpd"
    os.makedirs(mk_out, exist_ok=True)
    os.chmod(mk_out, 0o755)
    mk = subprocess.run([os.path.join(REPO, "tools/mkguest/mkguest"), "--out", mk_out],
                        capture_output=True, text=True)
    if mk.returncode != 0:
        raise SystemExit("mkguest failed: " + mk.stderr)
    busybox_manifest = os.path.join(mk_out, "manifest.json")

    d = Daemon(volantd, volar, os.path.join(tmp, "data"), os.path.join(tmp, "volantd.log"),
               "192.168.127.0/24", ["--guest-cache", cache, "--memory-mib", "8192", "--cpus", "16"],
               volar_timeout=900)
    # The host-process baseline in a daemon of its own, on loopback addresses
    # (a process VM binds its pool IP on the host; the bridge's subnet is the
    # microVMs').
    dp = Daemon(volantd, volar, os.path.join(tmp, "data-p"), os.path.join(tmp, "volantd-p.log"),
                "127.78.250.0/24", ["--memory-mib", "8192", "--cpus", "16"], volar_timeout=120)
    try:
        def timed_install(manifest, version=None, daemon=d):
            m = json.load(open(manifest))
            if version:
                m["version"] = version
            for kind in ("health_check",):
                hc = m["workload"].get(kind)
                if hc and "http" in hc:
                    hc["http"]["interval_seconds"] = 1
                    hc["http"]["timeout_seconds"] = 1
            path = os.path.join(tmp, "%s-%s.json" % (m["name"], m["version"]))
            json.dump(m, open(path, "w"))
            t0 = mono()
            daemon.volar("plugins", "install", "--manifest", path)
            return mono() - t0, m["name"] + ":" + m["version"]

        cold, nginx_q = timed_install(os.path.join(REPO, "examples/plugins/nginx-qemu.manifest.json"))
        cached, _ = timed_install(os.path.join(REPO, "examples/plugins/nginx-qemu.manifest.json"), "9.9.9")
        py_cold, _ = timed_install(os.path.join(REPO, "examples/plugins/python-http-qemu.manifest.json"))
        _, busybox_q = timed_install(busybox_manifest)
        _, nginx_p = timed_install(os.path.join(REPO, "examples/plugins/nginx.manifest.json"),
                                   daemon=dp)
        image = json.loads(d.volar("plugins", "show", nginx_q, "--json").stdout)["image"]
        say("")
        say("guest build (plugins install, through volantd):")
        say("  nginx-qemu cold     %6.2f s  (%s, %d MiB)" % (cold, image["summary"], image["bytes"] >> 20))
        say("  nginx-qemu cached   %6.2f s  (same inputs, another version)" % cached)
        say("  python3 guest cold  %6.2f s" % py_cold)
        say("  ratio cold / cached: %.1fx" % (cold / cached if cached > 0 else float("inf")))

        kinds = [("busybox initramfs guest", busybox_q, d),
                 ("nginx rootfs guest", nginx_q, d),
                 ("nginx host process", nginx_p, dp)]
        times = {k[0]: [] for k in kinds}
        n = 0
        for r in range(args.rounds):
            for label, plugin, dd in kinds:
                n += 1
                name = "b%d" % n
                t0 = mono()
                dd.volar("deployments", "create", name, "--plugin", plugin, "--replicas", "1",
                         "--memory", "128")
                ip = None
                while mono() - t0 < 120:
                    if ip is None:
                        vms = dd.vms(name)
                        if vms and vms[0].get("ip"):
                            ip = vms[0]["ip"]
                    if ip and health_ok(ip):
                        break
                    time.sleep(0.02)
                else:
                    raise SystemExit("%s (%s) never answered /health" % (name, label))
                times[label].append(mono() - t0)
                dd.delete_deployments([name], timeout=60)
        base = percentile(times["nginx host process"], 50)
        say("")
        say("create -> first HTTP 200 on /health (%d rounds, kinds alternating):" % args.rounds)
        for label, _, _ in kinds:
            v = times[label]
            med = percentile(v, 50)
            say("  %-24s median %6.3f s, p90 %6.3f s (min %.3f, max %.3f)  %6.1fx the host process"
                % (label, med, percentile(v, 90), min(v), max(v), med / base if base > 0 else 0))
        say("")
    finally:
        d.shut_down(lambda s: say(s))
        dp.shut_down(lambda s: say(s))
        shutil.rmtree(tmp, ignore_errors=True)
    latest = os.path.join(REPO, "bench/microvm/GUESTS-LATEST.md")
    with open(latest, "w") as f:
        f.write("```\n" + "\n".join(out) + "\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
