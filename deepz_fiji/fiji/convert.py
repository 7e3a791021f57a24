"""ImagePlus <-> numpy with calibration, by bulk array transfer (one copy per plane).

ImageJ stores a hyperstack as a flat list of planes in C, Z, T order (channel fastest), so the
planes of an ImagePlus map onto a ``(T, Z, C, Y, X)`` array; singleton axes are dropped from
the axes string (``'YX'``, ``'ZYX'``, ``'TYX'``, ``'TZCYX'`` ...). 8-bit images become uint8,
16-bit uint16 and 32-bit float32; calibration (pixel size, z-step, unit, frame interval) is
converted to micrometres and seconds both ways.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import Calibration, Image

log = logging.getLogger(__name__)

#: ImageJ length units -> micrometres.
_UNIT_TO_UM = {
    "micron": 1.0, "microns": 1.0, "um": 1.0, "\u00b5m": 1.0, "\u03bcm": 1.0, "micrometer": 1.0,
    "micrometre": 1.0, "nm": 1e-3, "nanometer": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6, "inch": 25400.0,
}
#: ImageJ time units -> seconds.
_TIME_TO_S = {"sec": 1.0, "s": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3, "msec": 1e-3,
              "min": 60.0, "minute": 60.0, "minutes": 60.0, "hr": 3600.0, "h": 3600.0, "hour": 3600.0}
_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.float32)}


def _jclass(name: str) -> Any:
    import scyjava

    return scyjava.jimport(name)


def _plane_to_numpy(pixels: Any, dtype: np.dtype, shape: tuple[int, int]) -> np.ndarray:
    """One Java primitive array (byte[]/short[]/float[]) -> a numpy view with ImageJ's meaning."""
    return np.asarray(pixels).view(dtype).reshape(shape)


def _numpy_to_plane(plane: np.ndarray) -> Any:
    """A 2D uint8/uint16/float32 array -> a new Java primitive array (one bulk copy)."""
    import jpype

    flat = np.ascontiguousarray(plane).ravel()
    if flat.dtype == np.uint8:
        return jpype.JArray(jpype.JByte)(flat.view(np.int8))
    if flat.dtype == np.uint16:
        return jpype.JArray(jpype.JShort)(flat.view(np.int16))
    return jpype.JArray(jpype.JFloat)(flat)


def _bit_depth_dtype(imp: Any) -> np.dtype:
    bits = int(imp.getBitDepth())
    if bits not in _DTYPES:
        raise DeepZError(
            f"image '{imp.getTitle()}' is {bits}-bit RGB; Deep-Z works on single-channel fluorescence "
            "images: convert it (Image > Type > 32-bit) or split its channels first"
        )
    return _DTYPES[bits]


def imageplus_to_numpy(imp: Any) -> Image:
    """Convert an ImagePlus (any 8/16/32-bit image, stack or hyperstack) to a calibrated :class:`Image`."""
    if imp is None:
        raise DeepZError("no image given; open an image in ImageJ first")
    dtype = _bit_depth_dtype(imp)
    width, height, channels, slices, frames = (int(v) for v in imp.getDimensions())
    stack = imp.getStack()
    out = np.empty((frames, slices, channels, height, width), dtype)
    planes = out.reshape(-1, height, width)
    for index in range(planes.shape[0]):
        planes[index] = _plane_to_numpy(stack.getPixels(index + 1), dtype, (height, width))
    axes = "".join(a for a, n in zip("TZC", out.shape[:3], strict=True) if n > 1) + "YX"
    data = out.reshape([n for a, n in zip("TZCYX", out.shape, strict=True) if a in axes])
    return Image(data=data, axes=axes, calibration=calibration_from_imageplus(imp), source_dtype=dtype,
                 path=_source_path(imp))


def current_plane_to_numpy(imp: Any) -> np.ndarray:
    """The plane ImageJ currently shows for ``imp`` (channel/slice/frame position) as a YX array."""
    if imp is None:
        raise DeepZError("no image given; open an image in ImageJ first")
    dtype = _bit_depth_dtype(imp)
    proc = imp.getProcessor()
    return np.array(_plane_to_numpy(proc.getPixels(), dtype, (int(proc.getHeight()), int(proc.getWidth()))))


