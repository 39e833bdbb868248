"""Helpers shared by the Python benchmark drivers (bench/probes, bench/recovery,
bench/scale): the binaries, one volantd on its own data dir and volar calls against
it, /proc readers, the leftovers' cleanup, percentiles, the run's output lines and
the RESULTS.md section. Not a benchmark itself.

A driver imports it with this directory on sys.path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
    from volant_bench import Daemon, ...
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDS = ["build", "build-e2e", "build-me"]


def mono():
    return time.monotonic()


# --- flags ---------------------------------------------------------------------------

def parse_args(deadline, add_own):
    """The flags of a driver that copies the binaries: --build DIR, its own (added by
    add_own(parser)), --out FILE, --command and --deadline (default `deadline` s)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="", help="build dir (default: newest of %s)" % BUILDS)
    add_own(ap)
    ap.add_argument("--out", default="", help="also write the output to FILE")
    ap.add_argument("--command", default=" ".join(sys.argv))
    ap.add_argument("--deadline", type=int, default=deadline, help="seconds before giving up")
    return ap.parse_args()


# --- the run's output -------------------------------------------------------------

class Say:
    """say(line): prints the line (flushed) and keeps it in say.lines."""

    def __init__(self):
        self.lines = []

    def __call__(self, line=""):
        print(line, flush=True)
        self.lines.append(line)

    def write(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(path):
    """A file's mtime, UTC."""
    t = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def uname_sr():
    return subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip()


def load_avg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def say_header(say, command, src_d, src_v, bindir):
    """The date, command, machine and binaries lines that open a run's output."""
    say("date:     %s" % utc_now())
    say("command:  %s" % command)
    say("machine:  nproc=%d, %s, load average %s at start" % (os.cpu_count(), uname_sr(), load_avg()))
    say("volantd:  %s (mtime %s), copied to %s" % (src_d, stamp(src_d), bindir))
    say("volar:    %s (mtime %s)" % (src_v, stamp(src_v)))


def replace_section(path, heading, section):
    """Replaces the section that starts with the line `heading` (up to the next "## "
    line) of the Markdown file `path` with the lines `section` (heading included), or
    appends them; a missing file starts as "# Benchmark results"."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmark results\n\n"
    out = []
    skipping = False
    replaced = False
    for line in text.splitlines():
        if line.strip() == heading:
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


# --- the deadline and failures ------------------------------------------------------

class Watchdog(Exception):
    pass


def arm_watchdog(who, seconds):
    """Raises Watchdog("WHO: gave up after N s") in the main thread after `seconds`."""

    def on_alarm(signum, frame):
        raise Watchdog("%s: gave up after %d s" % (who, seconds))

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)


def disarm_watchdog():
    signal.alarm(0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


def say_failures(say, failures):
    for f in failures:
        say("FAILED:   " + f)


def report_error(say, failures, e):
    """Says an exception that ended the measurements and counts it as a failure."""
    if isinstance(e, Watchdog):
        say("ABORTED:  %s" % e)
    else:
        say("ERROR:    %s: %s" % (type(e).__name__, e))
    failures.append(str(e))


def finish(say, out, tmp, failures):
    """Writes the output to `out` (if set); removes `tmp`, or keeps it for its logs
    after a failure."""
    if out:
        say.write(out)
    if not failures:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        say("kept:     %s (logs)" % tmp)


# --- the binaries -------------------------------------------------------------------

def pick_binary(who, rel, env, build):
    """$ENV, else the newest REPO/<build>/rel (of BUILDS without a build dir)."""
    if os.environ.get(env):
        return os.path.abspath(os.environ[env])
    dirs = [build] if build else BUILDS
    found = [os.path.join(REPO, d, rel) for d in dirs]
    found = [p for p in found if os.path.isfile(p) and os.access(p, os.X_OK)]
    if not found:
        sys.exit("%s: no %s in %s (build it first, or set $%s)" % (who, rel, ", ".join(dirs), env))
    return max(found, key=os.path.getmtime)


def copy_binaries(who, build, tmp):
    """Copies volantd and volar (see pick_binary) to tmp/bin: (bindir, volantd, volar),
    the latter two the paths copied from."""
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    src_d = pick_binary(who, "src/daemon/volantd", "VOLANTD", build)
    src_v = pick_binary(who, "src/cli/volar", "VOLAR", build)
    shutil.copy2(src_d, os.path.join(bindir, "volantd"))
    shutil.copy2(src_v, os.path.join(bindir, "volar"))
    return bindir, src_d, src_v


# --- /proc --------------------------------------------------------------------------

def proc_dead(pid):
    """Gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def status_field(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return None


HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid, task=None):
    """utime + stime of a process (or one of its threads), in clock ticks."""
    path = "/proc/%d/stat" % pid if task is None else "/proc/%d/task/%d/stat" % (pid, task)
    with open(path) as f:
        s = f.read()
    rest = s[s.rfind(")") + 2:].split()
    return int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)


