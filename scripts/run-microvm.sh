#!/usr/bin/env bash
# The microVM demo: the guide's nginx in three QEMU microVMs run by volantd's `qemu`
# runtime (examples/plugins/nginx-qemu.manifest.json: volantd builds the guest from
# Debian's nginx package at install, docs/guests.md), after the build (bash
# scripts/setup.sh, which also fills the package cache). Needs root.
#
#   bash scripts/run-microvm.sh          # start (leaves everything running)
#   bash scripts/run-microvm.sh --stop   # stop the daemon and the VMs, delete the namespace
#
# Everything runs in the network namespace `volant-demo`: the bridge vbr0
# (192.168.127.1/24), the VMs' TAPs and the VMs (192.168.127.2, .3, ...) exist only
# there, and so does the daemon's control endpoint (127.0.0.1:<any port> on the
# namespace's own loopback), so every volar call goes through
# `ip netns exec volant-demo`. The host's network is not touched.
#
# Environment:
#   VOLANTD, VOLAR  the binaries. Default: build/src/daemon/volantd and
#                   build/src/cli/volar of this repository; if build/ has no volantd,
#                   or one without the qemu runtime (its --help has no --qemu-accel),
#                   both come from build-e2e/ instead.
#   QEMU_ACCEL      kvm or tcg (volantd --qemu-accel). Default: volantd's detection,
#                   TCG where /dev/kvm is kvm_pvm (it cannot boot stock kernels).
#   REPLICAS        replicas of `web` (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

ns=volant-demo
data_dir=/tmp/volant-microvm-demo
manifest=$repo/examples/plugins/nginx-qemu.manifest.json
pool=192.168.127.0/24
plugin=nginx-qemu
replicas=${REPLICAS:-3}