def numpy_to_imageplus(
    data: np.ndarray,
    axes: str = "YX",
    *,
    title: str = "image",
    calibration: Calibration | None = None,
    slice_labels: list[str] | None = None,
) -> Any:
    """Build an ImagePlus (a hyperstack if more than one of T, Z, C is > 1) from ``data``.

    uint8, uint16 and float32 keep their type (8-, 16-, 32-bit); bool becomes 8-bit, every
    other real type 32-bit. ``slice_labels`` names the planes in C, Z, T order.
    """
    data = np.asarray(data)
    axes = axes.upper()
    if data.ndim != len(axes) or not axes.endswith("YX") or len(set(axes)) != len(axes) or set(axes) - set("TZCYX"):
        raise DeepZError(f"axes {axes!r} do not describe a {data.ndim}-D array; use letters of TZCYX ending in YX")
    if np.iscomplexobj(data):
        raise DeepZError("complex images cannot be shown in ImageJ; take the magnitude or real part first")
    if data.dtype == bool:
        data = data.astype(np.uint8)
    elif data.dtype not in (np.uint8, np.uint16, np.float32):
        data = data.astype(np.float32)
    full = data.reshape(data.shape + (1,) * (5 - data.ndim))  # add missing axes at the end ...
    order = axes + "".join(a for a in "TZCYX" if a not in axes)
    full = np.transpose(full, [order.index(a) for a in "TZCYX"])  # ... and move them into place
    frames, slices, channels, height, width = full.shape
    ImageStack = _jclass("ij.ImageStack")
    ImagePlus = _jclass("ij.ImagePlus")
    stack = ImageStack(int(width), int(height))
    planes = full.reshape(-1, height, width)
    if slice_labels is not None and len(slice_labels) != planes.shape[0]:
        raise DeepZError(f"{len(slice_labels)} slice labels given for {planes.shape[0]} planes")
    for index, plane in enumerate(planes):
        stack.addSlice(slice_labels[index] if slice_labels else None, _numpy_to_plane(plane))
    imp = ImagePlus(str(title), stack)
    imp.setDimensions(int(channels), int(slices), int(frames))
    if channels > 1:
        CompositeImage = _jclass("ij.CompositeImage")
        imp = CompositeImage(imp, CompositeImage.GRAYSCALE)
    elif sum(n > 1 for n in (slices, frames)) > 1:
        imp.setOpenAsHyperStack(True)
    if calibration is not None:
        apply_calibration(imp, calibration)
    if data.size and data.dtype != np.uint8:
        imp.setDisplayRange(float(np.min(data)), float(np.max(data)))
    return imp


def image_to_imageplus(image: Image, title: str | None = None) -> Any:
    """:class:`Image` -> ImagePlus with its calibration; the title defaults to the file name."""
    name = title or (image.path.name if image.path else "image")
    return numpy_to_imageplus(image.data, image.axes, title=name, calibration=image.calibration)


def calibration_from_imageplus(imp: Any) -> Calibration:
    """Read an ImagePlus' calibration in micrometres and seconds (``None`` where unknown)."""
    cal = imp.getCalibration()
    unit = str(cal.getUnit()).strip()
    factor = _UNIT_TO_UM.get(unit.lower())
    pixel_um = z_step_um = None
    if factor is not None:
        if abs(cal.pixelWidth - cal.pixelHeight) > 1e-9 * max(cal.pixelWidth, 1e-12):
            log.warning("pixel width %s and height %s differ; using the width", cal.pixelWidth, cal.pixelHeight)
        pixel_um = float(cal.pixelWidth) * factor
        if int(imp.getNSlices()) > 1 or float(cal.pixelDepth) != 1.0:
            z_step_um = float(cal.pixelDepth) * factor
    interval = float(cal.frameInterval)
    seconds = _TIME_TO_S.get(str(cal.getTimeUnit()).strip().lower(), 1.0)
    return Calibration(
        pixel_um=pixel_um,
        z_step_um=z_step_um,
        unit="micron" if factor is not None else unit,
        frame_interval_s=interval * seconds if interval > 0 else None,
    )


def apply_calibration(imp: Any, calibration: Calibration) -> None:
    """Write ``calibration`` (µm, s) into ``imp``'s ImageJ calibration."""
    cal = imp.getCalibration()
    if calibration.pixel_um is not None:
        cal.pixelWidth = float(calibration.pixel_um)
        cal.pixelHeight = float(calibration.pixel_um)
        cal.setUnit("micron")
    if calibration.z_step_um is not None:
        cal.pixelDepth = float(calibration.z_step_um)
        cal.setUnit("micron")
    if calibration.frame_interval_s is not None:
        cal.frameInterval = float(calibration.frame_interval_s)
        cal.setTimeUnit("sec")
    imp.setCalibration(cal)


def current_image() -> Any:
    """The image ImageJ currently has selected (a window, or a batch-mode/temporary current image)."""
    imp = _jclass("ij.WindowManager").getCurrentImage()
    if imp is None:
        raise DeepZError("no image is open in ImageJ; open one first (File > Open...)")
    return imp


def set_current_image(imp: Any) -> None:
    """Make ``imp`` the current image without a window (works headless)."""
    _jclass("ij.WindowManager").setTempCurrentImage(imp)


def open_image(path: str, *, bioformats: bool = False) -> Any:
    """Open a file as an ImagePlus with ImageJ's opener (or Bio-Formats, in Fiji); DeepZError if it cannot."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise DeepZError(f"input file {file} does not exist; check the path")
    imp = None
    if bioformats:
        try:
            imps = _jclass("loci.plugins.BF").openImagePlus(str(file))
            imp = imps[0] if imps is not None and len(imps) else None
        except Exception as exc:
            raise DeepZError(f"Bio-Formats cannot open {file.name} ({exc}); check the file") from exc
    else:
        imp = _jclass("ij.IJ").openImage(str(file))
    if imp is None:
        raise DeepZError(f"ImageJ cannot open {file.name}; check that it is a complete image file")
    return imp


def _source_path(imp: Any):
    from pathlib import Path

    info = imp.getOriginalFileInfo()
    if info is None or info.fileName is None or info.directory is None:
        return None
    return Path(str(info.directory)) / str(info.fileName)
