#!/usr/bin/env bash
# Installs the SDK's npm tools with `npm ci` (only when node_modules is missing or older than
# package-lock.json), then builds the SDK and the demo page into dist/. Run by ctest before
# the SDK and browser tests, and by scripts/run-local.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "clients/js: node not found: run scripts/setup" >&2; exit 1; }
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
    npm ci --no-audit --no-fund
    touch node_modules
fi
node build.mjs
