"""Start a user's Fiji.app through PyImageJ, offline.

PyImageJ's own ``imagej.init(fiji_dir)`` would (a) download a JDK unless scyjava is told
``fetch="never"`` (its default is ``"always"``), (b) resolve the imglib2-imglyb endpoint that
``import imagej`` adds from Maven, and (c) with ``fetch="never"``, pyimagej 1.8 fails guessing
the Java version before the JVM exists. So the JVM is started here on Fiji's own jars with
the options PyImageJ would use, and ``imagej.init`` then only builds the ImageJ2 gateway.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError, require
from deepz_fiji.fiji.java import ImageJHost, configure_offline, find_java

log = logging.getLogger(__name__)


def start_fiji(fiji_dir: Path, headless: bool) -> ImageJHost:
    """Start the JVM on Fiji's jars ourselves (offline), then let PyImageJ build its gateway.

    This is what ``imagej.init(fiji_dir)`` does for a local Fiji (jars/ and plugins/ on the
    classpath, ``-Dplugins.dir``, ``--add-opens`` for Java 9+), done here because with
    ``fetch="never"`` pyimagej 1.8's Java-version guess fails before the JVM starts. Once
    the JVM runs, ``imagej.init`` only creates the ImageJ2 gateway (legacy included).
    """
    imagej = require("imagej", "fiji")  # importing it appends the imglyb endpoint
    sj = require("scyjava", "fiji")
    configure_offline()
    jars = sj.config.find_jars(str(fiji_dir / "jars")) + sj.config.find_jars(str(fiji_dir / "plugins"))
    extra = imglyb_jars(jars)
    sj.config.add_classpath(os.pathsep.join(jars + extra))
    if not any(Path(j).name.startswith("imglib2-imglyb") for j in jars + extra):
        soften_imglyb_hooks()
    sj.config.add_option(f"-Dplugins.dir={fiji_dir / 'plugins'}")
    if headless:
        sj.config.add_option("-Djava.awt.headless=true")
    if find_java().major >= 9:
        sj.config.add_option("--add-opens=java.base/java.lang=ALL-UNNAMED")
    try:
        sj.start_jvm()
    except Exception as exc:
        raise DeepZError(f"Java did not start with Fiji's jars from {fiji_dir} ({exc}); run `deepz fiji doctor`") from exc
    try:
        sj.jimport("net.imagej.ImageJ")
    except Exception as exc:
        raise DeepZError(
            f"Fiji at {fiji_dir} has no ImageJ2 (net.imagej.ImageJ) in its jars/ folder; "
            "update Fiji (Help > Update...) or give a complete Fiji.app"
        ) from exc
    _unlock_modules()
    mode = "headless" if headless else "interactive"
    try:
        gateway = imagej.init(str(fiji_dir), mode=mode, add_legacy=True)
    except Exception as exc:
        raise DeepZError(f"Fiji at {fiji_dir} did not start ({exc}); run `deepz fiji doctor --fiji {fiji_dir}`") from exc
    if not gateway:
        raise DeepZError(
            f"Fiji at {fiji_dir} did not start: its jars/ folder has no ImageJ2 (net.imagej.ImageJ); "
            "update Fiji (Help > Update...) or give a complete Fiji.app"
        )
    return ImageJHost(kind="fiji", headless=headless, location=fiji_dir, gateway=gateway)


def imglyb_jars(classpath: list[str]) -> list[str]:
    """Local copies of imglib2-imglyb and imglib2-unsafe (PyImageJ's numpy<->ImgLib2 bridge) not on ``classpath``.

    A Fiji.app does not ship them; PyImageJ would fetch them from Maven. Offline we take them
    from the Maven repository (``~/.m2``) or jgo's cache (``~/.jgo``) when an earlier online
    session left them there; put them into Fiji.app/jars to be sure.
    """
    have = {Path(j).name.rsplit("-", 1)[0] for j in classpath}
    found = []
    for artifact in ("imglib2-imglyb", "imglib2-unsafe"):
        if artifact in have:
            continue
        roots = [Path.home() / ".m2" / "repository" / "net" / "imglib2" / artifact, Path.home() / ".jgo"]
        candidates = sorted(p for root in roots if root.is_dir() for p in root.rglob(f"{artifact}-*.jar"))
        if candidates:
            found.append(str(candidates[-1]))
    return found


def soften_imglyb_hooks(*, warn: bool = True) -> None:
    """Without imglib2-imglyb, let imglyb's JVM start-up hooks warn instead of aborting the start.

    deepz-fiji moves pixels as ImagePlus planes and never needs imglyb; only PyImageJ's
    ``ij.py.to_java``/``from_java`` for ImgLib2 images do.
    """
    import scyjava._jvm as jvm

    callbacks = getattr(jvm, "_startup_callbacks", None)
    if callbacks is None:
        return
    for index, callback in enumerate(callbacks):
        if getattr(callback, "__module__", "").startswith("imglyb") and not getattr(callback, "_deepz_soft", False):
            callbacks[index] = _soft(callback)
    if warn:
        log.warning("imglib2-imglyb.jar is not in the Fiji folder: PyImageJ's ImgLib2<->numpy views are unavailable "
                    "(deepz-fiji does not need them); copy imglib2-imglyb and imglib2-unsafe jars into Fiji.app/jars "
                    "to enable them")


def _soft(callback: Any) -> Any:
    def run() -> None:
        imglyb_log = logging.getLogger("imglyb")
        level = imglyb_log.level
        imglyb_log.setLevel(logging.CRITICAL)  # its own "Failed to import" error is expected here
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - a missing optional jar must not stop ImageJ
            log.debug("imglyb start-up hook %s skipped: %s", callback.__module__, exc)
        finally:
            imglyb_log.setLevel(level)

    run._deepz_soft = True  # type: ignore[attr-defined]
    return run


def _unlock_modules() -> None:
    """Open Java 17's modules to reflection as PyImageJ does after its own start (legacy patching needs it)."""
    try:
        from imagej._java import unlock_modules
    except ImportError:  # a PyImageJ without it: the --add-opens option alone has to do
        return
    unlock_modules(log)
