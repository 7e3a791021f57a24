"""Refocus every image of a folder: re-runnable, one bad file never stops the rest.

Images are opened through ImageJ with Bio-Formats when a Fiji is running (any format it
reads), otherwise with tifffile (TIFFs). Each result is written atomically as a calibrated
ImageJ TIFF ``OUT_DIR/<name>_deepz.tif``; outputs that already exist are skipped (so an
interrupted batch resumes), a file that fails is reported and skipped, and a summary CSV
(``deepz_batch.csv``) lists every input with its status.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji import jobs
from deepz_fiji.io import Image, read_image, write_csv, write_image

log = logging.getLogger(__name__)

SUMMARY_NAME = "deepz_batch.csv"
OUTPUT_SUFFIX = "_deepz.tif"
TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class BatchRequest:
    """What to do with each image: one plane, a stack, or a tilted plane."""

    dz_um: float | None = None
    stack: tuple[float, float, float] | None = None
    tilt_x_deg: float | None = None
    tilt_y_deg: float = 0.0
    offset_um: float = 0.0
    allow_extrapolation: bool = False
    tta: bool = False

    def __post_init__(self) -> None:
        chosen = sum(v is not None for v in (self.dz_um, self.stack, self.tilt_x_deg))
        if chosen != 1:
            raise DeepZError("choose exactly one of: a Δz (--dz), a stack range (--range A B --step S) "
                             "or a tilt (--tilt-x-deg)")

    def run(self, image: Image, model: Any) -> jobs.RefocusResult:
        """Refocus one image (2D, or frames T×Y×X for a plane or stack)."""
        kw = {"allow_extrapolation": self.allow_extrapolation, "tta": self.tta}
        if image.axes == "YX":
            if self.dz_um is not None:
                return jobs.plane_job(image.data, image.calibration, self.dz_um, model, **kw)
            if self.stack is not None:
                return jobs.stack_job(image.data, image.calibration, *self.stack, model, **kw)
            return jobs.surface_job(image.data, image.calibration, "tilt", model, tilt_x_deg=self.tilt_x_deg,
                                    tilt_y_deg=self.tilt_y_deg, offset_um=self.offset_um, **kw)
        if image.axes == "TYX" and self.tilt_x_deg is None:
            return jobs.frames_job(image.data, image.calibration, dz_um=self.dz_um, stack=self.stack,
                                   model=model, **kw)
        raise DeepZError(f"image has axes {image.axes}; deepz batch refocuses single 2D images "
                         "(or T×Y×X time-lapses for --dz/--range)")


def find_inputs(in_dir: str | os.PathLike, *, any_format: bool = False) -> list[Path]:
    """The image files of ``in_dir`` (TIFFs, or every non-hidden file when Bio-Formats reads them)."""
    folder = Path(in_dir)
    if not folder.is_dir():
        raise DeepZError(f"input folder {folder} does not exist; check the path")
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]
    if not any_format:
        files = [p for p in files if p.suffix.lower() in TIFF_SUFFIXES]
    return files


def output_path(out_dir: Path, source: Path) -> Path:
    return out_dir / f"{source.stem}{OUTPUT_SUFFIX}"


def _imagej_reader(bioformats: bool) -> Callable[[Path], Image]:
    from deepz_fiji.fiji import convert

    def read(path: Path) -> Image:
        imp = convert.open_image(str(path), bioformats=bioformats)
        try:
            image = convert.imageplus_to_numpy(imp)
        finally:
            imp.close()
        image.path = path
        return image

    return read


def plan_batch(in_dir: str | os.PathLike, out_dir: str | os.PathLike, reader: str = "tifffile") -> list[Path]:
    """The inputs of a batch (checked), with ``out_dir`` created; our own outputs are never inputs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if reader not in ("tifffile", "imagej", "bioformats"):
        raise DeepZError(f"unknown reader {reader!r}; use tifffile, imagej or bioformats")
    files = find_inputs(in_dir, any_format=reader == "bioformats")
    if Path(in_dir).resolve() == out_dir.resolve():  # never take our own outputs (or summary) as inputs
        files = [f for f in files if not f.name.endswith(OUTPUT_SUFFIX) and f.name != SUMMARY_NAME]
    if not files:
        raise DeepZError(f"no images in {in_dir}" + ("" if reader == "bioformats" else " (looked for *.tif, *.tiff)"))
    return files


def refocus_file(source: Path, target: Path, request: BatchRequest, model: Any,
                 read: Callable[[Path], Image] = read_image, overwrite: bool = False) -> dict[str, Any]:
    """Refocus one file into ``target`` (atomically); its summary row. Never raises for a bad file."""
    row: dict[str, Any] = {"input": source.name, "output": target.name, "status": "", "seconds": "", "error": "",
                           "calibration": ""}
    start = time.perf_counter()
    if target.exists() and not overwrite:
        row["status"] = "skipped"
    else:
        try:
            result = request.run(read(source), model)
            _save(target, result, source)
            row["status"] = "done"
            row["calibration"] = result.metadata.get("deepz_calibration", "")
        except DeepZError as exc:
            row.update(status="failed", error=str(exc))
            log.warning("%s failed: %s", source.name, exc)
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the batch
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            log.warning("%s failed: %s: %s", source.name, type(exc).__name__, exc)
    row["seconds"] = f"{time.perf_counter() - start:.2f}"
    return row


def finish_batch(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Write the summary CSV; remove temporary files a killed writer left (never a finished output)."""
    for stray in out_dir.glob(f".*{OUTPUT_SUFFIX[:-4]}.tif.*.tmp.tif"):
        stray.unlink(missing_ok=True)
    write_csv(out_dir / SUMMARY_NAME, rows)


def batch_refocus(
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    request: BatchRequest,
    *,
    model: Any = None,
    reader: str = "tifffile",
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Refocus every image of ``in_dir`` into ``out_dir``; returns the summary rows (also written as CSV).

    ``reader``: ``'tifffile'``, ``'imagej'`` (ImageJ's opener) or ``'bioformats'`` (Fiji).
    Each row has ``input``, ``output``, ``status`` (done | skipped | failed), ``seconds`` and ``error``.
    :mod:`deepz_fiji.dask_cluster` runs the same on a Dask cluster.
    """
    out_dir = Path(out_dir)
    files = plan_batch(in_dir, out_dir, reader)
    read = read_image if reader == "tifffile" else _imagej_reader(reader == "bioformats")
    pending = overwrite or any(not output_path(out_dir, f).exists() for f in files)
    loaded_model = load_batch_model(model) if pending else None  # a bad model stops the batch at once
    rows: list[dict[str, Any]] = []
    for index, source in enumerate(files):
        rows.append(refocus_file(source, output_path(out_dir, source), request, loaded_model, read, overwrite))
        if progress is not None:
            progress(index + 1, len(files))
    finish_batch(out_dir, rows)
    return rows


def load_batch_model(model: Any) -> Any:
    from deepz_fiji.refocus import resolve_model

    return resolve_model(jobs.model_argument(model))


def _save(target: Path, result: jobs.RefocusResult, source: Path) -> None:
    cal = result.calibration
    meta = {"source": source.name, "title": f"{source.stem} {result.title}", **result.metadata}
    if result.slice_labels:
        meta["deepz_planes"] = "; ".join(dict.fromkeys(result.slice_labels))
    write_image(target, result.data, result.axes, pixel_um=cal.pixel_um, z_step_um=cal.z_step_um,
                frame_interval_s=cal.frame_interval_s, metadata=meta)
