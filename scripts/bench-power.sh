#!/usr/bin/env bash
# npm run bench:power: builds what the emulated POWER host needs (library, examples, the ppc64le
# addon, bench/'s probe addon, the static C VMM) and runs bench/power.mjs in one boot. Results: bench/results-power.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
node node_modules/typescript/bin/tsc -p tsconfig.json
node node_modules/typescript/bin/tsc -p tsconfig.examples.json
bash scripts/build-ppc64.sh >/dev/null
node bench/build-probe.mjs linux-ppc64
mkdir -p .cache/bench
powerpc64le-linux-gnu-gcc -O2 -static -pthread -o .cache/bench/l2_vmm-ppc64le bench/c/l2_vmm.c
exec bash scripts/power-host/run.sh -- node bench/power.mjs .cache/bench/l2_vmm-ppc64le
