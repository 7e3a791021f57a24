"""A visible ImageJ with a "Deep-Z" menu whose entries run the Deep-Z scripts in-process.

``start_gui()`` starts ImageJ 1.x (or Fiji through PyImageJ) with its window, then adds a
"Deep-Z" menu to the ImageJ menu bar: one entry per script in ``fiji_scripts/Deep-Z``. An
entry runs its script on the current image in a worker thread, asks the parameters in a
GenericDialog and shows each ImagePlus output in a new window; errors go to an ImageJ error
dialog. ``deepz fiji gui`` calls :func:`run_gui`, which blocks until ImageJ is closed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.host import start_imagej
from deepz_fiji.fiji.java import ImageJHost
from deepz_fiji.fiji.scripts import parse_script

log = logging.getLogger(__name__)

MENU_LABEL = "Deep-Z"
ENV_SCRIPTS_DIR = "DEEPZ_FIJI_SCRIPTS"


def scripts_dir() -> Path:
    """The Deep-Z script folder: ``$DEEPZ_FIJI_SCRIPTS``, else the repository's ``fiji_scripts/Deep-Z``."""
    env = os.environ.get(ENV_SCRIPTS_DIR)
    folder = Path(env) if env else Path(__file__).resolve().parents[2] / "fiji_scripts" / "Deep-Z"
    if not folder.is_dir() or not any(folder.glob("*.py")):
        raise DeepZError(f"no Deep-Z scripts in {folder}; set {ENV_SCRIPTS_DIR} to the folder holding Refocus_Plane.py")
    return folder


@dataclass
class EntryRun:
    """What the last run of a menu entry did (for status displays and tests)."""

    script: Path
    status: str = "running"  # running | done | cancelled | failed
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass
class DeepZMenu:
    """The installed menu: the Java menu, its entries (label -> script) and the runs so far."""

    menu: Any
    entries: dict[str, Path]
    runs: list[EntryRun] = field(default_factory=list)
    _listeners: list[Any] = field(default_factory=list, repr=False)


def run_entry(script: Path, runs: list[EntryRun] | None = None, *, ask: bool = True) -> EntryRun:
    """Run one script on the current image as a menu entry does (blocking); show image outputs."""
    from deepz_fiji.errors import DeepZError as _Err
    from deepz_fiji.fiji.runner import image_outputs, run_script_file

    record = EntryRun(script=script)
    if runs is not None:
        runs.append(record)
    import scyjava

    IJ = scyjava.jimport("ij.IJ")
    try:
        spec = parse_script(script)
        outputs = run_script_file(spec, ask=ask)
        if outputs is None:
            record.status = "cancelled"
        else:
            record.outputs = outputs
            for imp in image_outputs(spec, outputs).values():
                imp.show()
            record.status = "done"
    except _Err as exc:
        record.status, record.error = "failed", str(exc)
        IJ.showStatus(f"Deep-Z: {exc}")
        IJ.error("Deep-Z", str(exc))
    except Exception as exc:  # noqa: BLE001 - report any script failure in ImageJ, never kill the GUI
        record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
        log.error("%s failed:\n%s", script.name, traceback.format_exc())
        IJ.error("Deep-Z", f"{script.name} failed: {type(exc).__name__}: {exc}")
    finally:
        record.finished.set()
    return record


def _listener(script: Path, runs: list[EntryRun]) -> Any:
    from jpype import JImplements, JOverride

    @JImplements("java.awt.event.ActionListener")
    class EntryListener:
        @JOverride
        def actionPerformed(self, event: Any) -> None:  # noqa: N802 - Java interface
            # leave the AWT event thread at once: the dialog and the work run in a worker thread
            threading.Thread(target=run_entry, args=(script, runs), name=f"Deep-Z {script.stem}",
                             daemon=True).start()

    return EntryListener()


def install_menu(folder: str | os.PathLike | None = None, host: ImageJHost | None = None) -> DeepZMenu:
    """Add (or replace) the "Deep-Z" menu in ImageJ's menu bar, one entry per script in ``folder``."""
    import scyjava

    folder = Path(folder) if folder is not None else scripts_dir()
    IJ = scyjava.jimport("ij.IJ")
    instance = IJ.getInstance()
    if instance is None:
        raise DeepZError("the ImageJ window is not open; start it with deepz_fiji.fiji.gui.start_gui()")
    bar = instance.getMenuBar()
    for index in range(int(bar.getMenuCount()) - 1, -1, -1):
        if str(bar.getMenu(index).getLabel()) == MENU_LABEL:
            bar.remove(index)
    Menu = scyjava.jimport("java.awt.Menu")
    MenuItem = scyjava.jimport("java.awt.MenuItem")
    menu = Menu(MENU_LABEL)
    installed = DeepZMenu(menu=menu, entries={})
    for script in sorted(Path(folder).glob("*.py")):
        label = parse_script(script).title
        item = MenuItem(label)
        listener = _listener(script, installed.runs)
        installed._listeners.append(listener)  # keep the Python proxy alive
        item.addActionListener(listener)
        menu.add(item)
        installed.entries[label] = script
    if not installed.entries:
        raise DeepZError(f"no scripts (*.py) in {folder}")
    help_index = next((i for i in range(int(bar.getMenuCount())) if str(bar.getMenu(i).getLabel()) == "Help"), None)
    if help_index is None:
        bar.add(menu)
    else:  # ImageJ keeps Help last
        menus = [bar.getMenu(i) for i in range(help_index, int(bar.getMenuCount()))]
        for m in menus:
            bar.remove(m)
        bar.add(menu)
        for m in menus:
            bar.add(m)
    instance.pack()
    log.info("Deep-Z menu with %s", ", ".join(installed.entries))
    return installed


def start_gui(*, fiji_dir: str | os.PathLike | None = None, ij_jar: str | os.PathLike | None = None,
              folder: str | os.PathLike | None = None,
              plugins_dir: str | os.PathLike | None = None) -> tuple[ImageJHost, DeepZMenu]:
    """Start ImageJ with its window (Fiji via PyImageJ if ``fiji_dir``) and add the Deep-Z menu.

    ``plugins_dir`` (ImageJ 1.x) is an ImageJ plugins folder, e.g. one holding StackReg.
    """
    host = start_imagej(fiji_dir=fiji_dir, ij_jar=ij_jar, headless=False, plugins_dir=plugins_dir)
    IJ = host.IJ
    if IJ.getInstance() is None:
        if host.kind == "fiji" and host.gateway is not None:
            host.gateway.ui().showUI()
        else:
            host.jclass("ij.ImageJ")()
    deadline = time.monotonic() + 60
    while IJ.getInstance() is None or not IJ.getInstance().isShowing():
        if time.monotonic() > deadline:
            raise DeepZError("the ImageJ window did not appear within 60 s; check the display (DISPLAY)")
        time.sleep(0.1)
    return host, install_menu(folder, host)


def run_gui(**kw: Any) -> int:
    """Start the GUI and block until the ImageJ window is closed (File > Quit); returns 0."""
    host, _menu = start_gui(**kw)
    IJ = host.IJ
    while IJ.getInstance() is not None and IJ.getInstance().isShowing():
        time.sleep(0.5)
    return 0
