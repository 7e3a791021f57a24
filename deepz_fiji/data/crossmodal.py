"""Deep-Z+ pairs: wide-field inputs with confocal labels from the same fields of view (SPEC §4).

Per field of view (one wide-field stack and its confocal stack, or a grid of tiles of each):

1. each stack is aligned plane to plane (StackReg) and, for tiles, stitched (Grid/Collection);
2. each is normalised on its own EDF;
3. the confocal EDF is co-registered to the wide-field EDF (:mod:`.coregister`) and the border
   that the two fields do not share is dropped;
4. the wide-field signal is covered with P×P regions; per region the confocal crop gets a fine
   alignment and is resampled once through the composed transform;
5. each crop's axial zero point is the peak of its SSIM-versus-EDF focus curve (:mod:`.focus`);
   heights are centred on it, and every kept wide-field plane is paired with
   ``targets_per_input`` random confocal planes, Δz = centred confocal height − centred
   wide-field height (not a multiple of the z-step in general).

The dataset folder has the same layout as :func:`~deepz_fiji.data.prepare_dataset`'s (contract
B), with ``modality: widefield->confocal`` and ``pairs: {input: widefield, target: confocal}``
in its manifest; ``input_plane``/``target_plane`` index the wide-field and confocal stacks.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.data.coregister import (
    FINE_MODES,
    MAX_FINE_SHIFT_PX,
    coregister,
    crop_matrix,
    fine_alignment,
    inner_rectangle,
    overlap_mask,
    warp_stack,
)
from deepz_fiji.data.dataset import SPLITS, ShardWriter
from deepz_fiji.data.focus import FOCUS_MEASURES, PEAK_POINTS, axial_zero_point
from deepz_fiji.data.normalize import estimate_normalization, normalize
from deepz_fiji.data.prepare import (
    REGION_OVERLAP,
    build_manifest,
    check_same_calibration,
    check_settings,
    commit_dataset,
    fov_names,
    output_folder,
    split_fovs,
)
from deepz_fiji.data.preprocess import Preprocessor, PythonPreprocessor
from deepz_fiji.data.regions import cover_mask, signal_mask
from deepz_fiji.data.registration import warp_plane
from deepz_fiji.data.stacks import Stack, load_stack, pair_stack_files
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

MODALITY = "widefield->confocal"
#: Confocal targets per wide-field input plane in the paper.
TARGETS_PER_INPUT = 4
#: EDF correlation after co-registration below which a warning is logged.
DOUBTFUL_NCC = 0.5


def prepare_crossmodal_dataset(
    widefield: str | Path | Iterable[str | Path],
    confocal: str | Path | Iterable[str | Path],
    out_dir: str | Path,
    *,
    patch: int = 256,
    planes: int = 20,
    targets_per_input: int = TARGETS_PER_INPUT,
    val_fraction: float = 0.15,
    seed: int = 0,
    preprocessor: Preprocessor | None = None,
    progress: Callable[[int, int], None] | None = None,
    z_step_um: float | None = None,
    pixel_um: float | None = None,
    shard_size: int = 512,
    overwrite: bool = False,
    max_dz_um: float | None = None,
    method: str = "intensity",
    model: str = "rigid",
    fine: str = "translation",
    grid: tuple[int, int] | None = None,
    tile_overlap: float = 0.1,
    align_planes: bool = True,
    focus_measure: str = "structure",
    focus_target: bool = False,
    val_fovs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write a Deep-Z+ dataset (wide-field inputs, confocal targets) to ``out_dir``; returns its manifest.

    ``widefield``/``confocal``: folders or files of ZYX stacks, paired by :func:`pair_stack_files`.
    ``grid=(rows, cols)``: consecutive groups of rows·cols pairs are tiles of one field of view
    (row by row, ``tile_overlap`` of their width shared), stitched before co-registration.
    ``method``/``model``: global co-registration (see :func:`.coregister.coregister`); ``fine``:
    per-crop alignment ('translation', 'rigid' or 'none'). ``align_planes=False`` skips StackReg
    (for stacks without stage drift: on sparse samples StackReg can add drift). ``focus_measure``:
    the focus curve's similarity, 'structure' or 'ssim' (see :mod:`.focus`). ``focus_target``: every
    input is also paired with the confocal plane at the crop's zero point (the in-focus layer that
    random targets rarely hit on thin samples). ``planes``: wide-field and confocal
    planes kept on each side of a crop's zero point; ``max_dz_um`` limits |Δz|. The other
    arguments as in :func:`~deepz_fiji.data.prepare_dataset`.
    """
    check_settings(patch, planes, targets_per_input, shard_size)
    if fine not in FINE_MODES:
        raise DeepZError(f"unknown fine alignment {fine!r}; choose one of {', '.join(FINE_MODES)}")
    if focus_measure not in FOCUS_MEASURES:
        raise DeepZError(f"unknown focus measure {focus_measure!r}; choose one of {', '.join(FOCUS_MEASURES)}")
    groups = _fov_groups(pair_stack_files(widefield, confocal), grid)
    names = fov_names([g[0][0] for g in groups])
    if grid is not None:
        names = [f"{name}-grid{grid[0]}x{grid[1]}" for name in names]
    splits = split_fovs(len(groups), val_fraction, np.random.default_rng(seed), names=names, val_fovs=val_fovs)
    pre = preprocessor if preprocessor is not None else PythonPreprocessor()
    created = not Path(out_dir).exists()
    out = output_folder(out_dir, overwrite)
    staging = Path(tempfile.mkdtemp(prefix=".deepz-prepare-", dir=out))
    done = False
    try:
        writers = {split: ShardWriter(staging, split, shard_size) for split in SPLITS}
        dz_values: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
        fovs: list[dict[str, Any]] = []
        calibration: dict[str, float] = {}
        settings = dict(patch=patch, planes=planes, targets_per_input=targets_per_input, max_dz_um=max_dz_um,
                        method=method, model=model, fine=fine, focus_measure=focus_measure, focus_target=focus_target)
        for index, group in enumerate(groups):
            wide, conf, load_info = _load_fov(group, pre if align_planes else None, grid, tile_overlap,
                                              calibration, z_step_um, pixel_um, stitcher=pre)
            rng = np.random.default_rng([seed, index])
            fov, dz = _process_pair(wide, conf, index, writers[splits[index]], pre, rng, **settings)
            fov.update(name=names[index], split=splits[index], **load_info)
            fovs.append(fov)
            dz_values[splits[index]].append(dz)
            del wide, conf
            if progress is not None:
                progress(index + 1, len(groups))
        shards = {split: writer.close() for split, writer in writers.items()}
        if writers["train"].count == 0:
            raise DeepZError("no signal regions were found in the training stacks; check that they contain "
                             "fluorescence above background and that --patch fits the shared field of view")
        if writers["val"].count == 0:
            log.warning("the validation stacks gave no pairs (no signal found in them)")
        manifest = build_manifest([g[0][0] for g in groups], fovs, writers, shards, pre, calibration, patch=patch,
                             planes=planes, targets_per_input=targets_per_input, val_fraction=val_fraction,
                             seed=seed, shard_size=shard_size, max_dz_um=max_dz_um, focus_target=focus_target,
                             val_fovs=list(val_fovs) if val_fovs else None)
        _crossmodal_manifest(manifest, groups, fovs, dz_values, calibration["z_step_um"], method=method,
                             model=model, fine=fine, grid=grid, tile_overlap=tile_overlap,
                             focus_measure=focus_measure)
        commit_dataset(staging, out, shards, manifest)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not done and not any(out.iterdir()):
            out.rmdir()
    log.info("Deep-Z+ dataset %s: %d train / %d val pairs", out, manifest["counts"]["train"], manifest["counts"]["val"])
    return manifest


