#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the benchmarks need, then
# configures and builds into ./build. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential g++ pkg-config cmake meson ninja-build ccache git
  libcaf-dev librocksdb-dev libflatbuffers-dev flatbuffers-compiler
  libyaml-cpp-dev libspdlog-dev libfmt-dev doctest-dev
  libcli11-dev nlohmann-json3-dev libsqlite3-dev libedit-dev libssl-dev
  jq curl python3 busybox procps iproute2 nginx qemu-system-x86 lz4
)

# Without starting their services (nginx): see scripts/apt-install.sh.
bash scripts/apt-install.sh --as setup "${packages[@]}"

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
