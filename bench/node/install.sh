#!/usr/bin/env bash
# Installs the Node.js bench peers' npm packages with `npm ci`, only when node_modules is
# missing or older than package-lock.json. Run by ctest before the edge peer's self-check
# (bench/run runs its own `npm ci`).
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "bench/node: node not found: run scripts/setup" >&2; exit 1; }
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules
fi