def _fov_groups(pairs: list[tuple[Path, Path]], grid: tuple[int, int] | None) -> list[list[tuple[Path, Path]]]:
    if grid is None:
        return [[pair] for pair in pairs]
    rows, cols = (int(v) for v in grid)
    if rows < 1 or cols < 1:
        raise DeepZError(f"the tile grid needs at least 1 row and 1 column, got {rows}×{cols}")
    n = rows * cols
    if len(pairs) % n:
        raise DeepZError(f"{len(pairs)} stack pairs do not split into fields of view of {rows}×{cols} = {n} tiles; "
                         "give whole grids (tiles row by row, in sorted file order)")
    return [pairs[i : i + n] for i in range(0, len(pairs), n)]


def _load_fov(
    group: list[tuple[Path, Path]], aligner: Preprocessor | None, grid: tuple[int, int] | None, overlap: float,
    calibration: dict[str, float], z_step_um: float | None, pixel_um: float | None, *, stitcher: Preprocessor,
) -> tuple[Stack, Stack, dict[str, Any]]:
    """The aligned (``aligner``, None: as they are) and stitched wide-field and confocal stacks of one field of view."""
    loaded: dict[str, list[np.ndarray]] = {"widefield": [], "confocal": []}
    drift: dict[str, float] = {"widefield": 0.0, "confocal": 0.0}
    first: dict[str, tuple[float, float, Path]] = {}  # z-step, pixel size, path of the first tile
    implementation = ""
    for pair in group:
        for kind, path in zip(("widefield", "confocal"), pair, strict=True):
            stack = load_stack(path, z_step_um=z_step_um, pixel_um=pixel_um)
            check_same_calibration(calibration, stack)
            first.setdefault(kind, (stack.z_step_um, stack.pixel_um, stack.path))
            aligned, info = (stack.data, {"implementation": "none"}) if aligner is None else aligner.register(stack.data)
            loaded[kind].append(np.asarray(aligned, dtype=np.float32))
            drift[kind] = max(drift[kind], float(info.get("max_drift_px", 0.0)))
            implementation = str(info.get("implementation", "unknown"))
    info: dict[str, Any] = {"source": str(group[0][0]), "label_source": str(group[0][1]),
                            "registration": {"implementation": implementation,
                                             "max_drift_px": {k: round(v, 3) for k, v in drift.items()}}}
    if grid is None:
        data = {kind: arrays[0] for kind, arrays in loaded.items()}
    else:
        data, stitch_info = {}, {}
        for kind, tiles in loaded.items():
            _same_plane_count(tiles, kind)
            data[kind], stitched = stitcher.stitch(tiles, grid, overlap)
            stitch_info[kind] = {"implementation": stitched.get("implementation"),
                                 "positions_px": stitched.get("positions_px")}
        shape = np.minimum(data["widefield"].shape[-2:], data["confocal"].shape[-2:])
        data = {kind: np.asarray(d[..., : shape[0], : shape[1]], dtype=np.float32) for kind, d in data.items()}
        info["stitch"] = stitch_info
        info["sources"] = [[str(w), str(c)] for w, c in group]
    if data["widefield"].shape[-2:] != data["confocal"].shape[-2:]:
        raise DeepZError(f"{group[0][0].name} is {data['widefield'].shape[-2:]} px but its confocal stack "
                         f"{group[0][1].name} is {data['confocal'].shape[-2:]} px; resample/crop the confocal stacks "
                         "onto the wide-field field of view and pixel size first")
    stacks = tuple(Stack(data[k], *first[k]) for k in ("widefield", "confocal"))
    return stacks[0], stacks[1], info


