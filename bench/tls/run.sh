#!/usr/bin/env bash
# bench/tls: `volar deployments list` over the mutual-TLS control endpoint, p50
# of N runs, as a ratio to a `curl` of one replica in the same run (process
# driver, busybox httpd). Not a test: it prints numbers for bench/RESULTS.md.
#
#   bench/tls/run.sh [--build DIR] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
runs=50
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
ninja -C "$build" src/daemon/volantd src/cli/volar >/dev/null
dir=$(mktemp -d /tmp/volant-bench-tls.XXXXXX)
"$build/src/daemon/volantd" --data-dir "$dir" --listen 127.0.0.1:0 \
  --pool 127.78.129.0/24 --run-dir "$dir.run" >"$dir/volantd.log" 2>&1 &
daemon=$!
trap 'volar deployments delete web --force >/dev/null 2>&1 || true; kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$dir" "$dir.run"' EXIT
for _ in $(seq 100); do [[ -s "$dir/endpoint" ]] && break; sleep 0.1; done
volar() { "$build/src/cli/volar" --data-dir "$dir" "$@"; }
cat >"$dir/httpd.json" <<'JSON'
{"name": "bench-httpd", "version": "1.0.0",
 "workload": {"entrypoint": ["/bin/sh", "-c",
   "mkdir -p $VOLANT_VM_DIR/www && echo ok > $VOLANT_VM_DIR/www/index.html && exec busybox httpd -f -p $VOLANT_IP:80 -h $VOLANT_VM_DIR/www"]}}
JSON
volar plugins install --manifest "$dir/httpd.json" >/dev/null
volar deployments create web --plugin bench-httpd --replicas 1 --wait >/dev/null
ip=$(volar vms list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ip"])')
for _ in $(seq 50); do curl -sf "http://$ip/" >/dev/null && break; sleep 0.1; done
python3 - "$runs" "$ip" "$build/src/cli/volar" "$dir" <<'PY'
import statistics, subprocess, sys, time
runs, ip, volar, data = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def p50(cmd):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
curl = p50(["curl", "-sf", f"http://{ip}/"])
listed = p50([volar, "--data-dir", data, "deployments", "list"])
print(f"runs per command          {runs}")
print(f"curl of a replica, p50    {curl:.1f} ms")
print(f"volar deployments list    {listed:.1f} ms (mutual TLS + token)")
print(f"ratio                     {listed / curl:.1f}x")
PY
