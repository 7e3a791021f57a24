#!/usr/bin/env bash
# Rebuilds the shipped default model models/widefield-20x-0.75na from nothing, on a CPU:
# simulated training stacks (the paper's 20x/0.75 NA air set-up) -> deepz prepare -> deepz train.
# The simulated stacks have no stage drift, so prepare skips StackReg (--no-stackreg): on sparse,
# strongly defocused planes its plane-to-plane registration drifts by several pixels.
# Usage: bash examples/make_default_model.sh [WORK_DIR] [OUT_MODEL_DIR]
# Environment: FOVS (stacks per sample kind, default 6), SIZE (px, 256), WARMUP (MAE-only
# iterations, 5000), ITERATIONS (LS-GAN iterations after it, 60), BATCH (8), PATCH (128),
# LR_G (generator learning rate, 4e-4: higher than the paper's 1e-4 to converge within a CPU budget).
set -euo pipefail
WORK=${1:-runs/default-model}
OUT=${2:-models/widefield-20x-0.75na}
FOVS=${FOVS:-6}; SIZE=${SIZE:-256}; WARMUP=${WARMUP:-5000}; ITERATIONS=${ITERATIONS:-60}
BATCH=${BATCH:-8}; PATCH=${PATCH:-128}; LR_G=${LR_G:-4e-4}
mkdir -p "$WORK/stacks"
for i in $(seq 1 "$FOVS"); do
  for kind in beads plane-beads nuclei filaments; do
    out="$WORK/stacks/$kind-$i.tif"
    [ -f "$out" ] && continue
    extra=()
    [ "$kind" = beads ] && extra=(--n-objects 80)
    [ "$kind" = plane-beads ] && extra=(--n-objects 60 --offset-um "$(( (i % 5) * 2 - 4 ))")
    python -m deepz_fiji simulate --sample "$kind" --size "$SIZE" --seed "$((1000 + i))" --out "$out" \
      --no-preview "${extra[@]}" >/dev/null
  done
done
[ -f "$WORK/dataset/manifest.json" ] || python -m deepz_fiji prepare "$WORK/stacks" --out "$WORK/dataset" \
  --patch "$PATCH" --planes 20 --max-dz 10 --targets 4 --seed 0 --no-stackreg
python -m deepz_fiji train "$WORK/dataset" --out "$OUT" --name "$(basename "$OUT")" --preset small --warmup "$WARMUP" \
  --iterations "$ITERATIONS" --batch "$BATCH" --lr-g "$LR_G" --val-every 200 --val-samples 512 --seed 0 \
  --description "Deep-Z, 20x/0.75 NA air, emission 584 nm, 0.325 um pixels; trained on simulated beads, beads on planes, C. elegans-like nuclei and filaments (examples/make_default_model.sh)"