def _same_plane_count(tiles: list[np.ndarray], kind: str) -> None:
    if len({t.shape for t in tiles}) != 1:
        raise DeepZError(f"the {kind} tiles of one field of view differ in shape "
                         f"({sorted({t.shape for t in tiles})}); tiles need one size and number of planes")


def _process_pair(
    wide: Stack, conf: Stack, index: int, writer: ShardWriter, pre: Preprocessor, rng: np.random.Generator, *,
    patch: int, planes: int, targets_per_input: int, max_dz_um: float | None, method: str, model: str, fine: str,
    focus_measure: str, focus_target: bool,
) -> tuple[dict[str, Any], np.ndarray]:
    """Co-register one field of view, cut its regions and hand their pairs to ``writer``."""
    edf_w, edf_info = pre.edf(wide.data)
    edf_c, _ = pre.edf(conf.data)
    norm_w, norm_c = estimate_normalization(edf_w), estimate_normalization(edf_c)
    wide_n, conf_n = normalize(wide.data, norm_w), normalize(conf.data, norm_c)
    edf_w, edf_c = normalize(edf_w, norm_w), normalize(edf_c, norm_c)
    coreg = coregister(edf_w, edf_c, method=method, model=model)
    if coreg.ncc_after < DOUBTFUL_NCC:
        log.warning("%s: co-registration is doubtful (EDF correlation %.2f after it); check the pair",
                    wide.path.name, coreg.ncc_after)
    shape = wide_n.shape[-2:]
    y0, y1, x0, x1 = inner_rectangle(overlap_mask(coreg.matrix, shape, conf_n.shape[-2:],
                                                  margin_px=MAX_FINE_SHIFT_PX + 1))
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = signal_mask(edf_w)[y0:y1, x0:x1]
    if min(y1 - y0, x1 - x0) < patch:
        log.warning("%s: the fields of view share only %d×%d px, less than the %d px patch; no pairs from it",
                    wide.path.name, y1 - y0, x1 - x0, patch)
        regions = []
    else:
        regions = [(y + y0, x + x0) for y, x in cover_mask(mask[y0:y1, x0:x1], patch, overlap=REGION_OVERLAP)]
    edf_c_on_w = warp_plane(edf_c, coreg.matrix)
    records, dz_all = [], []
    for region_index, (y, x) in enumerate(regions):
        window = (slice(y, y + patch), slice(x, x + patch))
        fine_m, fine_info = fine_alignment(edf_w[window], edf_c_on_w[window], mode=fine)
        to_conf = crop_matrix(coreg.matrix, y, x, fine_m)
        wide_crop = wide_n[(slice(None), *window)]
        conf_crop = warp_stack(conf_n, to_conf, output_shape=(patch, patch))
        zero_w = axial_zero_point(wide_crop, edf_w[window], measure=focus_measure)
        zero_c = axial_zero_point(conf_crop, warp_plane(edf_c, to_conf, output_shape=(patch, patch)),
                                  measure=focus_measure)
        h_w = zero_w.heights_um(wide_crop.shape[0], wide.z_step_um)
        h_c = zero_c.heights_um(conf_crop.shape[0], conf.z_step_um)
        inputs, targets = crossmodal_pairs(h_w, h_c, targets_per_input, rng, max_abs_um=planes * wide.z_step_um,
                                           max_dz_um=max_dz_um, focus=focus_target)
        dz = (h_c[targets] - h_w[inputs]).astype(np.float32)
        n = len(inputs)
        if n:
            writer.add(inputs=wide_crop[inputs], targets=conf_crop[targets], dz_um=dz, fov=np.full(n, index, np.int32),
                       input_plane=inputs, target_plane=targets, region=np.full(n, region_index, np.int32))
        dz_all.append(dz)
        records.append([y, x, *fine_info["shift_px"], fine_info["accepted"], round(zero_w.plane, 3),
                        round(zero_c.plane, 3), zero_w.fit, zero_c.fit, n])
    fov = {
        "index": index,
        "shape": list(wide.data.shape),
        "label_shape": list(conf.data.shape),
        "z_step_um": wide.z_step_um,
        "pixel_um": wide.pixel_um,
        "normalization": {"widefield": norm_w.to_dict(), "confocal": norm_c.to_dict()},
        "edf": edf_info,
        "coregistration": coreg.to_dict(),
        "shared_field_px": [y0, y1, x0, x1],
        "mask_fraction": float(mask.mean()),
        "region_columns": ["y", "x", "fine_dx", "fine_dy", "fine_accepted", "zero_plane_widefield",
                           "zero_plane_confocal", "zero_fit_widefield", "zero_fit_confocal", "pairs"],
        "regions": records,
        "pairs": int(sum(r[-1] for r in records)),
    }
    return fov, (np.concatenate(dz_all) if dz_all else np.zeros(0, np.float32))


