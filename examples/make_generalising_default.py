"""Train a candidate default model meant to generalise: dense tissue and randomised optics.

    nohup nice -n 10 taskset -c 1 env TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \\
        python examples/make_generalising_default.py [WORK_DIR] > WORK_DIR.log 2>&1 &

WORK_DIR (default ``~/deepz-runs/default-v2``) gets ``stacks/`` and ``truth/`` (simulated,
calibrated), ``dataset/`` (``deepz prepare``) and ``model/`` (``deepz train``). Every step is
skipped when its output exists and training resumes from its checkpoint, so the same command
continues an interrupted run. What it changes against ``examples/make_default_model.sh``:

- the training objects: TISSUE fields of dense, textured nuclei tissue 10–30 µm thick
  (:func:`deepz_fiji.simulate.tissue.dense_tissue`) besides OTHERS fields each of beads, beads
  on a plane, C. elegans-like nuclei and filaments;
- the optics, randomised per field (:func:`deepz_fiji.simulate.tissue.randomized_optics`:
  emitter depth 0–30 µm, NA ± 0.05, emission ± 20 nm, coverslip 160–185 µm, sample index
  1.33–1.40) and the photon count (×0.5–2);
- with VARY=1, the OTHERS fields vary as users' samples do: beads up to 30× the paper's density,
  photons down to 1/20 of the simulator's defaults (log-uniform per
  field; VARY_PHOTONS_MIN sets that floor), and beads on tilted planes and on cylinders join the
  kinds (use a WORK_DIR of its own);
- sharpening: every input is also paired with its focal plane (``--focus-target``);
- transfer: training starts from the shipped default (``--init-from``), MAE only unless GAN is set.

Judge the model only with ``python benchmarks/generalization.py --checkpoint WORK_DIR/model
--split selection`` (the best generator so far, while it trains; never the test split until it
is chosen). Environment: TISSUE (24), OTHERS (4),
SIZE (256), ITERATIONS (30000), BATCH (8), NORM (``edf``, the paper's; ``input``: every pair
normalised on its own input plane, as a single image is at inference; then the dataset and the
model go to ``dataset-input/`` and ``model-input/`` beside the first run's, sharing its fields),
SHARPEN (1; W: pairs refocusing towards their region's focal plane weigh W in the loss, and
the model goes to ``model[-input]-sharpenW/``), VAL_EVERY (500: validation, checkpoint and a kept
generator, ``--snapshots``, every so many iterations, so that the suite can judge each of them:
``generalization.py --checkpoint WORK_DIR/model… --iteration N``), TAG (appended to the model folder's
name: another run of the same recipe, e.g. shorter or with another VAL_EVERY), AUGMENT (5: the paper's
flips/rotations; 8: every symmetry of the square, ``deepz train --augment-group 8``, the model folder
gets ``-d4``), INIT (the model to
fine-tune from; default ``models/widefield-20x-0.75na``; the shipped default before this recipe's
model replaced it is ``git archive 732fb60 models/widefield-20x-0.75na | tar -x -C /tmp/old``),
LR (1e-4), GAN (0: iterations of the paper's LS-GAN phase after the ITERATIONS of MAE-only warm-up;
``ITERATIONS=0 GAN=N`` fine-tunes INIT adversarially; ALPHA: the adversarial term's weight, ``deepz train
--alpha``), PHYSICS (``blur``: the generator also reads the input
blurred by the nominal PSF at Δz, ``deepz train --physics-inputs``; from an INIT without it, that channel
starts with zero weights, or PHYSICS_SHARE of the image channel's), DEEPZ_PRECISION (``bfloat16``: train in bfloat16 on CPUs with AVX512-BF16 or AMX, about twice as fast
there, ``deepz train --precision``; recorded in the run's options and kept when it resumes), SHIP_AVERAGE, SHIP_BLEND and SHIP_LEVEL_SCALE (how it is shipped: :func:`ship`), SHIP (N: once the run has finished, its generator of iteration N, chosen on the suite's selection
split, becomes ``models/widefield-20x-0.75na``; :func:`deepz_fiji.train.checkpoint.export_snapshot`).
That is stage 4; stage 4c was the same network with its output post-processed, chosen with
``benchmarks/blend_sweep.py``: ``deepz variant <stage 4> --out <folder> --physics-blend 0.4
--output-level local-flux --level-scale 0.5``. The shipped default is stage 5:
``DEEPZ_PRECISION=bfloat16 VARY=1 OTHERS=6 SHARPEN=3 TAG=bf16 LR=5e-5 ITERATIONS=10000 VAL_EVERY=1000
SHIP=10000 SHIP_AVERAGE=0.5 SHIP_BLEND=0.2 INIT=<stage 4c>`` (README, "How the default was made to
generalise").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SEED0 = 40000  # the shipped models' stacks use seeds 1000-1100; the suite uses its own generators
KINDS = ("beads", "plane-beads", "nuclei", "filaments")
VARIED_KINDS = (*KINDS, "tilted-beads", "cylinder-beads")
VAL_FOVS = ("tissue-1", "tissue-2", "beads-1", "nuclei-1", "filaments-1")
#: VARY=1: per OTHERS field, the bead density (× the paper's) and the photon count (× the
#: simulator's default) are drawn log-uniformly from these ranges.
VARY_BEAD_DENSITY = (1.0, 30.0)
VARY_PHOTONS = (0.05, 1.0)
DEFAULT = REPO / "models" / "widefield-20x-0.75na"
DESCRIPTION = ("Deep-Z, 20x/0.75 NA air, emission 584 nm, 0.325 um pixels; stages 1-3 on simulated beads, beads on "
               "planes, C. elegans-like nuclei and filaments (examples/make_default_model.sh), stage 4 on dense tissue "
               "and randomised optics, stage 5 on those and on beads of varied density and brightness, averaged "
               "with stage 4 (examples/make_generalising_default.py)")


def _log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(lo_hi[0]), np.log(lo_hi[1]))))


def varied_sample(kind: str, size: int, optics, rng: np.random.Generator) -> dict:
    """``simulate_stack`` arguments for a field of ``kind`` whose density and brightness vary as
    users' samples do (VARY=1): up to 30× the default bead density, as dim as 1/20 of its photons."""
    from deepz_fiji.simulate.samples import BEAD_DENSITY_PER_UM2, DEFAULT_PHOTONS

    base = "filaments" if kind == "filaments" else "nuclei" if kind == "nuclei" else "beads"
    photons = (float(os.environ.get("VARY_PHOTONS_MIN", VARY_PHOTONS[0])), VARY_PHOTONS[1])
    out = {"photons": DEFAULT_PHOTONS[base] * (optics.na / 0.75) ** 2 * _log_uniform(rng, photons)}
    if base == "beads":
        area_um2 = (size * optics.pixel_um) ** 2
        out["n_objects"] = max(1, int(rng.poisson(BEAD_DENSITY_PER_UM2 * area_um2 * _log_uniform(rng, VARY_BEAD_DENSITY))))
    return out


