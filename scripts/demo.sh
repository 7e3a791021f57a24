#!/usr/bin/env bash
# The main job on a fresh machine: set up, then `deepz demo` with the shipped default model: a
# simulated 20x/0.75 NA snapshot (beads on a plane, a seed never used in training) refocused into a
# virtual z-stack over the model's range and compared plane by plane with the noiseless truth.
# Writes deepz-demo/ (TIFFs, per_plane.csv, demo.png); extra arguments go to `deepz demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" -m deepz_fiji demo --out deepz-demo "$@"
