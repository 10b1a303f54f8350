#!/usr/bin/env bash
# Installs the push receiver's npm packages with `npm ci`, only when node_modules is missing
# or older than package-lock.json. Run by ctest before the push integration tests.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "push-receiver: node not found: run scripts/setup" >&2; exit 1; }
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
    npm ci --no-audit --no-fund
    touch node_modules
fi
