"""Finding and loading the calibrated z-stacks a training dataset is made from."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import read_image

log = logging.getLogger(__name__)

STACK_SUFFIXES = (".tif", ".tiff")


@dataclass
class Stack:
    """One field of view: a ZYX stack with its z-step and pixel size (µm)."""

    data: np.ndarray
    z_step_um: float
    pixel_um: float
    path: Path


def find_stacks(stacks: str | Path | Iterable[str | Path]) -> list[Path]:
    """TIFF files in a folder (not recursive, sorted), or the given files; folders are expanded."""
    items = [stacks] if isinstance(stacks, (str, Path)) else list(stacks)
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in STACK_SUFFIXES
                                and not p.name.startswith(".")))
        elif path.is_file():
            found.append(path)
        else:
            raise DeepZError(f"{path} does not exist; give a folder of z-stack TIFFs or the TIFF files")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise DeepZError(f"no .tif/.tiff z-stacks found in {', '.join(str(i) for i in items)}")
    return unique


def load_stack(path: str | Path, *, z_step_um: float | None = None, pixel_um: float | None = None) -> Stack:
    """Read a z-stack as float32 ZYX with its calibration.

    ``z_step_um``/``pixel_um`` override the file's calibration (a warning if they disagree);
    a stack without calibration and without the override raises :class:`DeepZError`.
    """
    image = read_image(path)
    data, axes = image.data, image.axes
    if axes == "TYX":
        log.warning("%s: frames (T) read as z-planes", Path(path).name)
        axes = "ZYX"
    if axes != "ZYX":
        raise DeepZError(
            f"{Path(path).name} has axes {axes!r} {tuple(data.shape)}; training needs single-channel "
            "z-stacks (ZYX): split channels and time points first"
        )
    if data.shape[0] < 2:
        raise DeepZError(f"{Path(path).name} has a single plane; training needs z-stacks")
    z_step = _calibrated(image.z_step_um, z_step_um, "z-step", "--z-step", path)
    pixel = _calibrated(image.pixel_um, pixel_um, "pixel size", "--pixel-um", path)
    return Stack(data=data.astype(np.float32, copy=False), z_step_um=z_step, pixel_um=pixel, path=Path(path))


def _calibrated(found: float | None, given: float | None, what: str, option: str, path: str | Path) -> float:
    name = Path(path).name
    if given is not None:
        if not (np.isfinite(given) and given > 0):
            raise DeepZError(f"the {what} must be a positive number of µm, got {given}")
        if found and abs(found - given) > 0.01 * given:
            log.warning("%s: using %s %.4g µm instead of the file's %.4g µm", name, what, given, found)
        return float(given)
    if found is None or not found > 0:
        raise DeepZError(f"{name} has no {what} calibration; set it in Fiji (Image > Properties) or pass {option}")
    return float(found)


def pair_stack_files(
    inputs: str | Path | Iterable[str | Path], targets: str | Path | Iterable[str | Path], *,
    kinds: tuple[str, str] = ("wide-field", "confocal"), option: str = "--labels",
) -> list[tuple[Path, Path]]:
    """(input, target) stack files, e.g. wide-field and confocal: matched by file name when the names
    agree, else in sorted order. ``kinds`` and ``option`` name them in error messages."""
    first, second = find_stacks(inputs), find_stacks(targets)
    if set(first) & set(second):
        raise DeepZError(f"the {kinds[0]} and {kinds[1]} stacks are the same files; give the {kinds[1]} stacks "
                         f"with {option}")
    names_1, names_2 = [p.name for p in first], [p.name for p in second]
    if sorted(names_1) == sorted(names_2) and len(set(names_1)) == len(names_1):
        by_name = {p.name: p for p in second}
        return [(p, by_name[p.name]) for p in first]
    if len(first) != len(second):
        raise DeepZError(f"{len(first)} {kinds[0]} stack(s) but {len(second)} {kinds[1]} stack(s); give one "
                         f"{kinds[1]} stack per {kinds[0]} stack (same file names, or the same number in sorted order)")
    log.info("pairing %s and %s stacks by sorted order (their file names differ)", *kinds)
    return list(zip(first, second, strict=True))