def simulate_fields(work: Path, tissue: int, others: int, size: int, vary: bool = False) -> None:
    from deepz_fiji.io import write_image
    from deepz_fiji.simulate import Optics, simulate_stack
    from deepz_fiji.simulate.tissue import dense_tissue, randomized_optics

    (work / "stacks").mkdir(parents=True, exist_ok=True)
    (work / "truth").mkdir(exist_ok=True)
    kinds = VARIED_KINDS if vary else KINDS
    jobs = [("tissue", i) for i in range(1, tissue + 1)] + [(k, i) for k in kinds for i in range(1, others + 1)]
    for index, (kind, i) in enumerate(jobs):
        name = f"{kind}-{i}.tif"
        if (work / "stacks" / name).is_file() and (work / "truth" / name).is_file():
            continue
        rng = np.random.default_rng(SEED0 + index)
        optics = randomized_optics(Optics(), rng)
        if kind == "tissue":
            sample = dense_tissue((81, size, size), optics.pixel_um, optics.z_step_um, rng,
                                  centre_um=float(rng.uniform(-5, 5)))
            sim = simulate_stack(sample, optics=optics, seed=SEED0 + index, photons=float(rng.uniform(150, 600)))
        else:
            sim = simulate_stack(kind, size, optics=optics, seed=SEED0 + index,
                                 **(varied_sample(kind, size, optics, rng) if vary else {}))
        for folder, data in (("truth", sim.truth), ("stacks", sim.stack)):  # the stack last: it marks the field done
            write_image(work / folder / name, data, "ZYX", pixel_um=optics.pixel_um, z_step_um=optics.z_step_um,
                        metadata={"deepz_optics": str(optics)})
        print(f"simulated {name} ({index + 1}/{len(jobs)}): depth {optics.depth_um:.1f} um, NA {optics.na:.3f}",
              flush=True)


def deepz(*args: str) -> None:
    print("+ deepz " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "deepz_fiji", *args], check=True, cwd=REPO)