def crossmodal_pairs(
    heights_in: np.ndarray, heights_target: np.ndarray, targets_per_input: int, rng: np.random.Generator, *,
    max_abs_um: float | None = None, max_dz_um: float | None = None, focus: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Input and target plane indices: every input plane with |height| ≤ ``max_abs_um``, each with
    up to ``targets_per_input`` distinct random target planes (|height| ≤ ``max_abs_um``, and
    |Δz| ≤ ``max_dz_um`` when given). ``focus``: the target plane nearest height 0 is added to
    every input's draw when it is a candidate. Heights are centred (µm); returns two int32 arrays."""
    h_in, h_t = np.asarray(heights_in, float), np.asarray(heights_target, float)
    limit = np.inf if max_abs_um is None else max_abs_um + 1e-6
    kept_in = np.nonzero(np.abs(h_in) <= limit)[0]
    kept_t = np.nonzero(np.abs(h_t) <= limit)[0]
    zero = int(np.argmin(np.abs(h_t))) if focus and h_t.size else None
    inputs, targets = [], []
    for i in kept_in:
        candidates = kept_t if max_dz_um is None else kept_t[np.abs(h_t[kept_t] - h_in[i]) <= max_dz_um + 1e-6]
        k = min(int(targets_per_input), len(candidates))
        drawn = rng.choice(candidates, size=k, replace=False)
        if zero is not None and zero in candidates and zero not in drawn:
            drawn = np.append(drawn, zero)
        inputs.append(np.full(len(drawn), i))
        targets.append(drawn)
    if not inputs:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(inputs).astype(np.int32), np.concatenate(targets).astype(np.int32)


def _crossmodal_manifest(
    manifest: dict[str, Any], groups: list[list[tuple[Path, Path]]], fovs: list[dict[str, Any]],
    dz_values: dict[str, list[np.ndarray]], z_step: float, *, method: str, model: str, fine: str,
    grid: tuple[int, int] | None, tile_overlap: float, focus_measure: str,
) -> None:
    """Turn the plane-offset fields of a ``prepare_dataset`` manifest into Deep-Z+ ones, in place."""
    values = {split: np.concatenate(v) if v else np.zeros(0) for split, v in dz_values.items()}
    every = np.concatenate(list(values.values()))
    reach = int(np.ceil(np.abs(every).max() / z_step - 0.5)) if every.size else 0
    edges = (np.arange(-reach, reach + 2) - 0.5) * z_step
    manifest.update(
        modality=MODALITY,
        pairs={"input": "widefield", "target": "confocal", "targets_per_input": manifest["targets_per_input"],
               "dz": "centred confocal height − centred wide-field height (SSIM-vs-EDF zero points)"},
        dz_histogram={"bin_edges_um": edges.round(6).tolist(),
                      **{split: np.histogram(v, edges)[0].tolist() for split, v in values.items()}},
        dz_range_um=[round(float(every.min()), 4), round(float(every.max()), 4)] if every.size else [0.0, 0.0],
        label_files=[str(c) for group in groups for _, c in group],
    )
    if grid is not None:
        manifest["source_files"] = [str(w) for group in groups for w, _ in group]
    manifest["normalization"]["reference"] = "edf of each stack (wide-field and confocal separately)"
    manifest["preprocessing"].update(
        coregister=f"python:{method}-{model} on the EDF images (confocal onto wide-field)",
        fine_alignment=f"python:{fine} per region (max {MAX_FINE_SHIFT_PX:g} px)",
        focus=f"python:{focus_measure}-vs-edf focus curve per region, parabola on the {PEAK_POINTS} highest points",
        stitch="none" if grid is None else f"{grid[0]}x{grid[1]} tiles, overlap {tile_overlap:g}: "
        + ", ".join(sorted({str(f["stitch"]["widefield"]["implementation"]) for f in fovs})),
    )
