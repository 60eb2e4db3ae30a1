#!/bin/bash
# conformance/kernel/all.sh — what `npm run conformance:kernel` runs (as root on Debian 12):
#   1. builds the TypeScript and writes the compiled scenarios (conformance/scenarios/),
#   2. installs the host packages and downloads the kernels (setup.sh, idempotent),
#   3. boots every machine/kernel pair and rewrites conformance/golden/*.txt (run.sh),
#   4. checks the probe goldens against the team oracle captures when present (oracle-check),
#   5. runs the model side and prints the kernel/model agreement per pair (npm run conformance).
# Arguments are passed to run.sh (e.g. x86-intel-k6.1 to boot only that pair).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
T0=$(date +%s)
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
node dist/src/conformance/node/write-scenarios.js
bash conformance/kernel/setup.sh
bash conformance/kernel/run.sh "$@"
T1=$(date +%s)
node dist/src/conformance/node/oracle-check.js || echo "oracle check: differences (see above)"
node dist/src/conformance/node/conformance.js || true
echo "conformance:kernel: $((T1 - T0)) s to regenerate the goldens, $(($(date +%s) - T0)) s in all"