say() { printf '\n== %s\n' "$*"; }
die() { printf 'run-microvm: %s\n' "$*" >&2; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

# Stops whatever runs in the namespace (the daemon first, so that it does not
# restart the VMs it sees dying), then deletes it. Safe when nothing is there.
stop_all() {
  if ! ip netns list | grep -qw "^$ns"; then
    echo "no namespace $ns: nothing to stop"
    return 0
  fi
  local pids daemon=""
  [[ -s $data_dir/volantd.pid ]] && daemon=$(cat "$data_dir/volantd.pid")
  if [[ -n $daemon ]] && kill -0 "$daemon" 2>/dev/null; then
    echo "stopping volantd (pid $daemon)"
    kill -TERM "$daemon" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
  fi
  # What is left in the namespace: QEMUs (they outlive the daemon by design) and a
  # daemon that did not exit.
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  if [[ -n ${pids// /} ]]; then
    echo "stopping processes in $ns: $pids"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 30); do
      [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
      sleep 0.1
    done
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086
    [[ -n ${pids// /} ]] && { echo "killing $pids"; kill -KILL $pids 2>/dev/null || true; }
  fi
  ip netns del "$ns"
  echo "deleted namespace $ns (bridge and TAPs went with it); logs kept in $data_dir"
}

[[ $(id -u) -eq 0 ]] || die "needs root (network namespace, bridge, TAPs)"

case "${1:-}" in
  --stop) stop_all; exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (usage: $0 [--stop])" ;;
esac

# The binaries: build/ unless it lacks them or predates the qemu runtime.
build=build
if [[ ! -x build/src/daemon/volantd ]] \
   || ! build/src/daemon/volantd --help 2>/dev/null | grep -q -- --qemu-accel; then
  build="build-e2e"
fi
VOLANTD=${VOLANTD:-$repo/$build/src/daemon/volantd}
VOLAR=${VOLAR:-$repo/$build/src/cli/volar}
[[ -x $VOLANTD ]] || die "no volantd at $VOLANTD (build first, or set VOLANTD)"
[[ -x $VOLAR ]] || die "no volar at $VOLAR (build first, or set VOLAR)"
for tool in qemu-system-x86_64 ip curl jq; do
  command -v "$tool" >/dev/null || die "$tool not found (bash scripts/setup.sh installs it)"
done
volar() { in_ns "$VOLAR" --data-dir "$data_dir" "$@"; }
echo "volantd: $VOLANTD"
echo "volar:   $VOLAR"

say "packages: volar guest fetch nginx (the local package cache guests are built from)"
"$VOLAR" guest fetch nginx

say "network namespace $ns"
if ip netns list | grep -qw "^$ns"; then
  echo "left over from an earlier run: stopping it first"
  stop_all
fi
ip netns add "$ns"
in_ns ip link set lo up

say "volantd in $ns (data dir $data_dir, fresh)"
rm -rf "$data_dir" "$data_dir.run"
mkdir -p "$data_dir"
# A run directory of its own (the default /var/lib/volant/run may be another
# volantd's, e.g. scripts/run.sh's).
daemon_args=(--data-dir "$data_dir" --run-dir "$data_dir.run" --pool "$pool" --listen 127.0.0.1:0)
[[ -n ${QEMU_ACCEL:-} ]] && daemon_args+=(--qemu-accel "$QEMU_ACCEL")
echo "ip netns exec $ns $VOLANTD ${daemon_args[*]}"
# setsid + nohup: the daemon outlives this script and its terminal.
ip netns exec "$ns" setsid nohup "$VOLANTD" "${daemon_args[@]}" \
  >>"$data_dir/volantd.log" 2>&1 </dev/null &
echo $! >"$data_dir/volantd.pid"
for _ in $(seq 100); do
  [[ -s $data_dir/endpoint ]] && volar deployments list >/dev/null 2>&1 && break
  kill -0 "$(cat "$data_dir/volantd.pid")" 2>/dev/null \
    || { tail -n 20 "$data_dir/volantd.log" >&2; die "volantd exited"; }
  sleep 0.1
done
volar deployments list >/dev/null || die "volantd does not answer (log: $data_dir/volantd.log)"
echo "volantd pid $(cat "$data_dir/volantd.pid"), endpoint $(cat "$data_dir/endpoint")"

say "volar plugins install --manifest $manifest (builds the guest once, then cached)"
volar plugins install --manifest "$manifest"

say "volar deployments create web --plugin $plugin --replicas $replicas --wait"
# TCG boots take about 3-5 s each on 2 cores, and they share the cores.
start_ms=$(($(date +%s%N) / 1000000))
volar deployments create web --plugin "$plugin" --replicas "$replicas" --wait --timeout 300
elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
printf 'all %s ready after %d.%d s\n' "$replicas" $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))

say "volar vms list"; volar vms list
say "volar debug resources"; volar debug resources

say "each VM on its own IP (curl from inside $ns)"
failed=0
for ip in $(volar vms list --deployment web --json | jq -r '.[].ip'); do
  root=$(in_ns curl -s --max-time 5 "http://$ip/" || true)
  health=$(in_ns curl -s --max-time 5 "http://$ip/health" || true)
  printf '%-16s /: %-8s /health: %s\n' "$ip" "${root:-(no answer)}" "${health:-(no answer)}"
  [[ $health == ok ]] || failed=1
done
[[ $failed -eq 0 ]] || echo "warning: not every VM answered /health with ok"

cat <<MSG

The microVMs keep running in the network namespace $ns.
  inspect:  ip netns exec $ns $VOLAR --data-dir $data_dir shell
            ip netns exec $ns $VOLAR --data-dir $data_dir vms list
            ip netns exec $ns curl http://192.168.127.2/
  logs:     tail -f $data_dir/volantd.log                                  (daemon)
            ip netns exec $ns $VOLAR --data-dir $data_dir vms logs web-0 --follow   (a VM's console)
  scale:    ip netns exec $ns $VOLAR --data-dir $data_dir deployments scale web --replicas 5 --wait --timeout 300
  stop:     bash $repo/scripts/run-microvm.sh --stop
MSG
