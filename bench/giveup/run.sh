#!/usr/bin/env bash
# bench/giveup: how long volantd takes to exit once its supervision gives up
# (the tenth crash of the controller within a minute, through volantd
# --enable-crash-hook and `volar debug crash controller`), as a ratio to a
# plain SIGTERM shutdown of the same daemon in the same run. One replica
# (busybox httpd, process driver) runs throughout and must outlive every exit.
# Not a test: it prints numbers for bench/RESULTS.md.
#
#   bench/giveup/run.sh [--build DIR] [--runs N]
#
# give-up: from the return of the tenth `volar debug crash controller` (the api
# has sent the crash when it answers) to the exit of volantd (status 1).
# SIGTERM: from kill -TERM to the exit of volantd (status 0).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
runs=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
ninja -C "$build" src/daemon/volantd src/cli/volar >/dev/null
dir=$(mktemp -d /tmp/volant-bench-giveup.XXXXXX)
trap '"$build/src/cli/volar" --data-dir "$dir" deployments delete web --force >/dev/null 2>&1 || true
      [[ -f "$dir/daemon.pid" ]] && kill "$(cat "$dir/daemon.pid")" 2>/dev/null || true
      sleep 1; rm -rf "$dir"' EXIT
python3 - "$runs" "$build" "$dir" <<'PY'
import json, os, signal, statistics, subprocess, sys, time
runs, build, data = int(sys.argv[1]), sys.argv[2], sys.argv[3]
volantd = os.path.join(build, "src/daemon/volantd")
volar = os.path.join(build, "src/cli/volar")
log = open(os.path.join(data, "volantd.log"), "ab")

def start():
    try:
        os.unlink(os.path.join(data, "endpoint"))
    except FileNotFoundError:
        pass
    p = subprocess.Popen([volantd, "--data-dir", data, "--listen", "127.0.0.1:0",
                          "--pool", "127.78.150.0/24", "--enable-crash-hook"],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    open(os.path.join(data, "daemon.pid"), "w").write(str(p.pid))
    for _ in range(200):
        if os.path.exists(os.path.join(data, "endpoint")):
            return p
        time.sleep(0.05)
    sys.exit("volantd wrote no endpoint")

def v(*args, check=True):
    return subprocess.run([volar, "--data-dir", data, *args], check=check,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False

def crashes_logged():
    with open(os.path.join(data, "volantd.log"), errors="replace") as f:
        return sum("controller crashed" in line for line in f)

p = start()
manifest = os.path.join(data, "httpd.json")
open(manifest, "w").write('''{"name": "bench-httpd", "version": "1.0.0",
 "workload": {"entrypoint": ["/bin/sh", "-c",
   "mkdir -p $VOLANT_VM_DIR/www && echo ok > $VOLANT_VM_DIR/www/index.html && exec busybox httpd -f -p $VOLANT_IP:80 -h $VOLANT_VM_DIR/www"]}}''')
v("plugins", "install", "--manifest", manifest)
v("deployments", "create", "web", "--plugin", "bench-httpd", "--replicas", "1", "--wait")
pid = json.loads(v("vms", "list", "--json").stdout)[0]["pid"]

term, giveup, statuses = [], [], []
for run in range(runs):
    t0 = time.perf_counter()
    p.send_signal(signal.SIGTERM)
    code = p.wait()
    term.append((time.perf_counter() - t0) * 1000)
    statuses.append(("SIGTERM", code))
    p = start()
    # Nine crashes, each seen in the log before the next, then the tenth.
    for i in range(9):
        seen = crashes_logged()
        v("debug", "crash", "controller", check=False)
        for _ in range(200):
            if crashes_logged() > seen:
                break
            time.sleep(0.01)
    v("debug", "crash", "controller")
    t0 = time.perf_counter()
    code = p.wait(timeout=60)
    giveup.append((time.perf_counter() - t0) * 1000)
    statuses.append(("give-up", code))
    if not alive(pid):
        sys.exit(f"the workload {pid} died")
    # A new volantd counts crashes from zero (the root's memory of them).
    p = start()

print(f"runs                       {runs}")
print(f"exit statuses              {sorted(set(statuses))}")
print(f"SIGTERM -> exit, ms        {', '.join(f'{x:.0f}' for x in term)} (median {statistics.median(term):.0f})")
print(f"give-up -> exit, ms        {', '.join(f'{x:.0f}' for x in giveup)} (median {statistics.median(giveup):.0f})")
print(f"ratio give-up / SIGTERM    {statistics.median(giveup) / statistics.median(term):.2f}x (medians)")
print(f"workload pid {pid} alive after every exit: {alive(pid)}")
v("deployments", "delete", "web", "--force", check=False)
p.send_signal(signal.SIGTERM)
p.wait()
PY
