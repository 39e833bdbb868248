#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the benchmarks need, then
# configures and builds into ./build. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential g++ pkg-config cmake meson ninja-build ccache git
  libcaf-dev librocksdb-dev libflatbuffers-dev flatbuffers-compiler
  libyaml-cpp-dev libspdlog-dev libfmt-dev doctest-dev
  libcli11-dev nlohmann-json3-dev libsqlite3-dev libedit-dev libssl-dev libsodium-dev
  jq curl python3 busybox procps iproute2 nginx qemu-system-x86 lz4
  libarchive-dev e2fsprogs haproxy wrk dnsutils libldns-dev
  libcpp-httplib-dev etcd-server
)

# Without starting their services (nginx): see scripts/apt-install.sh.
bash scripts/apt-install.sh --as setup "${packages[@]}"

# The unprivileged user volantd (as root) runs workloads as (--workload-user,
# docs/security.md): a system user and group without a home or a login shell.
# In the kvm group where there is one, so that QEMU could open /dev/kvm as it.
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! getent passwd volant-workload >/dev/null; then
  echo "setup: creating the system user volant-workload" >&2
  $sudo useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin volant-workload
fi
if getent group kvm >/dev/null && ! id -nG volant-workload | grep -qw kvm; then
  $sudo usermod -a -G kvm volant-workload
fi

# Debian's packages are found first; subprojects/*.wrap (WrapDB) would only stand
# in for a missing one. Never download here (CI has no network, and a silent
# download would hide a missing package): --wrap-mode=nodownload.
if [ ! -f build/build.ninja ]; then
  meson setup --wrap-mode=nodownload build
else
  mode=$(meson introspect --buildoptions build | python3 -c \
    'import json, sys; print(*[o["value"] for o in json.load(sys.stdin) if o["name"] == "wrap_mode"])')
  [ "$mode" = nodownload ] || meson configure build -Dwrap_mode=nodownload
fi
ninja -C build

# microVM guests are built from a local package cache (docs/guests.md): the
# default guest kernel, busybox and the example plugins' packages, fetched once
# from Debian's archive so that no build or test waits on a download.
# Not fatal: only microVM plugins need them (the microvm suite says what is missing).
./build/src/cli/volar guest fetch nginx python3 >&2 \
  || echo "setup: warning: could not fill the package cache (volar guest fetch nginx python3)" >&2