def train(dataset: Path, model: Path, iterations: int, sharpen: float) -> None:
    deepz("train", str(dataset), "--out", str(model), "--name", "widefield-20x-0.75na",
          "--init-from", os.environ.get("INIT", str(DEFAULT)), "--preset", "small",
          "--iterations", os.environ.get("GAN", "0"), "--warmup", str(iterations), "--batch", os.environ.get("BATCH", "8"),
          "--lr-g", os.environ.get("LR", "1e-4"),
          "--val-every", os.environ.get("VAL_EVERY", "500"), "--val-samples", "512", "--seed", "7",
          "--sharpen-weight", f"{sharpen:g}", "--snapshots", "--augment-group", os.environ.get("AUGMENT", "5"),
          *(["--physics-inputs", *os.environ["PHYSICS"].split(), "--physics-share", os.environ.get("PHYSICS_SHARE", "0")]
            if os.environ.get("PHYSICS") else []),
          *(["--alpha", os.environ["ALPHA"]] if os.environ.get("ALPHA") else []),
          "--description",
          "Deep-Z, 20x/0.75 NA air, 0.325 um pixels: candidate trained on dense tissue and randomised optics "
          "(examples/make_generalising_default.py)")


def ship(model: Path, iteration: int) -> None:
    """The run's generator of ``iteration`` becomes the default; the one it was fine-tuned from is
    chained in its training record (``init_from_training``), as the earlier stages are.

    SHIP_AVERAGE=S ships the weight average of (1 − S) × that generator and S × the run's start
    (iteration 0: the model it was fine-tuned from; ``export_average``); SHIP_BLEND=A sets the shipped
    output's physics blend to A and its level to ``local-flux`` at SHIP_LEVEL_SCALE (0.5), as
    ``deepz variant`` would.
    """
    from deepz_fiji.model.config import ModelConfig
    from deepz_fiji.train.checkpoint import export_average, export_snapshot

    source = ModelConfig.load(Path(os.environ.get("INIT", str(DEFAULT))) / "config.json")
    start_share = float(os.environ.get("SHIP_AVERAGE", 0))
    reason = (f"the run's generator of iteration {iteration}" + (f" averaged with its start ({start_share:g} of it)"
              if start_share else "") + ": beat the default before it on the independent suite's selection split "
              "(benchmarks/results/default-candidate.md)")
    if start_share:
        export_average(model, {0: start_share, iteration: 1 - start_share}, DEFAULT, reason)
    else:
        export_snapshot(model, iteration, DEFAULT, reason)
    config = ModelConfig.load(DEFAULT / "config.json")
    config.description = DESCRIPTION
    if os.environ.get("SHIP_BLEND"):
        config.physics_blend, config.output_level = float(os.environ["SHIP_BLEND"]), "local-flux"
        config.output_level_scale = float(os.environ.get("SHIP_LEVEL_SCALE", 0.5))
        config.description += (f"; the output blends {config.physics_blend:g} of the physics blur (the input convolved "
                               "with the nominal PSF at Δz) into the network's and keeps the input's low-pass at "
                               f"{config.output_level_scale:g} × the defocus disc's radius (output_level local-flux), "
                               "both chosen on the independent suite's selection split")
    config.training = {**config.training, "init_from": f"models/widefield-20x-0.75na ({source.training.get('iterations')} "
                       "iterations of the stage before, see init_from_training)",
                       "init_from_training": {"note": "the default this stage was fine-tuned from", **source.training}}
    config.save(DEFAULT / "config.json")
    print(f"shipped {DEFAULT} (iteration {iteration} of {model})", flush=True)


def main(argv: list[str]) -> int:
    work = Path(argv[0] if argv else "~/deepz-runs/default-v2").expanduser().resolve()
    tissue, others = int(os.environ.get("TISSUE", 24)), int(os.environ.get("OTHERS", 4))
    size, iterations = int(os.environ.get("SIZE", 256)), int(os.environ.get("ITERATIONS", 30000))
    norm = os.environ.get("NORM", "edf")
    suffix = "" if norm == "edf" else f"-{norm}"
    sharpen = float(os.environ.get("SHARPEN", 1))
    dataset = work / f"dataset{suffix}"
    tag = os.environ.get("TAG", "")
    model = work / (f"model{suffix}" + ("" if sharpen == 1 else f"-sharpen{sharpen:g}")
                    + ("-d4" if os.environ.get("AUGMENT") == "8" else "") + (f"-{tag}" if tag else ""))
    simulate_fields(work, tissue, others, size, vary=os.environ.get("VARY") == "1")
    if not (dataset / "manifest.json").is_file():
        deepz("prepare", str(work / "stacks"), "--out", str(dataset), "--patch", "128", "--planes", "20",
              "--max-dz", "10", "--targets", "3", "--focus-target", "--seed", "0", "--no-stackreg",
              "--clean-targets", str(work / "truth"), "--val-fovs",
              *[f for f in VAL_FOVS if (work / "stacks" / f"{f}.tif").is_file()],  # TISSUE=0: no tissue fields
              "--norm-reference", norm, "--overwrite")
    if not (os.environ.get("SHIP") and (model / "config.json").is_file()):  # shipping a finished run: no resume
        train(dataset, model, iterations, sharpen)
    if os.environ.get("SHIP"):
        ship(model, int(os.environ["SHIP"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
