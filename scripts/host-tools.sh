#!/usr/bin/env bash
# Installs the Debian host tools the host suite's cross-checks use (dtc for the device tree writer),
# from the machine's own apt configuration. Exit 77 when they cannot be installed here (not root,
# no package access): the tests that need them then skip and say why.
set -uo pipefail
packages=(device-tree-compiler)
command -v dtc >/dev/null && exit 0
[[ $(id -u) == 0 ]] || { echo "host-tools: dtc is missing and installing it needs root: apt-get install ${packages[*]}" >&2; exit 77; }
echo "host-tools: installing ${packages[*]} from Debian" >&2
apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1 ||
  { apt-get update >/dev/null 2>&1; apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1; } ||
  { echo "host-tools: could not install ${packages[*]}" >&2; exit 77; }
