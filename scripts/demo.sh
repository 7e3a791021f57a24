#!/usr/bin/env bash
# The main job on a fresh machine: set up, then run the demo on the shipped model and sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" -m deepz_fiji demo "$@"
