#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the benchmarks need, then
# configures and builds into ./build. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential g++ pkg-config cmake meson ninja-build ccache git
  libcaf-dev librocksdb-dev libflatbuffers-dev flatbuffers-compiler
  libyaml-cpp-dev libspdlog-dev libfmt-dev doctest-dev
  libcli11-dev nlohmann-json3-dev libsqlite3-dev
  jq curl python3 busybox procps iproute2 nginx
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  # Packages with services (nginx) must not start them: the example plugins run
  # their own nginx per replica, and a system one on *:80 would take their port.
  policy=/usr/sbin/policy-rc.d
  created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$created_policy" ] || $sudo rm -f "$policy"
fi

if [ ! -f build/build.ninja ]; then
  meson setup build
fi
ninja -C build
