#!/usr/bin/env bash
# Installs those of the Debian packages PKG... that are not installed yet, without
# starting their services: unless one exists already, a temporary
# /usr/sbin/policy-rc.d answers 101 (action forbidden) to every service start during
# the install, and is removed afterwards (also when the install fails). Packages with
# a service (nginx, supervisor) must not start it: the example plugins and the
# benches run their own, and a system nginx on *:80 would take the replicas' port.
#
#   scripts/apt-install.sh [--as NAME] PKG...
#
# Says "NAME: installing PKG... (services not started)" on stderr first (NAME
# defaults to apt-install). Uses sudo unless run as root. Does nothing, and needs no
# sudo, when every PKG is installed already.
set -euo pipefail

who=apt-install
if [ "${1:-}" = "--as" ]; then
  who="$2"
  shift 2
fi

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
[ "${#missing[@]}" -gt 0 ] || exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "$who: installing ${missing[*]} (services not started)" >&2
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
trap '[ -z "$created_policy" ] || $sudo rm -f "$policy"' EXIT
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
