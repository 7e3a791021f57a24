#!/usr/bin/env bash
# Builds a Deep-Z+ model (wide-field -> confocal; 63x/1.4 NA oil, 0.1 um pixels, 0.2 um steps) from
# nothing: simulated wide-field/confocal stack pairs of microtubule-like filaments with a random
# misregistration (shift up to 2 um, rotation up to 1.5 deg, axial offset up to 0.5 um)
# -> deepz prepare WF --labels CONFOCAL (co-registration, fine alignment, SSIM-vs-EDF zero points)
# -> deepz train --modality widefield->confocal. With PLAIN=1 it also trains a plain Deep-Z model
# (wide-field -> wide-field) on the same wide-field stacks and runs the Fig. 5-style comparison
# benchmarks/deepz_plus.py (SSIM/RMSE against the confocal truth, x-z sections).
#
# Usage: bash examples/make_deepz_plus_model.sh [WORK_DIR] [OUT_MODEL_DIR] [OUT_PLAIN_MODEL_DIR]
# Environment: FOVS (stack pairs, default 24), SIZE (px, 256), PLANES (per stack, 21 = -2..+2 um),
# FILAMENTS (per field, 40), PATCH (128), ITERS (MAE iterations, 4250), ITERS_LOW (the last ITERS_LOW
# of them at lr 2e-4 instead of 4e-4, 750), BATCH (8), MAX_DZ (um, 2.0), PLAIN (1 = also the plain
# Deep-Z model).
#
# Both datasets pair every input with the in-focus plane too (--focus-target): the filaments lie in a
# thin layer, so random targets are mostly empty confocal planes and an all-dark output is a strong
# local optimum (without it, 1,000 iterations left the validation MAE at that of an all-zero output).
# The DPM channel is Δz / 2 um (--dpm-scale-um 2), so that +-2 um spans +-1 as +-10 um does for the
# paper's models. MAE only, as for the default model (see make_default_model.sh).
#
# Expected runtime. Measured on a shared 2-core CPU: simulation ~5 s per pair (~2 min), prepare
# ~1 min per dataset (~7,500 training pairs). Training dominates: both models trained side by side
# at ~1 MAE iteration/s each (small preset, batch 8, 128 px), ~70 min for the two; a GPU is far
# faster. Each training step is marked done in WORK_DIR, and an interrupted one resumes from its
# checkpoint when the script is run again. The model folders keep their checkpoint/ for resuming;
# the shipped copies in models/ leave it out.
set -euo pipefail
WORK=${1:-runs/deepz-plus}
OUT=${2:-models/deepz-plus-63x-1.4}
OUT_PLAIN=${3:-models/deepz-63x-1.4}
FOVS=${FOVS:-24}; SIZE=${SIZE:-256}; PLANES=${PLANES:-21}; FILAMENTS=${FILAMENTS:-40}
PATCH=${PATCH:-128}; ITERS=${ITERS:-4250}; ITERS_LOW=${ITERS_LOW:-750}; BATCH=${BATCH:-8}
MAX_DZ=${MAX_DZ:-2.0}; PLAIN=${PLAIN:-1}
HALF=$(( (PLANES - 1) / 2 ))

# 1. simulated pairs: WORK/widefield/fovNNN.tif and WORK/confocal/fovNNN.tif (seeds 2000+; the
#    benchmark's held-out fields use seeds 7000+)
python - "$WORK" "$FOVS" "$SIZE" "$PLANES" "$FILAMENTS" <<'PY'
import sys
from pathlib import Path

from deepz_fiji.io import write_image
from deepz_fiji.simulate.pairs import simulate_misregistered_pair

work, fovs, size, planes, filaments = Path(sys.argv[1]), *map(int, sys.argv[2:])
for kind in ("widefield", "confocal"):
    (work / kind).mkdir(parents=True, exist_ok=True)
for i in range(fovs):
    name = f"fov{i:03d}.tif"
    if (work / "confocal" / name).exists():  # written last: the pair is complete
        continue
    pair = simulate_misregistered_pair("filaments", size, planes=planes, seed=2000 + i, n_objects=filaments)
    for kind, sim in (("widefield", pair.widefield), ("confocal", pair.confocal)):
        write_image(work / kind / name, sim.stack, "ZYX", pixel_um=sim.pixel_um, z_step_um=sim.z_step_um,
                    metadata={**sim.metadata(), **pair.truth()})
    print(f"{name}: shift {pair.shift_px[0]:+.1f}, {pair.shift_px[1]:+.1f} px, rotation {pair.rotation_deg:+.2f} deg, "
          f"axial offset {pair.axial_offset_um:+.2f} um", flush=True)
PY

# 2. Deep-Z+ pairs (the simulated stacks have no stage drift: StackReg is skipped, it only adds
#    spurious drift on sparse filament stacks) and, for the comparison, plain wide-field pairs
[ -f "$WORK/dataset-focus/manifest.json" ] || python -m deepz_fiji prepare "$WORK/widefield" --labels "$WORK/confocal" \
  --out "$WORK/dataset-focus" --patch "$PATCH" --planes "$HALF" --targets 4 --max-dz "$MAX_DZ" --no-stackreg --seed 0 \
  --focus-target

# 3. the Deep-Z+ model: lr 4e-4, then 2e-4 for the last ITERS_LOW iterations (a resume)
step() { local mark="$WORK/.$1.done"; shift; [ -f "$mark" ] || { "$@" && touch "$mark"; }; }
common=(--preset small --iterations 0 --batch "$BATCH" --val-every 250 --val-samples 512 --dpm-scale-um 2 --seed 0
        --na 1.4 --wavelength-um 0.52 --immersion-index 1.515)
step plus-a python -m deepz_fiji train "$WORK/dataset-focus" --out "$OUT" --modality 'widefield->confocal' "${common[@]}" \
  --warmup "$((ITERS - ITERS_LOW))" --lr-g 4e-4 \
  --description "Deep-Z+ (wide-field -> confocal), 63x/1.4 NA oil, emission 520 nm, 0.1 um pixels, 0.2 um steps; trained on simulated misregistered wide-field/confocal pairs of filaments (examples/make_deepz_plus_model.sh)"
step plus-b python -m deepz_fiji train "$WORK/dataset-focus" --out "$OUT" --warmup "$ITERS" --iterations 0 --lr-g 2e-4

if [ "$PLAIN" = 1 ]; then
  # 4. a plain Deep-Z model on the same wide-field stacks, and the Fig. 5-style comparison
  [ -f "$WORK/dataset-widefield-focus/manifest.json" ] || python -m deepz_fiji prepare "$WORK/widefield" \
    --out "$WORK/dataset-widefield-focus" --patch "$PATCH" --planes "$HALF" --targets 4 --max-dz "$MAX_DZ" --no-stackreg --seed 0 \
    --focus-target
  step plain-a python -m deepz_fiji train "$WORK/dataset-widefield-focus" --out "$OUT_PLAIN" "${common[@]}" \
    --warmup "$((ITERS - ITERS_LOW))" --lr-g 4e-4 \
    --description "Deep-Z (wide-field), 63x/1.4 NA oil, 0.1 um pixels, 0.2 um steps; the simulated wide-field stacks of examples/make_deepz_plus_model.sh"
  step plain-b python -m deepz_fiji train "$WORK/dataset-widefield-focus" --out "$OUT_PLAIN" --warmup "$ITERS" \
    --iterations 0 --lr-g 2e-4
  python benchmarks/deepz_plus.py --deepz-plus "$OUT" --deepz "$OUT_PLAIN" --out "$WORK/benchmark"
fi
