#!/usr/bin/env bash
# The main job: install, build, then write a demo history and audit it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data_dir=$(mktemp -d /tmp/volant-demo-XXXXXX)
replay=./build/tools/replay/volant-replay
$replay demo --data-dir "$data_dir"
echo; echo "== volant-replay events"; $replay events --data-dir "$data_dir"
echo; echo "== volant-replay state (now)"; $replay state --data-dir "$data_dir"
echo; echo "== volant-replay state --at 12"; $replay state --at 12 --data-dir "$data_dir"
echo; echo "== volant-replay verify"; $replay verify --data-dir "$data_dir"
echo; echo "demo data directory: $data_dir"
