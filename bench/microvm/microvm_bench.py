#!/usr/bin/env python3
"""bench/microvm: QEMU microVM boot and footprint with the guest of tools/mkguest.

In a network namespace it creates (volant-b-<pid>; the bridge vbr0
192.168.127.1/24 and the TAPs exist only there), with the qemu driver's command
line (src/runtime/qemu_driver.cpp, qemu_command: -M microvm,acpi=on, serial console
to a file, QMP socket, virtio-net on a TAP):

  * per VM, 10 times one after another: launch -> ready marker on the console
    (`VOLANT-READY <vm> <ip>`) and launch -> first HTTP 200 from GET /health
    (median, p90)
  * 0 -> N ready for N = 1, 2, 4, 8 (all launched at once; until every VM answered
    /health)
  * RSS of one idle VM's QEMU (VmRSS, RssAnon, RssFile; file pages are the kernel
    image, shared between VMs) 5 s after all 8 were ready
  * graceful stop: QMP system_powerdown -> QEMU exited

The accelerator is chosen as the driver does (KVM only if /dev/kvm opens and
kvm_pvm is not loaded). Every QEMU is killed and the namespace deleted at the end.
Not a test; needs root and the packages of tools/mkguest/README.md.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (Say, load_avg, percentile, uname_sr, utc_now)  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BRIDGE, GATEWAY, PREFIX = "vbr0", "192.168.127.1", 24


def mono():
    return time.monotonic()


def accelerator():
    if os.path.exists("/sys/module/kvm_pvm"):
        return "tcg", "kvm_pvm is loaded (cannot boot stock kernels)"
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return "kvm", "/dev/kvm usable"
    except OSError as e:
        return "tcg", "/dev/kvm not usable: %s" % e.strerror


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


class VM:
    def __init__(self, index, guest, tmp, accel, memory):
        self.name = "bench-%d" % index
        self.ip = "192.168.127.%d" % (10 + index)
        self.tap = "vltbench%d" % index
        self.dir = os.path.join(tmp, self.name)
        self.log = os.path.join(tmp, self.name + ".log")
        os.makedirs(self.dir, exist_ok=True)
        append = "console=ttyS0 panic=-1 quiet"
        if accel == "tcg":
            append += " tsc_early_khz=2000000 tsc=reliable"
        append += " volant.name=%s volant.ip=%s/%d volant.gw=%s" % (self.name, self.ip, PREFIX, GATEWAY)
        self.argv = ["qemu-system-x86_64", "-name", "volant-bench:" + self.name,
                     "-M", "microvm,acpi=on", "-accel", accel]
        if accel == "kvm":
            self.argv += ["-cpu", "host"]
        self.argv += ["-smp", "1", "-m", str(memory),
                      "-kernel", os.path.join(guest, "vmlinux"),
                      "-initrd", os.path.join(guest, "initramfs.cpio.gz"),
                      "-append", append,
                      "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                      "-chardev", "file,id=console,append=on,path=" + self.log.replace(",", ",,"),
                      "-serial", "chardev:console",
                      "-qmp", "unix:qmp.sock,server=on,wait=off",
                      "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % self.tap,
                      "-device", "virtio-net-device,netdev=n0,mac=02:00:00:00:01:%02x" % index]
        self.proc = None
        self.t0 = self.t_ready = self.t_http = None

    def start(self):
        sh("ip tuntap add dev %s mode tap && ip link set %s master %s up" % (self.tap, self.tap, BRIDGE))
        open(self.log, "w").close()
        self.t0 = mono()
        self.proc = subprocess.Popen(self.argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def poll(self):
        """Advances the ready/HTTP timestamps; True when both are set."""
        if self.proc.poll() is not None:
            raise RuntimeError("%s: QEMU exited with %s; log: %s" % (self.name, self.proc.returncode, self.log))
        if self.t_ready is None:
            with open(self.log, errors="replace") as f:
                if ("VOLANT-READY %s %s" % (self.name, self.ip)) in f.read():
                    self.t_ready = mono()
        if self.t_http is None and http_ok(self.ip):
            self.t_http = mono()
        return self.t_ready is not None and self.t_http is not None

    def qmp(self, command):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(3)
        s.connect(os.path.join(self.dir, "qmp.sock"))
        f = s.makefile("rw")
        f.readline()
        for c in ("qmp_capabilities", command):
            f.write(json.dumps({"execute": c}) + "\n")
            f.flush()
            while "event" in json.loads(f.readline()):
                pass
        s.close()

    def stop(self, graceful):
        if self.proc and self.proc.poll() is None:
            if graceful:
                try:
                    self.qmp("system_powerdown")
                    self.proc.wait(30)
                except Exception:
                    pass
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        subprocess.run(["ip", "link", "del", self.tap], stderr=subprocess.DEVNULL)


def http_ok(ip, port=80):
    try:
        with socket.create_connection((ip, port), timeout=0.3) as s:
            s.settimeout(1)
            s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.startswith(b"HTTP/1.") and data[8:13] == b" 200 " and data.endswith(b"ok\n")
    except OSError:
        return False


def boot(vms, deadline):
    for vm in vms:
        vm.start()
    until = mono() + deadline
    pending = list(vms)
    while pending:
        if mono() > until:
            raise RuntimeError("not ready after %d s: %s" % (deadline, ", ".join(v.name for v in pending)))
        pending = [v for v in pending if not v.poll()]
        time.sleep(0.02)


def process_baseline(runs, tmp):
    """The same workload (busybox httpd serving /health) as a plain host process:
    launch -> first HTTP 200, the baseline the microVM figures are divided by."""
    www = os.path.join(tmp, "baseline-www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "health"), "w") as f:
        f.write("ok\n")
    times = []
    for i in range(runs):
        port = 18080 + i
        t0 = mono()
        proc = subprocess.Popen(["busybox", "httpd", "-f", "-p", "127.0.0.1:%d" % port, "-h", www],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not http_ok("127.0.0.1", port):
                if mono() - t0 > 10:
                    raise RuntimeError("baseline httpd did not answer within 10 s")
                time.sleep(0.002)
            times.append(mono() - t0)
        finally:
            proc.kill()
            proc.wait()
    return times


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def inside(args):
    say = Say()
    accel, why = accelerator()
    say("date:     %s" % utc_now())
    say("command:  %s" % args["command"])
    say("machine:  nproc=%d, %s, load average %s at start" % (os.cpu_count(), uname_sr(), load_avg()))
    qemu_version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0]
    say("qemu:     %s, accelerator %s (%s)" % (qemu_version, accel, why))
    say("guest:    %s (%s), -m %d, -smp 1" % (args["guest"], args["kernel_pkg"], args["memory"]))
    sh("ip link set lo up && ip link add %s type bridge && ip addr add %s/%d dev %s && ip link set %s up"
       % (BRIDGE, GATEWAY, PREFIX, BRIDGE, BRIDGE))
    tmp = tempfile.mkdtemp(prefix="volant-microvm-bench-")
    vms = []
    failures = []
    try:
        ready, http, stop = [], [], []
        for i in range(args["runs"]):
            vm = VM(0, args["guest"], tmp, accel, args["memory"])
            vms = [vm]
            boot(vms, 120)
            ready.append(vm.t_ready - vm.t0)
            http.append(vm.t_http - vm.t0)
            t = mono()
            vm.stop(graceful=True)
            stop.append(mono() - t)
            vms = []
        say()
        say("one VM at a time, %d runs:" % args["runs"])
        for label, v in (("launch -> ready marker", ready), ("launch -> HTTP /health 200", http),
                         ("system_powerdown -> exited", stop)):
            say("  %-28s median %5.2f s, p90 %5.2f s (min %.2f, max %.2f)"
                % (label, percentile(v, 50), percentile(v, 90), min(v), max(v)))
        base = process_baseline(args["runs"], tmp)
        say("  %-28s median %5.3f s, p90 %5.3f s (same workload as a host process: baseline)"
            % ("process launch -> HTTP 200", percentile(base, 50), percentile(base, 90)))
        say("  ratio microVM / process (launch -> HTTP 200, medians): %.0fx"
            % (percentile(http, 50) / max(percentile(base, 50), 1e-6)))
        say()
        say("0 -> N ready (launched at once, until every VM answered /health):")
        for n in args["ns"]:
            vms = [VM(i, args["guest"], tmp, accel, args["memory"]) for i in range(n)]
            t = mono()
            boot(vms, 300)
            total = max(v.t_http for v in vms) - t
            say("  N=%d: %5.2f s (per VM launch -> HTTP: median %.2f s, max %.2f s)"
                % (n, total, percentile([v.t_http - v.t0 for v in vms], 50),
                   max(v.t_http - v.t0 for v in vms)))
            if n == max(args["ns"]):
                time.sleep(5)
                rss = [status_kib(v.proc.pid, "VmRSS") for v in vms]
                anon = [status_kib(v.proc.pid, "RssAnon") for v in vms]
                filep = [status_kib(v.proc.pid, "RssFile") for v in vms]
                say()
                say("idle VM (%d running, 5 s after ready): VmRSS %.0f MiB (RssAnon %.0f MiB, "
                    "RssFile %.0f MiB shared page cache), mean over %d"
                    % (n, sum(rss) / n / 1024, sum(anon) / n / 1024, sum(filep) / n / 1024, n))
                with open("/proc/meminfo") as f:
                    avail = [line for line in f if line.startswith("MemAvailable")][0].split()[1]
                say("host MemAvailable with %d VMs: %d MiB" % (n, int(avail) // 1024))
            for v in vms:
                v.stop(graceful=False)
            vms = []
    except Exception as e:  # noqa: BLE001
        say("ERROR:    %s" % e)
        failures.append(str(e))
    finally:
        for v in vms:
            v.stop(graceful=False)
    if failures:
        say("kept:     %s (logs)" % tmp)
    else:
        subprocess.run(["rm", "-rf", tmp])
    with open(args["out"], "w") as f:
        f.write("\n".join(say.lines) + "\n")
    return 1 if failures else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        with open(sys.argv[2]) as f:
            sys.exit(inside(json.load(f)))
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--n", default="1,2,4,8", help="VM counts for 0 -> N")
    ap.add_argument("--memory", type=int, default=128, help="MiB per VM")
    ap.add_argument("--guest", default="", help="mkguest output dir (default: build one in the cache)")
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "microvm", "LATEST.md"))
    ap.add_argument("--command", default=" ".join(sys.argv))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/microvm: needs root (network namespace, TAPs)")
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "volant")
    guest = a.guest or os.path.join(cache, "bench-guest")
    if not a.guest:
        subprocess.run([os.path.join(REPO, "tools", "mkguest", "mkguest"), "--out", guest], check=True)
    with open(os.path.join(guest, "manifest.json")) as f:
        desc = json.load(f)["description"]
    kernel_pkg = desc[desc.find("kernel ") + 7:].split(",")[0].rstrip(")")
    ns = "volant-b-%d" % os.getpid()
    work = tempfile.mkdtemp(prefix="volant-microvm-")
    params = os.path.join(work, "params.json")
    out = os.path.join(work, "out.txt")
    with open(params, "w") as f:
        json.dump({"command": a.command, "guest": guest, "runs": a.runs, "memory": a.memory,
                   "ns": [int(x) for x in a.n.split(",")], "out": out, "kernel_pkg": kernel_pkg}, f)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    rc = 1
    try:
        # `ip netns exec` also remounts /sys for the namespace.
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
                             "--inside", params]).returncode
    finally:
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["ip", "netns", "del", ns])
    if os.path.exists(out):
        with open(out) as f:
            lines = f.read().rstrip("\n")
        with open(a.results, "a") as f:
            f.write("\n## bench/microvm, %s\n\n```\n%s\n```\n" % (utc_now(), lines))
        print("appended to %s" % a.results)
    subprocess.run(["rm", "-rf", work])
    sys.exit(rc)


if __name__ == "__main__":
    main()
