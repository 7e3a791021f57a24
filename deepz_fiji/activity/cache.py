"""Per-frame virtual stacks cached on disk (``OUT/cache``) so that a killed run can resume.

Each frame's stack of each channel is one ``.npy`` file, written atomically and read back
memory-mapped (a whole video of stacks rarely fits in memory). ``settings.json`` records
what the cached stacks were computed from; resuming with different settings is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import atomic_path, write_json

log = logging.getLogger(__name__)

SETTINGS = "settings.json"


def video_fingerprint(video: np.ndarray) -> str:
    """A short SHA-1 of the video's pixels, shape and dtype."""
    digest = hashlib.sha1(str((video.shape, str(video.dtype))).encode())
    digest.update(np.ascontiguousarray(video).view(np.uint8).reshape(-1))
    return digest.hexdigest()[:16]


class StackCache:
    """The cache folder of one run: settings, transforms and per-frame stacks."""

    def __init__(self, folder: Path, settings: dict[str, Any], *, resume: bool):
        self.folder = Path(folder)
        self.settings = json.loads(json.dumps(settings))  # plain JSON types, comparable on resume
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / SETTINGS
        if resume and path.exists():
            self._check_same(json.loads(path.read_text(encoding="utf-8")))
        else:
            self.clear()
            write_json(path, self.settings)
        self.loaded = 0  # stacks read back instead of computed

    def _check_same(self, old: dict[str, Any]) -> None:
        changed = sorted(k for k in set(old) | set(self.settings) if old.get(k) != self.settings.get(k))
        if changed:
            raise DeepZError(
                f"cannot resume: the cache in {self.folder} was made with different {', '.join(changed)}; "
                "run without --resume to start over, or choose another output folder"
            )

    def clear(self) -> None:
        """Delete the cached stacks and transforms (only files this class writes)."""
        for pattern in ("stack_*.npy", "transforms.npy", "scores.npy", SETTINGS):
            for path in self.folder.glob(pattern):
                path.unlink()

    def name(self, channel: int, frame: int) -> str:
        """The cache file name of the stack of (channel, frame)."""
        return f"stack_c{channel}_t{frame:05d}.npy"

    def load(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray | None:
        """A cached array by file name, memory-mapped; None if missing or of another shape."""
        path = self.folder / name
        if not path.exists():
            return None
        try:
            array = np.load(path, mmap_mode="r")
        except (ValueError, OSError, EOFError):
            log.warning("ignoring unreadable cache file %s", path)
            return None
        return array if shape is None or array.shape == tuple(shape) else None

    def save(self, name: str, array: np.ndarray) -> np.ndarray:
        """Write ``array`` atomically as ``name``; returns it memory-mapped from disk."""
        with atomic_path(self.folder / name) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array))
        return np.load(self.folder / name, mmap_mode="r")

    def stack(self, channel: int, frame: int, shape: tuple[int, ...], compute) -> np.ndarray:
        """The cached stack of (channel, frame), or ``compute()`` saved to the cache."""
        name = self.name(channel, frame)
        cached = self.load(name, shape)
        if cached is not None:
            self.loaded += 1
            return cached
        return self.save(name, compute())
