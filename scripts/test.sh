#!/usr/bin/env bash
# Runs the whole test suite (sets the machine up first). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p test-artifacts
exec "${PYTHON:-python3}" -m pytest "$@"
