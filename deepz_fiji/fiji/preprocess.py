"""Fiji's StackReg, Extended Depth of Field and Grid/Collection stitching behind contract B.

:func:`fiji_preprocessor` returns an object with the :class:`deepz_fiji.data.Preprocessor`
signatures. Each step runs the Fiji plugin by its command name when the running ImageJ has
it (checked in its command table) and otherwise the Python equivalent from
:mod:`deepz_fiji.data`; the info dict always says which one ran (``"implementation"``) and,
for a fallback, why (``"fiji_fallback"``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji import convert
from deepz_fiji.fiji.host import running_host
from deepz_fiji.fiji.java import ImageJHost

log = logging.getLogger(__name__)

STACKREG = "StackReg "  # ImageJ names StackReg_.class "StackReg " (trailing space)
EDF = "Extended Depth of Field (Easy mode)..."
STITCH = "Grid/Collection stitching"


def _new_images(host: ImageJHost, before: set[int]) -> list[Any]:
    WindowManager = host.jclass("ij.WindowManager")
    ids = WindowManager.getIDList()
    return [WindowManager.getImage(int(i)) for i in (ids or []) if int(i) not in before]


def _image_ids(host: ImageJHost) -> set[int]:
    ids = host.jclass("ij.WindowManager").getIDList()
    return {int(i) for i in (ids or [])}


class FijiPreprocessor:
    """Preprocessing through the running ImageJ's plugins, with Python fallbacks."""

    name = "fiji"

    def __init__(self, host: ImageJHost, *, quality: int = 1):
        self.host = host
        self.edf_quality = int(quality)

    def __repr__(self) -> str:
        return f"FijiPreprocessor({self.host.kind}, headless={self.host.headless})"

    def _missing(self, command: str) -> str | None:
        """Why ``command`` cannot run here, or ``None`` if it can."""
        if not self.host.command_table():
            return (f"the running {self.host.kind} has no menu command table (ImageJ 1.x builds it only with "
                    "a display; run under xvfb-run or use Fiji)")
        if not self.host.has_command(command):
            return f"the running {self.host.kind} has no '{command.strip()}' command (install its update site)"
        return None

    def _fallback(self, info: dict[str, Any], reason: str) -> dict[str, Any]:
        log.info("Python fallback: %s", reason)
        return {**info, "fiji_fallback": reason}

    def register(self, stack: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Rigid-body alignment of a ZYX stack with StackReg, run from its sharpest plane."""
        reason = self._missing(STACKREG)
        if reason:
            from deepz_fiji.data import stack_register

            out, info = stack_register(stack)
            return out, self._fallback(info, reason)
        from deepz_fiji.data.preprocess import plane_contrast

        stack = np.asarray(stack, dtype=np.float32)
        imp = convert.numpy_to_imageplus(stack, "ZYX", title="deepz-stackreg")
        anchor = int(np.argmax(plane_contrast(stack)))
        imp.setSlice(anchor + 1)  # StackReg keeps the current slice and works outwards from it
        self.host.IJ.run(imp, STACKREG, "transformation=[Rigid Body]")
        out = convert.imageplus_to_numpy(imp).data.astype(np.float32).reshape(stack.shape)
        imp.close()
        return out, {"implementation": "fiji:StackReg", "transformation": "rigid_body", "reference": "focus",
                     "anchor_plane": anchor}

    def edf(self, stack: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Extended depth of field of a ZYX stack with the BIG-EPFL plugin (easy mode)."""
        reason = self._missing(EDF)
        if reason:
            from deepz_fiji.data import extended_depth_of_field

            out, info = extended_depth_of_field(stack)
            return out, self._fallback(info, reason)
        stack = np.asarray(stack, dtype=np.float32)
        imp = convert.numpy_to_imageplus(stack, "ZYX", title="deepz-edf")
        before = _image_ids(self.host)
        imp.show()
        self.host.IJ.run(imp, EDF, f"quality='{self.edf_quality}' topology='0' show-topology='off' show-view='on'")
        result = self._wait_for_new(before | {int(imp.getID())}, EDF)
        out = convert.current_plane_to_numpy(result).astype(np.float32)
        result.close()
        imp.close()
        return out, {"implementation": "fiji:Extended Depth of Field (Easy mode)", "quality": self.edf_quality}

    def stitch(self, tiles: Sequence[np.ndarray], grid_shape: tuple[int, int],
               overlap_fraction: float) -> tuple[np.ndarray, dict[str, Any]]:
        """Stitch a row-by-row grid with Grid/Collection stitching (tiles passed through temporary TIFFs)."""
        reason = self._missing(STITCH)
        if reason:
            from deepz_fiji.data import stitch_grid

            out, info = stitch_grid(tiles, grid_shape, overlap_fraction)
            return out, self._fallback(info, reason)
        from deepz_fiji.io import write_image

        rows, cols = (int(v) for v in grid_shape)
        if len(tiles) != rows * cols:
            raise DeepZError(f"{len(tiles)} tiles do not fill a {rows}×{cols} grid")
        with tempfile.TemporaryDirectory(prefix="deepz-stitch-") as folder:
            for index, tile in enumerate(tiles):
                tile = np.asarray(tile, dtype=np.float32)
                write_image(Path(folder) / f"tile_{index:03d}.tif", tile, "ZYX" if tile.ndim == 3 else "YX")
            before = _image_ids(self.host)
            options = (f"type=[Grid: row-by-row] order=[Right & Down                ] grid_size_x={cols} "
                       f"grid_size_y={rows} tile_overlap={100 * overlap_fraction:g} first_file_index_i=0 "
                       f"directory=[{folder}] file_names=tile_{{iii}}.tif output_textfile_name=TileConfiguration.txt "
                       "fusion_method=[Linear Blending] regression_threshold=0.30 "
                       "max/avg_displacement_threshold=2.50 absolute_displacement_threshold=3.50 "
                       "compute_overlap computation_parameters=[Save computation time (but use more RAM)] "
                       "image_output=[Fuse and display]")
            self.host.IJ.run(STITCH, options)
            fused = self._wait_for_new(before, STITCH)
            out = convert.imageplus_to_numpy(fused).data.astype(np.float32)
            fused.close()
        return out, {"implementation": "fiji:Grid/Collection stitching", "grid_shape": [rows, cols],
                     "overlap_fraction": float(overlap_fraction), "order": "row-by-row", "blending": "linear"}

    def _wait_for_new(self, before: set[int], command: str, timeout_s: float = 600.0) -> Any:
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            new = _new_images(self.host, before)
            if new:
                return new[-1]
            time.sleep(0.1)
        raise DeepZError(f"'{command.strip()}' produced no image within {timeout_s:g} s; run it by hand to see why")


def fiji_preprocessor(ij: Any = None) -> FijiPreprocessor:
    """A :class:`FijiPreprocessor` for ``ij``: an :class:`ImageJHost`, a PyImageJ gateway, or ``None`` (running)."""
    if isinstance(ij, ImageJHost):
        return FijiPreprocessor(ij)
    host = running_host()
    if host is None:
        from deepz_fiji.fiji.host import start_imagej

        host = start_imagej()
    if ij is not None and host.gateway is None:
        host.gateway = ij
    return FijiPreprocessor(host)
