"""``prepare_dataset``: calibrated z-stacks → a dataset folder of training pairs (SPEC §4).

Per field of view (one stack), streamed so that only one stack is in memory: rigid axial
alignment, EDF, EDF-referenced normalisation, signal mask, greedy cover with P×P regions, and
per region every kept plane as input with K random targets (Δz = z-step × plane offset).
With ``norm_reference="input"`` each pair is normalised on its input plane instead (the whole
field of view, as a single image is normalised at inference; the target gets the same constants).
Whole fields of view go to training or validation, never both. Shards are written into a
hidden staging folder and moved into place, with ``manifest.json`` last, only on success.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji import __version__
from deepz_fiji.data.dataset import (
    AUGMENTATION_FACTOR,
    AUGMENTATIONS,
    DATASET_FORMAT,
    DATASET_FORMAT_VERSION,
    MANIFEST_NAME,
    SPLITS,
    ShardWriter,
)
from deepz_fiji.data.normalize import (
    NORMALIZATION_METHOD,
    estimate_normalization,
    input_plane_normalization,
    normalize,
)
from deepz_fiji.data.pairs import kept_planes, middle_plane, sample_pairs
from deepz_fiji.data.preprocess import Preprocessor, PythonPreprocessor
from deepz_fiji.data.regions import MASK_HIGH, MASK_LOW, cover_mask, mean_overlap, signal_mask
from deepz_fiji.data.stacks import Stack, find_stacks, load_stack, pair_stack_files
from deepz_fiji.errors import DeepZError
from deepz_fiji.io import write_json

log = logging.getLogger(__name__)

REGION_OVERLAP = 0.05
#: What the constants of a pair's normalisation are estimated on (see :func:`prepare_dataset`).
NORM_REFERENCES = ("edf", "input")


def split_fovs(n_fovs: int, val_fraction: float, rng: np.random.Generator, *,
               names: Sequence[str] | None = None, val_fovs: Sequence[str] | None = None) -> list[str]:
    """'train' or 'val' for each field of view: round(val_fraction·n) (at least 1) go to 'val'.

    ``val_fovs``: the names (out of ``names``) of the fields of view to validate on instead of a
    random choice, e.g. one of each sample kind.
    """
    if not 0 < val_fraction < 1:
        raise DeepZError(f"the validation fraction must be between 0 and 1, got {val_fraction}")
    if n_fovs < 2:
        raise DeepZError(
            f"got {n_fovs} z-stack; a dataset needs at least 2 (fields of view are split between "
            "training and validation, never shared)"
        )
    if val_fovs:
        names = list(names or [])
        unknown = [v for v in val_fovs if v not in names]
        if unknown:
            raise DeepZError(f"--val-fovs {', '.join(unknown)}: no such field of view among "
                             f"{', '.join(names)}; give file names without their extension")
        if set(val_fovs) >= set(names):
            raise DeepZError("--val-fovs names every field of view; leave at least one for training")
        return ["val" if name in val_fovs else "train" for name in names]
    n_val = min(n_fovs - 1, max(1, int(round(val_fraction * n_fovs))))
    val = set(rng.permutation(n_fovs)[:n_val].tolist())
    return ["val" if i in val else "train" for i in range(n_fovs)]


def prepare_dataset(
    stack_paths_or_dir: str | Path | Iterable[str | Path],
    out_dir: str | Path,
    *,
    patch: int = 256,
    planes: int = 20,
    targets_per_input: int = 8,
    val_fraction: float = 0.15,
    seed: int = 0,
    preprocessor: Preprocessor | None = None,
    progress: Callable[[int, int], None] | None = None,
    z_step_um: float | None = None,
    pixel_um: float | None = None,
    shard_size: int = 512,
    overwrite: bool = False,
    max_dz_um: float | None = None,
    align_planes: bool = True,
    clean_targets: str | Path | Iterable[str | Path] | None = None,
    focus_target: bool = False,
    val_fovs: Sequence[str] | None = None,
    norm_reference: str = "edf",
) -> dict[str, Any]:
    """Write a training dataset folder from z-stacks; returns its manifest.

    ``patch``: region size P (px); ``planes``: planes kept on each side of a region's focal
    plane; ``targets_per_input``: random target planes per input plane; ``z_step_um`` and
    ``pixel_um`` override (or supply missing) stack calibration; ``shard_size``: pairs per
    shard file. An existing dataset in ``out_dir`` is replaced only with ``overwrite=True``.
    ``max_dz_um`` limits |Δz| of the pairs (e.g. 10 µm for a model trained on −10 … +10 µm
    while inputs come from ±``planes`` around the focus). ``align_planes=False`` skips the
    StackReg alignment (stacks known to be free of stage drift, e.g. simulated ones).
    ``clean_targets``: noiseless stacks of the same fields (e.g. ``deepz simulate --truth``), paired
    by file name or sorted order; targets are taken from them, normalised like their input stack.
    ``focus_target``: every input is also paired with its region's focal plane (see ``sample_pairs``).
    ``val_fovs``: stack names (file names without extension) to validate on, instead of a random
    ``val_fraction`` of them. ``norm_reference``: ``"edf"`` (SPEC §4: every plane of a stack is
    normalised with its EDF's constants) or ``"input"`` (each pair with the constants of its whole
    input plane, the way a single test image is normalised, so that training sees inputs exactly as
    bright as inference will; the mask and focal planes still come from the EDF).
    """
    check_settings(patch, planes, targets_per_input, shard_size)
    if norm_reference not in NORM_REFERENCES:
        raise DeepZError(f"unknown normalisation reference {norm_reference!r}; use one of {', '.join(NORM_REFERENCES)}")
    paths = find_stacks(stack_paths_or_dir)
    clean_paths: list[Path | None] = [None] * len(paths)
    if clean_targets is not None:
        if align_planes:
            raise DeepZError("noiseless targets come from simulated, drift-free stacks: add --no-stackreg")
        pairs = dict(pair_stack_files(paths, clean_targets, kinds=("noisy", "noiseless"), option="--clean-targets"))
        clean_paths = [pairs[p] for p in paths]
    names = fov_names(paths)
    splits = split_fovs(len(paths), val_fraction, np.random.default_rng(seed), names=names, val_fovs=val_fovs)
    pre = preprocessor if preprocessor is not None else PythonPreprocessor()
    created = not Path(out_dir).exists()
    out = output_folder(out_dir, overwrite)
    staging = Path(tempfile.mkdtemp(prefix=".deepz-prepare-", dir=out))
    done = False
    try:
        writers = {split: ShardWriter(staging, split, shard_size) for split in SPLITS}
        fovs: list[dict[str, Any]] = []
        calibration: dict[str, float] = {}
        for index, path in enumerate(paths):
            stack = load_stack(path, z_step_um=z_step_um, pixel_um=pixel_um)
            check_same_calibration(calibration, stack)
            rng = np.random.default_rng([seed, index])
            clean = None
            if clean_paths[index] is not None:
                clean = load_stack(clean_paths[index], z_step_um=z_step_um, pixel_um=pixel_um).data
                if clean.shape != stack.data.shape:
                    raise DeepZError(f"noiseless stack {clean_paths[index].name} has shape {clean.shape}, its input "
                                     f"{path.name} {stack.data.shape}; give the truth of the same field")
            fov = _process_fov(stack, index, names[index], splits[index], writers[splits[index]], pre, rng,
                               patch=patch, planes=planes, targets_per_input=targets_per_input,
                               max_dz_um=max_dz_um, align_planes=align_planes, clean=clean,
                               focus_target=focus_target, norm_reference=norm_reference)
            fovs.append(fov)
            del stack
            if progress is not None:
                progress(index + 1, len(paths))
        shards = {split: writer.close() for split, writer in writers.items()}
        if writers["train"].count == 0:
            raise DeepZError("no signal regions were found in the training stacks; check that they contain "
                             "fluorescence above background")
        if writers["val"].count == 0:
            log.warning("the validation stacks gave no pairs (no signal found in them)")
        manifest = build_manifest(paths, fovs, writers, shards, pre, calibration, patch=patch, planes=planes,
                             targets_per_input=targets_per_input, val_fraction=val_fraction, seed=seed,
                             shard_size=shard_size, max_dz_um=max_dz_um, focus_target=focus_target,
                             val_fovs=list(val_fovs) if val_fovs else None, norm_reference=norm_reference,
                             targets="noiseless stacks" if clean_targets is not None else "the input stacks")
        commit_dataset(staging, out, shards, manifest)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not done and not any(out.iterdir()):
            out.rmdir()  # leave nothing behind where there was nothing
    log.info("dataset %s: %d train / %d val pairs", out, manifest["counts"]["train"], manifest["counts"]["val"])
    return manifest


def _process_fov(
    stack: Stack, index: int, name: str, split: str, writer: ShardWriter, pre: Preprocessor,
    rng: np.random.Generator, *, patch: int, planes: int, targets_per_input: int,
    max_dz_um: float | None = None, align_planes: bool = True, clean: np.ndarray | None = None,
    focus_target: bool = False, norm_reference: str = "edf",
) -> dict[str, Any]:
    """Preprocess one stack and hand its pairs to ``writer``; returns its manifest entry."""
    if align_planes:
        registered, reg_info = pre.register(stack.data)
    else:
        registered, reg_info = stack.data, {"implementation": "none (--no-stackreg)"}
    registered = np.asarray(registered, dtype=np.float32)
    edf, edf_info = pre.edf(registered)
    params = estimate_normalization(edf)
    raw_targets = registered if clean is None else np.asarray(clean, np.float32)
    pair_norm = input_plane_normalization(registered, params) if norm_reference == "input" else None
    mask = signal_mask(normalize(edf, params))
    regions = cover_mask(mask, patch, overlap=REGION_OVERLAP)
    if not regions:
        log.warning("%s: no signal above the mask thresholds; no training pairs from it", stack.path.name)
    records = []
    pairs = 0
    for region_index, (y, x) in enumerate(regions):
        crop = registered[:, y : y + patch, x : x + patch]
        target_crop = raw_targets[:, y : y + patch, x : x + patch]
        middle = middle_plane(crop)
        kept = kept_planes(middle, crop.shape[0], planes)
        max_offset = None if max_dz_um is None else int(np.floor(max_dz_um / stack.z_step_um + 1e-6))
        inputs, targets = sample_pairs(kept, targets_per_input, rng, max_offset=max_offset,
                                       focus=middle if focus_target else None)
        for plane in np.unique(inputs):  # one input plane at a time: bounded memory
            sel = inputs == plane
            i, t = inputs[sel], targets[sel]
            n = len(i)
            norm = params if pair_norm is None else pair_norm[int(plane)]
            writer.add(inputs=normalize(crop[i], norm), targets=normalize(target_crop[t], norm),
                       dz_um=(stack.z_step_um * (t - i)).astype(np.float32),
                       fov=np.full(n, index, np.int32), input_plane=i, target_plane=t,
                       region=np.full(n, region_index, np.int32))
        pairs += len(inputs)
        records.append([y, x, middle, int(kept[0]), int(kept[-1]), len(inputs)])
    return {
        "index": index,
        "name": name,
        "source": str(stack.path),
        "split": split,
        "shape": list(stack.data.shape),
        "z_step_um": stack.z_step_um,
        "pixel_um": stack.pixel_um,
        "normalization": params.to_dict(),
        **({"input_plane_normalization": [p.to_dict() for p in pair_norm]} if pair_norm is not None else {}),
        "registration": _rounded(reg_info),
        "edf": edf_info,
        "mask_fraction": float(mask.mean()),
        "region_columns": ["y", "x", "middle_plane", "first_plane", "last_plane", "pairs"],
        "regions": records,
        "region_overlap": mean_overlap(regions, patch),
        "pairs": pairs,
    }


def _rounded(info: dict[str, Any], digits: int = 3) -> dict[str, Any]:
    """``info`` with per-plane float lists rounded (they go into the manifest)."""
    def rnd(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, digits)
        if isinstance(value, (list, tuple)):
            return [rnd(v) for v in value]
        return value

    return {key: rnd(value) for key, value in info.items()}


def check_settings(patch: int, planes: int, targets_per_input: int, shard_size: int) -> None:
    for name, value, least in (("patch", patch, 8), ("planes", planes, 1), ("targets per input", targets_per_input, 1),
                               ("shard size", shard_size, 1)):
        if int(value) != value or value < least:
            raise DeepZError(f"the {name} must be a whole number of at least {least}, got {value}")
    if patch % 16:
        log.warning("patch %d px is not a multiple of 16; the Deep-Z U-Net pads such inputs", patch)


def check_same_calibration(calibration: dict[str, float], stack: Stack) -> None:
    for key, value in (("z_step_um", stack.z_step_um), ("pixel_um", stack.pixel_um)):
        first = calibration.setdefault(key, value)
        if abs(first - value) > 0.01 * first:
            raise DeepZError(
                f"{stack.path.name} has {key} = {value:g} µm but earlier stacks have {first:g} µm; one "
                "dataset needs one calibration: prepare these stacks as separate datasets"
            )


def output_folder(out_dir: str | Path, overwrite: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DeepZError(f"{out} is a file; give a folder for the dataset")
    if (out / MANIFEST_NAME).exists() and not overwrite:
        raise DeepZError(f"{out} already holds a dataset; choose another folder or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    return out


def fov_names(paths: list[Path]) -> list[str]:
    """File stems, made unique with the index where two stacks share a stem."""
    stems = [p.stem for p in paths]
    return [s if stems.count(s) == 1 else f"{s}-{i}" for i, s in enumerate(stems)]


def commit_dataset(staging: Path, out: Path, shards: dict[str, list[Path]], manifest: dict[str, Any]) -> None:
    """Replace any previous dataset in ``out`` by the staged shards; the manifest comes last."""
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    for split in SPLITS:
        for old in out.glob(f"{split}-*.npz"):
            old.unlink()
        for path in shards[split]:
            path.replace(out / path.name)
    write_json(out / MANIFEST_NAME, manifest)


def build_manifest(
    paths: list[Path], fovs: list[dict[str, Any]], writers: dict[str, ShardWriter],
    shards: dict[str, list[Path]], pre: Preprocessor, calibration: dict[str, float], **settings: Any,
) -> dict[str, Any]:
    planes = settings["planes"]
    z_step = calibration["z_step_um"]
    offsets = np.arange(-2 * planes, 2 * planes + 1)
    all_offsets = [o for w in writers.values() for o in w.offsets]
    return {
        "format": DATASET_FORMAT,
        "format_version": DATASET_FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "deepz_fiji_version": __version__,
        **settings,
        "z_step_um": z_step,
        "pixel_um": calibration["pixel_um"],
        "counts": {split: writers[split].count for split in SPLITS},
        "splits": {
            split: {
                "fovs": [f["name"] for f in fovs if f["split"] == split],
                "pairs": writers[split].count,
                "regions": sum(len(f["regions"]) for f in fovs if f["split"] == split),
                "shards": [p.name for p in shards[split]],
                "augmentation_factor": AUGMENTATION_FACTOR if split == "train" else 1,
            }
            for split in SPLITS
        },
        "augmentation": {"train": AUGMENTATION_FACTOR, "val": 1, "transforms": list(AUGMENTATIONS),
                         "pre_applied": False},
        "dz_histogram": {
            "bin_edges_um": ((np.arange(-2 * planes, 2 * planes + 2) - 0.5) * z_step).round(6).tolist(),
            **{split: [writers[split].offsets.get(int(o), 0) for o in offsets] for split in SPLITS},
        },
        "dz_range_um": [z_step * min(all_offsets), z_step * max(all_offsets)] if all_offsets else [0.0, 0.0],
        "normalization": {
            "method": NORMALIZATION_METHOD,
            "reference": settings.get("norm_reference", "edf"),
            "per_fov": {f["name"]: f["normalization"] for f in fovs},
        },
        "preprocessing": {
            "preprocessor": getattr(pre, "name", type(pre).__name__),
            "register": _implementations(fovs, "registration"),
            "edf": _implementations(fovs, "edf"),
            "normalization": f"python:{NORMALIZATION_METHOD}",
            "mask": f"python:skimage-reconstruction(low={MASK_LOW}, high={MASK_HIGH})",
            "regions": f"python:greedy-cover(overlap={REGION_OVERLAP})",
        },
        "source_files": [str(p) for p in paths],
        "fovs": fovs,
    }


def _implementations(fovs: list[dict[str, Any]], step: str) -> str:
    names = sorted({str(f[step].get("implementation", "unknown")) for f in fovs})
    return ", ".join(names)
