"""The ImageJ side of deepz-fiji: one bridge, two hosts.

- **Fiji** (a user's ``Fiji.app``) started through PyImageJ with an offline configuration
  (system Java, no Maven fetch), see :func:`deepz_fiji.fiji.host.start_imagej`.
- **ImageJ 1.x** (``ij.jar``, e.g. Debian's ``libij-java``) started through scyjava.

Modules: ``java`` (find Java/ij.jar/Fiji, offline settings), ``host`` (start one ImageJ per process), ``pyimagej`` (the
offline Fiji start), ``convert`` (ImagePlus <-> numpy with calibration), ``scripts`` (SciJava
``#@`` headers: parse, bind, run), ``dialog`` (GenericDialog for a header), ``runner`` (run
a script file on an image), ``jobs`` (the refocusing behind the menu and batch, numpy only),
``actions`` (what the Deep-Z scripts call), ``gui`` (a visible ImageJ with a Deep-Z menu),
``install`` (copy the scripts into Fiji.app), ``preprocess`` (Fiji's StackReg / EDF /
stitching with Python fallbacks), ``batch`` (a folder of images), ``doctor`` (diagnosis).

Only this package imports Java (jpype/scyjava/imagej), and only inside functions or modules
that need it; ``install`` and ``scripts`` parsing work without Java.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: What ``from deepz_fiji.fiji import …`` offers, and the module each comes from (imported on
#: first use, so that importing this package starts no Java).
_EXPORTS = {"start_imagej": "host", "running_host": "host",
            "imageplus_to_numpy": "convert", "numpy_to_imageplus": "convert"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
