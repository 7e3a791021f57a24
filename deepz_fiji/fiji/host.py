"""Start one ImageJ per process: Fiji via PyImageJ, or ImageJ 1.x via scyjava.

The pieces it needs (finding Java and ``ij.jar``, the offline settings, :class:`ImageJHost`) live
in :mod:`deepz_fiji.fiji.java`, the Fiji start in :mod:`deepz_fiji.fiji.pyimagej`; this module
sits above both. The JVM can start only once per Python process, so :func:`start_imagej` returns
the one running host on later calls.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from deepz_fiji.errors import DeepZError, require
from deepz_fiji.fiji.java import (
    ImageJHost,
    check_fiji_dir,
    configure_offline,
    find_ij_jar,
    find_java,
)
from deepz_fiji.fiji.pyimagej import soften_imglyb_hooks, start_fiji

log = logging.getLogger(__name__)

_HOST: ImageJHost | None = None


def running_host() -> ImageJHost | None:
    """The ImageJ started in this process, or ``None``."""
    return _HOST


def start_imagej(
    *,
    fiji_dir: str | os.PathLike | None = None,
    ij_jar: str | os.PathLike | None = None,
    headless: bool = True,
    plugins_dir: str | os.PathLike | None = None,
) -> ImageJHost:
    """Start ImageJ once per process: Fiji via PyImageJ if ``fiji_dir``, else ImageJ 1.x.

    ``plugins_dir`` (ImageJ 1.x only) is an ImageJ plugins folder (e.g. one holding
    StackReg/TurboReg). A second call returns the running host if it is compatible and raises
    :class:`DeepZError` otherwise (Java cannot be restarted inside one process).
    """
    global _HOST
    want = "fiji" if fiji_dir is not None else "imagej1"
    if _HOST is not None:
        compatible = _HOST.kind == want or want == "imagej1"  # Fiji holds an ImageJ 1.x
        if not compatible or (_HOST.headless and not headless):
            raise DeepZError(
                f"{_HOST.kind} is already running in this process (headless={_HOST.headless}); "
                "Java starts once per process, so run this in a new Python process"
            )
        return _HOST
    if not headless and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise DeepZError("no display for the ImageJ window (DISPLAY is not set); run under `xvfb-run` or on a desktop")
    sj = require("scyjava", "fiji")
    if sj.jvm_started():
        _HOST = _adopt_running_jvm(headless)
        return _HOST
    find_java()
    if want == "fiji":
        _HOST = start_fiji(check_fiji_dir(fiji_dir), headless)
    else:
        _HOST = _start_imagej1(find_ij_jar(ij_jar), headless, plugins_dir)
    log.info("started %s %s (headless=%s)", _HOST.kind, _HOST.version, headless)
    return _HOST


def _start_imagej1(jar: Path, headless: bool, plugins_dir: str | os.PathLike | None) -> ImageJHost:
    sj = require("scyjava", "fiji")
    configure_offline()
    if "imglyb" in sys.modules:  # imported with PyImageJ: its hooks need jars ImageJ 1.x does not have
        soften_imglyb_hooks(warn=False)
    sj.config.add_classpath(str(jar))
    if headless:
        sj.config.add_option("-Djava.awt.headless=true")
    if plugins_dir is not None:
        plugins = Path(plugins_dir).expanduser().resolve()
        if not plugins.is_dir():
            raise DeepZError(f"ImageJ plugins folder {plugins} does not exist; give an existing folder")
        sj.config.add_option(f"-Dplugins.dir={plugins}")
    try:
        sj.start_jvm()
        sj.jimport("ij.IJ")
    except Exception as exc:
        raise DeepZError(f"ImageJ 1.x from {jar} did not start ({exc}); run `deepz fiji doctor`") from exc
    return ImageJHost(kind="imagej1", headless=headless, location=jar)


def _adopt_running_jvm(headless: bool) -> ImageJHost:
    """Use a JVM someone else started in this process (e.g. a user's own PyImageJ session)."""
    import scyjava

    try:
        scyjava.jimport("ij.IJ")
    except Exception as exc:
        raise DeepZError(
            "a JVM is already running in this process without ImageJ on its classpath; "
            "start deepz-fiji's ImageJ in a new Python process"
        ) from exc
    try:
        scyjava.jimport("net.imagej.ImageJ")
        kind = "fiji"
    except Exception:
        kind = "imagej1"
    GraphicsEnvironment = scyjava.jimport("java.awt.GraphicsEnvironment")
    return ImageJHost(kind=kind, headless=bool(GraphicsEnvironment.isHeadless()), location=None)
