"""``deepz fiji doctor``: diagnose Java, ImageJ 1.x, a Fiji folder and the offline start-up settings.

Nothing here starts the JVM, so the doctor is fast and safe to run anywhere.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji import java


@dataclass(frozen=True)
class Check:
    """One diagnosis: ``ok`` True (fine), False (a problem, see ``fix``) or None (optional / not asked)."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[self.ok]
        return f"[{mark}] {self.name}: {self.detail}" + (f"\n        fix: {self.fix}" if self.fix else "")


def _package_check() -> Check:
    versions, missing = [], []
    for dist in ("jpype1", "scyjava", "pyimagej"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(dist)
    if missing:
        return Check("python packages", False, f"missing {', '.join(missing)}", "pip install 'deepz-fiji[fiji]'")
    return Check("python packages", True, ", ".join(versions))


def _guarded(name: str, func, fix: str = "") -> Check:
    try:
        return Check(name, True, func())
    except DeepZError as exc:
        return Check(name, False, str(exc), fix)


def _offline_check() -> Check:
    with contextlib.suppress(ImportError):
        import imagej  # noqa: F401 - importing it appends the imglyb endpoint we must drop
    import scyjava

    before = {"fetch_java": scyjava.config.get_fetch_java(), "endpoints": list(scyjava.config.endpoints)}
    after = java.configure_offline()
    detail = (f"scyjava defaults fetch_java={before['fetch_java']!r}, endpoints={before['endpoints']}; "
              f"deepz starts with fetch_java={after['fetch_java']!r}, endpoints={after['endpoints']}")
    return Check("offline start", bool(after["offline"]), detail,
                 "" if after["offline"] else "report this: the offline configuration did not apply")


def _fiji_check(fiji_dir: str | os.PathLike | None) -> Check:
    if fiji_dir is None:
        return Check("Fiji", None, f"no Fiji folder given (--fiji DIR or ${java.ENV_FIJI_DIR}); ImageJ 1.x is used")
    problem = java.fiji_problem(fiji_dir)
    if problem:
        return Check("Fiji", False, problem, "give the Fiji.app folder (holding jars/ and plugins/)")
    folder = Path(fiji_dir)
    jars = folder / "jars"
    ij2 = sorted(p.name for p in jars.glob("imagej-[0-9]*.jar"))
    legacy = sorted(p.name for p in jars.glob("imagej-legacy-*.jar"))
    python = sorted(p.name for p in jars.glob("scripting-python-*.jar"))
    installed = (folder / "scripts" / "Plugins" / "Deep-Z").is_dir()
    imglyb = any(jars.glob("imglib2-imglyb-*.jar"))
    detail = (f"{folder}: ImageJ2 {ij2[-1] if ij2 else 'MISSING'}, legacy {legacy[-1] if legacy else 'MISSING'}, "
              f"CPython scripting {'yes' if python else 'no (scripts run through deepz fiji gui)'}, "
              f"Deep-Z scripts {'installed' if installed else 'not installed'}, "
              f"imglib2-imglyb {'present' if imglyb else 'absent (optional: PyImageJ ImgLib2 views)'}")
    ok = bool(ij2 and legacy)
    return Check("Fiji", ok, detail, "" if ok else "update Fiji (Help > Update...) or give a complete Fiji.app")


def _display_check() -> Check:
    if os.environ.get("DISPLAY"):
        return Check("display", True, f"DISPLAY={os.environ['DISPLAY']} (deepz fiji gui can open windows)")
    xvfb = shutil.which("xvfb-run")
    return Check("display", None, "no DISPLAY: headless only" + (f"; {xvfb} is available" if xvfb else ""),
                 "run `xvfb-run -a deepz fiji gui` for a virtual display" if xvfb else "")


def _tensorflow() -> str:
    from deepz_fiji.model.runtime import import_tensorflow_quietly

    try:
        import_tensorflow_quietly()
        import tensorflow as tf
    except ImportError as exc:
        raise DeepZError(f"TensorFlow cannot be imported ({exc})") from exc
    return f"TensorFlow {tf.__version__}"


def _model(model: str | None) -> str:
    from deepz_fiji.model import load_model

    loaded = load_model(model)
    c = loaded.config
    return (f"{c.name} loads: \u0394z {c.dz_min_um:+g}\u2026{c.dz_max_um:+g} \u00b5m, {c.pixel_um:g} \u00b5m pixels, "
            f"NA {c.na:g}, from {loaded.path}")


def engine_checks(model: str | None = None) -> list[Check]:
    """This Python, TensorFlow and the model (default: the shipped default) load: what refocusing needs."""
    import sys

    from deepz_fiji import __version__

    checks = [Check("deepz-fiji", True, f"{__version__} in {sys.executable}")]
    checks.append(_guarded("tensorflow", _tensorflow, "pip install 'deepz-fiji[tf]' in this environment"))
    if checks[-1].ok:
        checks.append(_guarded("model", lambda: _model(model),
                               "give --model a model folder, or reinstall deepz-fiji to get models/"))
    return checks


def diagnose(fiji_dir: str | os.PathLike | None = None, ij_jar: str | os.PathLike | None = None) -> list[Check]:
    """Run every check (without starting Java)."""
    checks = [_package_check()]
    checks.append(_guarded("java", lambda: (lambda j: f"Java {j.version} at {j.home}")(java.find_java()),
                           "apt-get install openjdk-17-jre (or set JAVA_HOME)"))
    ij = _guarded("ImageJ 1.x", lambda: str(java.find_ij_jar(ij_jar)), "apt-get install libij-java or --ij-jar")
    if fiji_dir is not None and not ij.ok:
        ij = Check(ij.name, None, ij.detail + " (not needed with Fiji)")
    checks.append(ij)
    checks.append(_fiji_check(fiji_dir))
    if checks[0].ok:
        checks.append(_offline_check())
    checks.append(_display_check())
    from deepz_fiji.fiji.gui import scripts_dir

    checks.append(_guarded("Deep-Z scripts", lambda: str(scripts_dir())))
    return checks
