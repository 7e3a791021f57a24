"""Run a ``deepz`` command for an ImageJ macro in the background, talking through a job folder.

An ImageJ macro can start a program only with ``exec()``, which returns when the program
ends, so the Deep-Z macros (``fiji_scripts/macros``) run::

    PYTHON -m deepz_fiji.cli._macro_job start JOB_DIR

``start`` reads the ``deepz`` arguments from ``JOB_DIR/args.txt`` (UTF-8, one per line),
starts ``run`` on them as a detached process, prints ``started PID`` and returns at once.
The macro then polls the folder (every file UTF-8):

``alive.txt``     the macro rewrites it while it waits; when it is older than
                  :data:`ABANDONED_S` (the macro was aborted with Esc, or ImageJ closed), the
                  job stops and removes its folder
``running.txt``   the job rewrites it every second (its clock time, s) while it runs
``progress.txt``  ``done total`` and a ``what (units)`` line while it works (``$DEEPZ_PROGRESS_FILE``)
``status.txt``    written last: the command's exit code (0 = success)
``message.txt``   on failure, the command's one-line error
``title.txt``     on success, the result's Δz for its window title
``warnings.txt``  on success, the command's warnings (for ImageJ's Log window)

``clean JOB_DIR`` removes the folder once the macro has opened the result.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from deepz_fiji.cli._common import PROGRESS_FILE_ENV

#: Seconds without a fresh ``alive.txt`` after which a job counts as abandoned
#: (``$DEEPZ_JOB_ABANDONED_S`` overrides it).
ABANDONED_S = 20.0
ABANDONED_ENV = "DEEPZ_JOB_ABANDONED_S"
MODULE = "deepz_fiji.cli._macro_job"
ARGS, ALIVE, RUNNING, PROGRESS, STATUS, MESSAGE, TITLE, WARNINGS, STDOUT, STDERR = (
    "args.txt", "alive.txt", "running.txt", "progress.txt", "status.txt", "message.txt", "title.txt",
    "warnings.txt", "stdout.txt", "stderr.txt")


def read_args(job: Path) -> list[str]:
    """The ``deepz`` arguments the macro wrote, one per line (blank lines ignored)."""
    text = (job / ARGS).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def start(job: Path) -> int:
    """Start ``run`` on ``job`` detached from this process (and from ImageJ's ``exec``)."""
    if not (job / ARGS).is_file():
        print(f"error: no {ARGS} in {job}; the macro writes it before starting the job")
        return 2
    kw: dict = {"stdin": subprocess.DEVNULL, "close_fds": True}
    if os.name == "nt":
        kw["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
    else:
        kw["start_new_session"] = True
    with open(job / STDOUT, "wb") as out, open(job / STDERR, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", MODULE, "run", str(job)], stdout=out, stderr=err, **kw)
    print(f"started {proc.pid}")
    return 0


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _watch(job: Path, started: float, stop: threading.Event) -> None:
    """Refresh ``running.txt`` until ``stop``; end the process and remove ``job`` once the macro
    stops refreshing ``alive.txt``."""
    limit = float(os.environ.get(ABANDONED_ENV, ABANDONED_S))
    while True:
        with contextlib.suppress(OSError):
            _write(job / RUNNING, f"{time.time():.3f}\n")
        if stop.wait(1.0):
            return
        try:
            last = (job / ALIVE).stat().st_mtime
        except OSError:
            last = started
        if time.time() - max(last, started) > limit:
            shutil.rmtree(job, ignore_errors=True)
            os._exit(143)


def error_line(stderr: str) -> str:
    """The one-line error in a command's stderr: its ``deepz: error:`` line, else the last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        for prefix in ("deepz: error: ", "deepz: "):
            if line.startswith(prefix):
                return line[len(prefix):]
        if ": error: " in line and line.startswith("deepz"):  # argparse: "deepz stack: error: ..."
            return line.split(": error: ", 1)[1]
    return lines[-1] if lines else "the deepz command failed without a message"


def result_title(argv: Sequence[str]) -> str:
    """The Δz part of the result's window title, named like the Python-mode scripts name it."""
    from deepz_fiji.cli import build_parser
    from deepz_fiji.fiji.jobs import dz_label, range_title, surface_title
    from deepz_fiji.refocus.inputs import z_planes

    args, _ = build_parser().parse_known_args(list(argv))
    if args.command == "stack":
        return range_title(z_planes(args.range[0], args.range[1], args.step))
    if args.command == "surface":
        from deepz_fiji.refocus.files import Surface

        return surface_title(Surface(tilt_x_deg=args.tilt_x_deg, tilt_y_deg=args.tilt_y_deg,
                                     cylinder_radius_um=args.cylinder_radius_um, axis=args.axis, side=args.side,
                                     height_map=args.height_map, offset_um=args.offset_um))
    if args.command == "refocus-video" and args.track_focus:
        return "in focus"
    if getattr(args, "dz", None) is not None:
        return dz_label(args.dz)
    return str(args.command)


def run(job: Path) -> int:
    """Run the ``deepz`` command of ``job`` in this process and leave its outcome in the folder."""
    stop = threading.Event()
    watchdog = threading.Thread(target=_watch, args=(job, time.time(), stop), daemon=True)
    watchdog.start()
    os.environ[PROGRESS_FILE_ENV] = str(job / PROGRESS)
    argv = read_args(job)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(_Tee(err, sys.stderr)):
            from deepz_fiji.cli import main

            code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    except Exception as exc:  # noqa: BLE001 - the macro must hear about every failure
        traceback.print_exc()
        print(f"deepz: error: unexpected {type(exc).__name__}: {exc}", file=err)
        code = 1
    stop.set()
    watchdog.join(timeout=5.0)  # no file is written after status.txt: the macro may remove the folder
    if code == 0:
        _write(job / TITLE, result_title(argv))
        warnings = [ln for ln in err.getvalue().splitlines() if ln.startswith("WARNING ")]
        _write(job / WARNINGS, "".join(f"{ln}\n" for ln in warnings))
    else:
        _write(job / MESSAGE, error_line(err.getvalue()))
    _write(job / STATUS, f"{code}\n")
    return code


class _Tee(io.TextIOBase):
    """Write to two text streams (the captured stderr and the job's stderr file)."""

    def __init__(self, *streams: io.TextIOBase):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def clean(job: Path) -> int:
    """Remove a finished job's folder (only folders that hold a job's ``args.txt``)."""
    if job.is_dir() and (job / ARGS).is_file():
        shutil.rmtree(job, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("start", "run", "clean"))
    parser.add_argument("job", type=Path, help="the job folder")
    args = parser.parse_args(argv)
    return {"start": start, "run": run, "clean": clean}[args.action](args.job)


if __name__ == "__main__":
    sys.exit(main())