def host_ticks():
    """(all ticks, idle + iowait ticks) of the host, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    return sum(vals[:8]), vals[3] + vals[4]


def sample_cpu(pid, seconds, each_second=None):
    """pid's CPU over `seconds`, sampled every second (each_second() called after each
    sample): {"cpu": % of one core, "cpu_s", "wall", "per_sec": [%], "host_pct": % of one
    core the whole host was busy}."""
    c0, w0, h0 = cpu_ticks(pid), mono(), host_ticks()
    per_sec = []
    last_c, last_w = c0, w0
    for _ in range(int(seconds)):
        time.sleep(max(0.0, last_w + 1.0 - mono()))
        c, w = cpu_ticks(pid), mono()
        per_sec.append(100.0 * (c - last_c) / HZ / (w - last_w))
        if each_second is not None:
            each_second()
        last_c, last_w = c, w
    c1, w1, h1 = cpu_ticks(pid), mono(), host_ticks()
    busy = (h1[0] - h0[0]) - (h1[1] - h0[1])
    return {"cpu": 100.0 * (c1 - c0) / HZ / (w1 - w0), "cpu_s": (c1 - c0) / HZ, "wall": w1 - w0,
            "per_sec": per_sec, "host_pct": 100.0 * busy / max(1, h1[0] - h0[0]) * os.cpu_count()}


def rss_mib(pid):
    kib = status_field(pid, "VmRSS")
    return float("nan") if kib is None else int(kib) / 1024.0


def listeners(prefix, port=80):
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
    """Live processes with an environment entry that starts with `prefix`."""
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


def run_dir_for(data_dir):
    """The --run-dir a Daemon on data_dir gives volantd: beside the data directory
    (which the workload user cannot enter), DATA_DIR.run."""
    return data_dir.rstrip("/") + ".run"


def takes_option(binary, option):
    """Whether `binary --help` lists `option`."""
    out = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, check=False).stdout.decode(errors="replace")
    return option in out


def kill_workloads(data_dir, groups=False):
    """SIGKILLs what is left of the workloads of the daemon on data_dir (processes with
    VOLANT_VM_DIR under its run directory), with groups their process groups first;
    returns their pids."""
    left = pids_with_env_prefix("VOLANT_VM_DIR=" + run_dir_for(data_dir) + "/")
    for pid in left:
        if groups:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


def stop_process(proc, wait):
    """SIGTERM, then SIGKILL if it has not exited within `wait` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def say_daemon_log(say, logpath):
    """The daemon log's line count and its first 10 warning/error lines."""
    with open(logpath, errors="replace") as f:
        log = f.read().splitlines()
    warn = [l for l in log if "[warning]" in l or "[error]" in l or "[critical]" in l]
    say("")
    say("daemon log: %d lines, %d warning/error lines%s" % (len(log), len(warn), ":" if warn else ""))
    for l in warn[:10]:
        say("  " + l)


# --- statistics ---------------------------------------------------------------------

