#!/usr/bin/env bash
# The main job: install, build, start volantd on its embedded defaults (process
# driver, data dir ~/.volant, control endpoint 127.0.0.1:7462) and run a demo
# deployment of the nginx example plugin, then audit the log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=$PWD/build
volar="$bin/src/cli/volar"
data_dir="${VOLANT_HOME:-$HOME/.volant}"
mkdir -p "$data_dir"

if ! "$volar" deployments list >/dev/null 2>&1; then
  echo "== starting volantd (log: $data_dir/volantd.log)"
  setsid "$bin/src/daemon/volantd" >>"$data_dir/volantd.log" 2>&1 < /dev/null &
  for _ in $(seq 50); do "$volar" deployments list >/dev/null 2>&1 && break; sleep 0.2; done
fi

for plugin in examples/plugins/*.manifest.json; do
  "$volar" plugins install --manifest "$plugin" 2>/dev/null || true
done
"$volar" plugins list

if ! "$volar" deployments show web >/dev/null 2>&1; then
  echo "== volar deployments create web --plugin nginx --replicas 3 --wait"
  "$volar" deployments create web --plugin nginx --replicas 3 --wait
fi
echo "== volar deployments list"; "$volar" deployments list
echo "== volar vms list --deployment web"; "$volar" vms list --deployment web
echo "== each replica on its own IP"
for ip in $("$volar" vms list --deployment web --json | jq -r '.[].ip'); do
  printf '%s -> ' "$ip"; curl -s "http://$ip/"
done
echo "== HAProxy backend (the spec's generator)"
echo "backend web_cluster"
"$volar" vms list --deployment web --json | jq -r '.[] | "    server \(.name) \(.ip):80 check"'
echo "== volar debug resources"; "$volar" debug resources
echo "== the audit log (volant-replay events, last 10)"
"$bin/tools/replay/volant-replay" events --data-dir "$data_dir" | tail -n 10
cat <<MSG

volantd keeps running (workloads survive it; stop it with: pkill -x volantd).
Try: $volar deployments scale web --replicas 5 --wait
     $volar deployments delete web --force
MSG
