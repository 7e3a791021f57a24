#!/usr/bin/env bash
# Rebuilds models/widefield-20x-0.75na-beads: the default model fine-tuned on bead stacks only, for
# beads and other sparse, point-like samples (the paper, too, trains one network per sample type).
# - Uses the recipe's bead stacks (examples/make_default_model.sh: FOVS fields of beads through the
#   volume and FOVS of beads on planes, seeds 1001+) plus EXTRA_BEADS more bead fields (seeds 1107+).
# - Validates on two fields of each kind (--val-fovs); every stage exports its final generator
#   (--keep last): the validation MAE of sparse beads barely moves while bead peaks sharpen.
# Three stages, each starting from the one before (the first from BASE):
#   1. EDF-normalised pairs (SPEC §4): ITERATIONS MAE iterations at lr 1e-4, then up to TOTAL at 5e-5.
#   2. the same pairs normalised on their whole input plane (deepz prepare --norm-reference input,
#      the way a single image is normalised at inference): INPUT_ITERATIONS MAE iterations.
#   3. LS-GAN on the stage-2 pairs: GAN_ITERATIONS iterations, alpha 10 (MAE weight).
# On this 2-core CPU: ~2.8 MAE iterations/s and ~0.2 GAN iterations/s, about 1 h 45 min in all.
# Usage: bash examples/make_beads_model.sh [WORK_DIR] [OUT_MODEL_DIR]
# WORK_DIR is the default model's (runs/default-model); it needs WORK_DIR/stacks and WORK_DIR/truth.
# Environment: FOVS (6), EXTRA_BEADS (6), ITERATIONS (3000), TOTAL (5000), INPUT_ITERATIONS (1500),
# GAN_ITERATIONS (400), BASE (models/widefield-20x-0.75na), SIZE (256), PATCH (128).
set -euo pipefail
WORK=${1:-runs/default-model}
OUT=${2:-models/widefield-20x-0.75na-beads}
FOVS=${FOVS:-6}; EXTRA_BEADS=${EXTRA_BEADS:-6}; ITERATIONS=${ITERATIONS:-3000}; TOTAL=${TOTAL:-5000}
INPUT_ITERATIONS=${INPUT_ITERATIONS:-1500}; GAN_ITERATIONS=${GAN_ITERATIONS:-400}
BASE=${BASE:-models/widefield-20x-0.75na}; SIZE=${SIZE:-256}; PATCH=${PATCH:-128}
[ -d "$WORK/stacks" ] || { echo "error: $WORK/stacks is missing; run examples/make_default_model.sh first" >&2; exit 2; }
mkdir -p "$WORK/stacks-beads" "$WORK/truth-beads"
for f in "$WORK"/stacks/beads-*.tif "$WORK"/stacks/plane-beads-*.tif; do
  ln -sf "$(realpath "$f")" "$WORK/stacks-beads/"; ln -sf "$(realpath "$WORK/truth/$(basename "$f")")" "$WORK/truth-beads/"
done
for i in $(seq $((FOVS + 1)) $((FOVS + EXTRA_BEADS))); do
  out="$WORK/stacks-beads/beads-$i.tif"
  [ -f "$out" ] || python -m deepz_fiji simulate --sample beads --size "$SIZE" --seed "$((1100 + i))" \
    --n-objects 80 --truth "$WORK/truth-beads/beads-$i.tif" --no-preview --out "$out" >/dev/null
done
val_fovs=("beads-$((FOVS - 1))" "beads-$((FOVS + EXTRA_BEADS - 2))" plane-beads-1 "plane-beads-$((FOVS - 2))")
for reference in edf input; do
  [ -f "$WORK/dataset-beads-$reference/manifest.json" ] || python -m deepz_fiji prepare "$WORK/stacks-beads" \
    --out "$WORK/dataset-beads-$reference" --patch "$PATCH" --planes 20 --max-dz 10 --targets 3 --focus-target \
    --seed 0 --no-stackreg --clean-targets "$WORK/truth-beads" --norm-reference "$reference" --val-fovs "${val_fovs[@]}"
done
desc="Deep-Z for beads and sparse point-like samples, 20x/0.75 NA air, emission 584 nm, 0.325 um pixels; the default model fine-tuned on simulated beads, then on pairs normalised on their input plane with a short LS-GAN phase (examples/make_beads_model.sh)"
step() { local mark="$WORK/.$1.done"; shift; [ -f "$mark" ] || { "$@" && touch "$mark"; }; }
step beads1 python -m deepz_fiji train "$WORK/dataset-beads-edf" --out "$WORK/beads-edf" --name beads-edf \
  --init-from "$BASE" --warmup "$ITERATIONS" --iterations 0 --batch 8 --lr-g 1e-4 --val-every 500 \
  --val-samples 768 --seed 8 --keep last
step beads2 python -m deepz_fiji train "$WORK/dataset-beads-edf" --out "$WORK/beads-edf" --warmup "$TOTAL" \
  --iterations 0 --lr-g 5e-5 --keep last
step beads3 python -m deepz_fiji train "$WORK/dataset-beads-input" --out "$WORK/beads-input" --name beads-input \
  --init-from "$WORK/beads-edf" --warmup "$INPUT_ITERATIONS" --iterations 0 --batch 8 --lr-g 1e-4 \
  --val-every 500 --val-samples 768 --seed 8 --keep last
step beads4 python -m deepz_fiji train "$WORK/dataset-beads-input" --out "$OUT" --name "$(basename "$OUT")" \
  --init-from "$WORK/beads-input" --warmup 0 --iterations "$GAN_ITERATIONS" --alpha 10 --batch 8 --lr-g 1e-4 \
  --val-every 100 --val-samples 256 --seed 9 --keep last --description "$desc"
