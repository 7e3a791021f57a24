"""Install the Deep-Z menu entries into a Fiji.app or an ImageJ 1.x folder, or remove them.

- ``plugins/Deep-Z/*.ijm``: ImageJ macros, one per entry of *Plugins › Deep-Z* (Refocus Plane,
  Virtual Stack, Refocus Surface, Refocus Video, Deep-Z Doctor). Each is the entry's source
  from ``fiji_scripts/macros``, the shared ``deepz_library.ijm`` and a header recording this
  Python (``sys.executable``). They run in any Fiji or ImageJ 1.x started by double-click (no
  Python inside ImageJ), call the ``deepz`` command line through
  :mod:`deepz_fiji.cli._macro_job`, and the macro recorder records them.
- Fiji only: ``scripts/Plugins/Deep-Z/*_(Python).py``, the CPython scripts for Python mode
  (a Fiji started by ``deepz fiji gui --fiji`` or PyImageJ), named apart from the macros.

``plugins/Deep-Z/deepz-install.json`` lists what was written, so that :func:`uninstall`
removes exactly that and a re-install replaces it. No Java is needed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path

from deepz_fiji import __version__
from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.java import check_fiji_dir
from deepz_fiji.io import atomic_path

log = logging.getLogger(__name__)

MACRO_FOLDER = Path("plugins") / "Deep-Z"
SCRIPT_FOLDER = Path("scripts") / "Plugins" / "Deep-Z"
MANIFEST = "deepz-install.json"
LIBRARY = "deepz_library.ijm"
PYTHON_SUFFIX = "_(Python)"


def macros_dir() -> Path:
    """The macro sources: the repository's ``fiji_scripts/macros``."""
    folder = Path(__file__).resolve().parents[2] / "fiji_scripts" / "macros"
    if not (folder / LIBRARY).is_file():
        raise DeepZError(f"no Deep-Z macros in {folder}; reinstall deepz-fiji from its source tree (pip install -e .)")
    return folder


def macro_string(text: str) -> str:
    """``text`` as an ImageJ macro string expression (ImageJ reads macro files as Latin-1, so
    non-ASCII characters become ``fromCharCode`` calls)."""
    parts, plain = [], ""
    for char in text:
        if ord(char) < 128:
            plain += {"\\": "\\\\", '"': '\\"'}.get(char, char)
            continue
        if plain:
            parts.append(f'"{plain}"')
            plain = ""
        parts.append(f"fromCharCode({ord(char)})")
    if plain or not parts:
        parts.append(f'"{plain}"')
    return " + ".join(parts)


def render_macro(entry: Path, library: str, python: str) -> str:
    """One installed entry: a header naming ``python``, the entry's source, then the library."""
    header = (f"// Plugins > Deep-Z > {entry.stem.replace('_', ' ')}, installed by `deepz fiji install` "
              f"(deepz-fiji {__version__}) from fiji_scripts/macros/{entry.name} and {LIBRARY}.\n"
              "// Re-run `deepz fiji install` to update it; edits here are lost.\n"
              f"var DEEPZ_PYTHON = {macro_string(python)};\n"
              f'var DEEPZ_VERSION = "{__version__}";\n\n')
    return header + entry.read_text(encoding="ascii") + "\n" + library


def check_imagej_dir(path: str | os.PathLike) -> Path:
    """An ImageJ 1.x folder (holding ``plugins/`` or ``ij.jar``) as an absolute Path, else :class:`DeepZError`."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DeepZError(f"ImageJ folder {folder} does not exist; give the folder holding ImageJ's plugins/ folder")
    if not (folder / "plugins").is_dir() and not (folder / "ij.jar").is_file():
        raise DeepZError(f"{folder} has no plugins/ folder and no ij.jar, so it is not an ImageJ folder; give the "
                         "folder ImageJ runs from (the one holding plugins/, e.g. ~/.imagej for Debian's imagej)")
    return folder.resolve()


def _write(path: Path, text: str | None = None, source: Path | None = None) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            if source is not None:
                shutil.copyfile(source, tmp)
            else:
                tmp.write_text(text or "", encoding="ascii" if path.suffix == ".ijm" else "utf-8")
    except OSError as exc:
        raise DeepZError(f"cannot write {path} ({exc.strerror}); check that you may write into {path.parent}") from exc
    return path


def _manifest(folder: Path) -> Path:
    return folder / MACRO_FOLDER / MANIFEST


def install(folder: str | os.PathLike, *, fiji: bool, python: str | None = None) -> list[Path]:
    """Install the entries into ``folder`` (a Fiji.app when ``fiji``, else an ImageJ 1.x folder).

    Returns the files written. ``python`` (default: this interpreter) is the Python the macros
    run ``deepz`` with. A previous installation is replaced.
    """
    root = check_fiji_dir(folder) if fiji else check_imagej_dir(folder)
    python = python or sys.executable
    uninstall(root)
    sources = macros_dir()
    library = (sources / LIBRARY).read_text(encoding="ascii")
    written = [_write(root / MACRO_FOLDER / entry.name, render_macro(entry, library, python))
               for entry in sorted(sources.glob("*.ijm")) if entry.name != LIBRARY]
    if fiji:
        from deepz_fiji.fiji.gui import scripts_dir

        for script in sorted(scripts_dir().glob("*.py")):
            legacy = root / SCRIPT_FOLDER / script.name  # an earlier layout: it would clash with the macro
            if legacy.is_file():
                legacy.unlink()
            written.append(_write(root / SCRIPT_FOLDER / f"{script.stem}{PYTHON_SUFFIX}.py", source=script))
    record = {"deepz_fiji": __version__, "python": python, "files": [str(p.relative_to(root)) for p in written]}
    written.append(_write(_manifest(root), json.dumps(record, indent=2) + "\n"))
    log.info("installed %d files into %s", len(written), root)
    return written


def uninstall(folder: str | os.PathLike) -> list[Path]:
    """Remove what :func:`install` wrote into ``folder`` (per its manifest); returns the removed files."""
    root = Path(folder).expanduser().resolve()
    manifest = _manifest(root)
    if not manifest.is_file():
        return []
    try:
        files = [root / name for name in json.loads(manifest.read_text(encoding="utf-8"))["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DeepZError(f"{manifest} is not a Deep-Z install record ({exc}); remove {root / MACRO_FOLDER} by hand") from exc
    removed = []
    for path in [*files, manifest]:
        if path.is_file() and root in path.resolve().parents:
            path.unlink()
            removed.append(path)
    for sub in (MACRO_FOLDER, SCRIPT_FOLDER):
        if (root / sub).is_dir() and not any((root / sub).iterdir()):
            (root / sub).rmdir()
    log.info("removed %d files from %s", len(removed), root)
    return removed