def percentile(values, p):
    """Linear interpolation between the closest ranks; nan for no values."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# --- volantd and volar --------------------------------------------------------------

class Daemon:
    """volantd --data-dir DATA_DIR --listen 127.0.0.1:0 --pool POOL EXTRA..., output to
    logpath, in its own session; ready once it has written its endpoint (then `settle`
    seconds more). volar calls time out after volar_timeout seconds (None: never);
    failures raise `error`."""

    def __init__(self, volantd, volar, data_dir, logpath, pool, extra, volar_timeout=None,
                 stop_wait=10, settle=0.0, error=RuntimeError):
        self.volantd = volantd
        self.volar_bin = volar
        self.dir = data_dir
        self.logpath = logpath
        self.volar_timeout = volar_timeout
        self.stop_wait = stop_wait
        self.error = error
        os.makedirs(self.dir, exist_ok=True)
        # The VMs' run directories (volantd makes it): the workload user must reach
        # it, so the directory holding it must be traversable (a mkdtemp is 0700).
        self.run_dir = run_dir_for(self.dir)
        parent = os.path.dirname(self.run_dir)
        if os.stat(parent).st_mode & 0o111 != 0o111:
            os.chmod(parent, os.stat(parent).st_mode | 0o111)
        self.log = open(self.logpath, "ab")
        self.args = [self.volantd, "--data-dir", self.dir, "--listen", "127.0.0.1:0",
                     "--pool", pool] + list(extra)
        # An older volantd (a "before" binary of a before/after run) has no
        # --run-dir: its VMs' directories live in the data dir.
        if takes_option(self.volantd, "--run-dir"):
            self.args[5:5] = ["--run-dir", self.run_dir]
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        endpoint = os.path.join(self.dir, "endpoint")
        t0 = mono()
        while not self._endpoint_written(endpoint):
            if self.proc.poll() is not None:
                raise error("volantd exited with %s; log %s" % (self.proc.returncode, self.logpath))
            if mono() - t0 > 30:
                raise error("volantd wrote no endpoint within 30 s")
            time.sleep(0.01)
        time.sleep(settle)

    @classmethod
    def in_tmp(cls, bindir, tmp, pool, extra, **kw):
        """bindir/volantd on tmp/data, log tmp/volantd.log."""
        return cls(os.path.join(bindir, "volantd"), os.path.join(bindir, "volar"),
                   os.path.join(tmp, "data"), os.path.join(tmp, "volantd.log"), pool, extra, **kw)

    @staticmethod
    def _endpoint_written(path):
        try:
            with open(path) as f:
                return f.read().endswith("\n")
        except FileNotFoundError:
            return False

    def alive(self):
        return self.proc.poll() is None

    def volar(self, *args, check=True):
        r = subprocess.run([self.volar_bin, "--data-dir", self.dir] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=self.volar_timeout)
        if check and r.returncode != 0:
            raise self.error("volar %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                         r.stderr.strip()))
        return r

    def deployments(self):
        return json.loads(self.volar("deployments", "list", "--json").stdout)

    def deployment(self, name):
        for d in self.deployments():
            if d["name"] == name:
                return d
        return None

    def vms(self, deployment=None):
        args = ["vms", "list", "--json"]
        if deployment:
            args += ["--deployment", deployment]
        return json.loads(self.volar(*args).stdout)

    def delete_deployments(self, names=None, timeout=20.0, poll=0.2):
        """Deletes the deployments `names` (default: every one listed) with --force, then
        polls until no VM is listed (or volar fails), at most `timeout` seconds from the
        first delete; returns the seconds taken."""
        t0 = mono()
        if names is None:
            listed = self.volar("deployments", "list", "--json", check=False).stdout
            names = [dep["name"] for dep in json.loads(listed or "[]")]
        for name in names:
            self.volar("deployments", "delete", name, "--force", check=False)
        while mono() - t0 < timeout:
            r = self.volar("vms", "list", "--json", check=False)
            if r.returncode != 0 or json.loads(r.stdout or "[]") == []:
                break
            time.sleep(poll)
        return mono() - t0

    def stop(self):
        stop_process(self.proc, self.stop_wait)
        self.log.close()

    def shut_down(self, report, names=None, timeout=20.0, poll=0.2):
        """delete_deployments (an exception is reported as report("cleanup: ...")),
        then stop; returns the seconds the deletion took, None if it failed."""
        deleted = None
        try:
            deleted = self.delete_deployments(names, timeout, poll)
        except Exception as e:  # best effort: the daemon is stopped all the same
            report("cleanup: %s" % e)
        self.stop()
        return deleted


def http_health_plugin(name, bench, httpd_flags):
    """Manifest of a process plugin: busybox httpd HTTPD_FLAGS on <vm-ip>:80 serving
    /health, with an HTTP check of it (interval 1 s, timeout 1 s, threshold 3)."""
    return {
        "name": name, "version": "1.0.0",
        "description": "busybox httpd on <vm-ip>:80 serving /health (%s)" % bench,
        "runtime": "process",
        "workload": {
            "entrypoint": ["/bin/sh", "-c",
                           "mkdir -p \"$VOLANT_VM_DIR/www\" && echo ok > \"$VOLANT_VM_DIR/www/health\" "
                           "&& exec busybox httpd %s -p \"$VOLANT_IP:80\" -h \"$VOLANT_VM_DIR/www\""
                           % httpd_flags],
            "health_check": {"enabled": True, "http": {
                "port": 80, "path": "/health", "interval_seconds": 1,
                "timeout_seconds": 1, "unhealthy_threshold": 3}}}}


def install_plugin(d, manifest, path):
    """Writes the manifest to `path` and installs it with volar."""
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
    d.volar("plugins", "install", "--manifest", path)
