#!/usr/bin/env bash
# The main job on a fresh machine: set up, then simulate a calibrated 20x/0.75 NA bead z-stack with
# its noiseless ground truth, object positions and a preview (the training/test data generator).
# Once a default model ships in models/, this becomes `deepz demo` (refocus a snapshot and compare).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p deepz-demo
exec "${PYTHON:-python3}" -m deepz_fiji simulate --sample beads --size 256 --seed 20190131 \
  --out deepz-demo/beads.tif --truth deepz-demo/beads_truth.tif --positions deepz-demo/beads.csv "$@"
