"""Calibrated TIFF input/output and atomic file writes (numpy + tifffile only).

Images are written as ImageJ hyperstacks (``imagej=True``) carrying pixel size, z-step and
unit so that Fiji opens them calibrated; ImageJ, OME and plain TIFFs are read back with their
calibration when present. Every write goes to a temporary file in the target folder and is
renamed into place only when complete, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

#: Axis letters ImageJ hyperstacks allow, in ImageJ's storage order.
IMAGEJ_AXES = "TZCYXS"
_MICRON_NAMES = {"micron", "um", "µm", "\\u00B5m", "microns", "micrometer", "micrometre"}


@dataclass(frozen=True)
class Calibration:
    """Physical calibration of an image; ``None`` where unknown."""

    pixel_um: float | None = None
    z_step_um: float | None = None
    unit: str = "micron"
    frame_interval_s: float | None = None


@dataclass
class Image:
    """An image read from disk: data (original dtype), axes string and calibration."""

    data: np.ndarray
    axes: str
    calibration: Calibration = field(default_factory=Calibration)
    source_dtype: np.dtype = field(default_factory=lambda: np.dtype("float32"))
    path: Path | None = None

    @property
    def pixel_um(self) -> float | None:
        return self.calibration.pixel_um

    @property
    def z_step_um(self) -> float | None:
        return self.calibration.z_step_um


# --------------------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    if not path.parent.exists():
        raise DeepZError(f"output folder {path.parent} does not exist; create it first or choose another path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return Path(path)


def write_csv(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write a list of dicts as CSV (columns from the first row, then any new keys), atomically."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


# --------------------------------------------------------------------------- checks


def check_finite(array: np.ndarray, what: str = "image") -> None:
    """Raise :class:`DeepZError` if ``array`` holds NaN or infinite values."""
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise DeepZError(
            f"{what} contains {bad} NaN or infinite pixel(s); replace them (e.g. Process > Math > "
            "Remove NaNs in Fiji) before running"
        )


# --------------------------------------------------------------------------- writing


def write_image(
    path: str | os.PathLike,
    data: np.ndarray,
    axes: str,
    *,
    pixel_um: float | None = None,
    z_step_um: float | None = None,
    unit: str = "micron",
    frame_interval_s: float | None = None,
    metadata: dict | None = None,
) -> Path:
    """Write ``data`` as a calibrated ImageJ hyperstack TIFF, atomically.

    ``axes`` names each dimension of ``data`` using letters of ``TZCYX`` (``YX`` last).
    float64 is stored as float32, bool as uint8; other dtypes ImageJ cannot hold
    (int32, int64, uint32) are refused. ``metadata`` is stored as extra ImageJ properties.
    """
    data = np.asarray(data)
    axes = axes.upper()
    _check_axes(axes, data.ndim)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    elif data.dtype == bool:
        data = data.astype(np.uint8)
    if data.dtype not in (np.uint8, np.uint16, np.float32):
        raise DeepZError(
            f"cannot write {data.dtype} pixels as an ImageJ TIFF; convert to uint8, uint16 or float32 first"
        )
    order = [a for a in IMAGEJ_AXES if a in axes]
    data = np.transpose(data, [axes.index(a) for a in order])
    ij_axes = "".join(order)
    import tifffile

    ij_meta: dict[str, Any] = {"axes": ij_axes, "unit": "micron" if unit in _MICRON_NAMES else unit}
    if z_step_um is not None:
        ij_meta["spacing"] = float(z_step_um)
    if frame_interval_s is not None:
        ij_meta["finterval"] = float(frame_interval_s)
    if metadata:
        ij_meta["Info"] = "\n".join(f"{k} = {v}" for k, v in metadata.items())
        ij_meta["Properties"] = {str(k): str(v) for k, v in metadata.items()}
    kwargs: dict[str, Any] = {}
    if pixel_um is not None:
        kwargs["resolution"] = (1.0 / float(pixel_um), 1.0 / float(pixel_um))
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, data, imagej=True, metadata=ij_meta, **kwargs)
    log.info("wrote %s %s %s", path, ij_axes, data.shape)
    return Path(path)


def _check_axes(axes: str, ndim: int) -> None:
    if len(axes) != ndim:
        raise DeepZError(f"axes {axes!r} name {len(axes)} dimensions but the data has {ndim}")
    if len(set(axes)) != len(axes) or any(a not in "TZCYX" for a in axes) or not axes.endswith("YX"):
        raise DeepZError(f"axes {axes!r} must use each of T, Z, C at most once and end with YX")


# --------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike, *, allow_nonfinite: bool = False) -> Image:
    """Read an ImageJ, OME or plain TIFF with its axes and calibration.

    Raises :class:`DeepZError` for a missing or unreadable file, an RGB image, or (unless
    ``allow_nonfinite``) NaN/Inf pixels. Singleton dimensions are dropped from the axes.
    """
    path = Path(path)
    if not path.exists():
        raise DeepZError(f"input file {path} does not exist; check the path")
    if path.is_dir():
        raise DeepZError(f"{path} is a folder, not an image file; give a TIFF file")
    import tifffile

    try:
        with _tifffile_logs_to_debug(), tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes.upper()
            calibration = _read_calibration(tif, series)
            # 8-bit RGB(A) is a colour picture; other sample layouts are read as channels
            is_rgb = int(series.pages[0].photometric) == 2 and "S" in axes and data.dtype == np.uint8
    except Exception as exc:  # tifffile raises many types for corrupt or non-TIFF files
        raise DeepZError(f"cannot read {path} as a TIFF image ({exc.__class__.__name__}: {exc}); "
                         "check that the file is a complete TIFF") from exc
    if is_rgb:
        raise DeepZError(
            f"{path.name} is an RGB colour image; Deep-Z works on single-channel fluorescence images: "
            "split the channels (Image > Color > Split Channels) and give one"
        )
    data, axes = _canonical_axes(data, axes, path)
    if not allow_nonfinite:
        check_finite(data, f"image {path.name}")
    return Image(data=data, axes=axes, calibration=calibration, source_dtype=data.dtype, path=path)


class _ToDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        log.debug("tifffile %s: %s", record.levelname, record.getMessage())
        return False


@contextlib.contextmanager
def _tifffile_logs_to_debug() -> Iterator[None]:
    """While reading: tifffile's own log lines (an ERROR for a truncated file) go to our debug log;
    the one-line DeepZError says what is wrong instead."""
    logger, demote = logging.getLogger("tifffile"), _ToDebug()
    logger.addFilter(demote)
    try:
        yield
    finally:
        logger.removeFilter(demote)


def _canonical_axes(data: np.ndarray, axes: str, path: Path) -> tuple[np.ndarray, str]:
    """Map tifffile axis codes onto TZCYX (separate samples become channels), drop singleton axes."""
    mapping = {"I": "Z", "Q": "Z", "Z": "Z", "T": "T", "C": "C", "S": "C", "Y": "Y", "X": "X"}
    axes = "".join(mapping.get(a, "Q") for a in axes)
    if axes.endswith("YXC"):  # contiguous samples: move them before YX
        data = np.moveaxis(data, -1, -3)
        axes = axes[:-3] + "CYX"
    keep = [i for i, (a, n) in enumerate(zip(axes, data.shape, strict=True)) if n > 1 or a in "YX"]
    data = data.reshape([data.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    if "Q" in axes or len(set(axes)) != len(axes) or not axes.endswith("YX"):
        raise DeepZError(f"{path.name} has unsupported dimension order {axes!r}; save it as an ImageJ hyperstack")
    return data, axes


def _read_calibration(tif: Any, series: Any) -> Calibration:
    pixel_um = z_step_um = finterval = None
    unit = "micron"
    page = series.pages[0]
    if tif.is_imagej and tif.imagej_metadata:
        meta = tif.imagej_metadata
        unit = str(meta.get("unit", unit))
        z_step_um = _float_or_none(meta.get("spacing"))
        finterval = _float_or_none(meta.get("finterval"))
        pixel_um = _resolution_um(page)
    elif tif.is_ome and tif.ome_metadata:
        pixel_um, z_step_um, unit = _ome_calibration(tif.ome_metadata)
    else:
        pixel_um = _resolution_um(page)
    if unit.strip().lower() in {"nm", "nanometer", "nanometre"}:
        pixel_um = pixel_um / 1000 if pixel_um else None
        z_step_um = z_step_um / 1000 if z_step_um else None
        unit = "micron"
    return Calibration(pixel_um=pixel_um, z_step_um=z_step_um, unit=unit, frame_interval_s=finterval)


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _resolution_um(page: Any) -> float | None:
    tag = page.tags.get("XResolution")
    if tag is None:
        return None
    num, den = tag.value
    if not num or not den:
        return None
    size = den / num
    unit_tag = page.tags.get("ResolutionUnit")
    unit = int(unit_tag.value) if unit_tag is not None else 1
    if unit == 3:  # centimetre
        return size * 1e4
    if unit == 2:  # inch
        return size * 25400.0
    return None if size == 1.0 else size  # ImageJ stores microns with unit NONE


def _ome_calibration(xml: str) -> tuple[float | None, float | None, str]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None, "micron"
    for elem in root.iter():
        if elem.tag.endswith("Pixels"):
            px = _float_or_none(elem.get("PhysicalSizeX"))
            pz = _float_or_none(elem.get("PhysicalSizeZ"))
            unit = elem.get("PhysicalSizeXUnit", "µm")
            factor = {"nm": 1e-3, "mm": 1e3}.get(unit, 1.0)
            return (px * factor if px else None, pz * factor if pz else None, "micron")
    return None, None, "micron"
