"""Install the Deep-Z scripts into a Fiji.app: ``Fiji.app/scripts/Plugins/Deep-Z/*.py``.

Fiji lists scripts under ``scripts/Plugins/<Menu>/`` in Plugins > <Menu> at start-up. The
scripts are CPython: they run in a Fiji started from Python (``deepz fiji gui --fiji DIR``,
which also adds its own Deep-Z menu) where PyImageJ registers the Python script runner.
No Java is needed to install.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.java import check_fiji_dir
from deepz_fiji.io import atomic_path

log = logging.getLogger(__name__)

MENU_FOLDER = Path("scripts") / "Plugins" / "Deep-Z"


def install_scripts(fiji_dir: str | os.PathLike, *, source: str | os.PathLike | None = None) -> list[Path]:
    """Copy every ``*.py`` of ``source`` (default: the Deep-Z scripts) into ``fiji_dir``; returns the new files.

    Refuses a folder that is not a Fiji.app (:class:`DeepZError`). Existing copies are replaced
    atomically, so re-running updates an installation.
    """
    fiji = check_fiji_dir(fiji_dir)
    if source is None:
        from deepz_fiji.fiji.gui import scripts_dir

        source = scripts_dir()
    scripts = sorted(Path(source).glob("*.py"))
    if not scripts:
        raise DeepZError(f"no scripts (*.py) in {source} to install")
    target = fiji / MENU_FOLDER
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeepZError(f"cannot create {target} ({exc.strerror}); check that you may write into {fiji}") from exc
    written = []
    for script in scripts:
        with atomic_path(target / script.name) as tmp:
            shutil.copyfile(script, tmp)
        written.append(target / script.name)
    log.info("installed %d scripts into %s", len(written), target)
    return written
