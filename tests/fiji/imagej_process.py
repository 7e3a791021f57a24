"""Drive a plain ImageJ 1.x process (``java -jar ij.jar -macro``) under Xvfb, for test_fiji_macros.py.

    xvfb-run -a python imagej_process.py SPEC.json

SPEC: ``java``, ``ij_jar``, ``plugins_dir`` (given as -Dplugins.dir), ``tmp_dir`` (java.io.tmpdir),
``macro`` (file), ``done`` (a file the macro writes when it has finished), ``timeout`` (s),
``artifacts`` (folder for screenshots) and ``dialogs``: a list of ``{"title": T, "shot": NAME,
"press": "ok"}`` handled in order, each once, when a window titled exactly T appears ("ok"
clicks into the dialog and presses Return); ``stop_when_seen``: stop once every dialog was seen,
without waiting for ``done``. An error dialog ("Macro Error", "Deep-Z") not
listed stops the run, its picture kept. Prints one JSON line: which dialogs were seen, the
visible window titles at the end, whether ``done`` appeared, and the unexpected dialogs.
There is no Python in the ImageJ process: this script only watches its windows with xdotool.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def windows() -> dict[str, str]:
    """Visible X windows: title -> id (the last of each title)."""
    ids = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "."], capture_output=True,
                         text=True).stdout.split()
    found = {}
    for wid in ids:
        name = subprocess.run(["xdotool", "getwindowname", wid], capture_output=True, text=True).stdout.strip()
        if name and not name.startswith(("sun-awt", "FocusProxy", "Content window")):
            found[name] = wid
    return found


def screenshot(path: Path, window: str = "root") -> None:
    subprocess.run(["import", "-window", window, str(path)], check=False, capture_output=True)


def press_ok(wid: str) -> None:
    geometry = subprocess.run(["xdotool", "getwindowgeometry", "--shell", wid], capture_output=True,
                              text=True).stdout
    size = dict(line.split("=") for line in geometry.split() if "=" in line)
    subprocess.run(["xdotool", "mousemove", "--window", wid, str(int(size["WIDTH"]) // 2), "6", "click", "1",
                    "sleep", "0.3", "key", "Return"], check=False)


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    artifacts = Path(spec["artifacts"])
    artifacts.mkdir(parents=True, exist_ok=True)
    done = Path(spec["done"])
    cmd = [spec["java"], f"-Dplugins.dir={spec['plugins_dir']}", f"-Djava.io.tmpdir={spec['tmp_dir']}",
           "-jar", spec["ij_jar"], "-macro", spec["macro"]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pending = list(spec.get("dialogs", []))
    seen, errors = [], []
    deadline = time.monotonic() + float(spec.get("timeout", 240))
    final: dict[str, str] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        final = windows()
        expected = pending[0]["title"] if pending else None
        unexpected = [t for t in ("Macro Error", "Deep-Z") if t in final and t != expected]
        if unexpected:  # an error dialog nobody asked for: keep its picture and stop
            screenshot(artifacts / f"imagej-unexpected-{unexpected[0].replace(' ', '-')}.png", final[unexpected[0]])
            errors.append(unexpected[0])
            break
        if pending and pending[0]["title"] in final:
            step = pending.pop(0)
            time.sleep(0.5)  # let the dialog paint
            if step.get("shot"):
                screenshot(artifacts / step["shot"])
            if step.get("press") == "ok":
                press_ok(final[step["title"]])
            seen.append(step["title"])
            continue
        if not pending and (done.exists() or spec.get("stop_when_seen")):
            time.sleep(0.5)
            final = windows()
            if spec.get("final_shot"):
                screenshot(artifacts / spec["final_shot"])
            break
        time.sleep(0.3)
    proc.kill()
    output = proc.communicate()[0]
    print("IMAGEJ " + json.dumps({"seen": seen, "windows": sorted(final), "done": done.exists(), "errors": errors,
                                  "output": output[-3000:]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
