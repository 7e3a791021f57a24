"""Plugins › Deep-Z as ImageJ macros in a plain ImageJ 1.53t (``java -jar ij.jar``), no Python in its JVM.

`deepz fiji install --imagej DIR` writes the entries; ImageJ is started as its own Java process
under Xvfb, either with ``-batch`` (the macro runs, ``IJ.error`` and ``print`` go to stdout) or
with its windows (``imagej_process.py`` watches them with xdotool and takes the screenshots).
Every result is compared with the ``deepz`` command line on the same input.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepz_fiji.io import read_image, write_image

pytestmark = [pytest.mark.imagej, pytest.mark.gui, pytest.mark.slow]

DRIVER = Path(__file__).with_name("imagej_process.py")
IJ_JAR = Path(os.environ.get("DEEPZ_IJ_JAR", "/usr/share/java/ij.jar"))


@pytest.fixture(scope="module")
def imagej(tmp_path_factory, fiji_test_env):
    """An ImageJ 1.x folder with the entries installed, its temp folder and a home of its own."""
    java, xvfb = shutil.which("java"), shutil.which("xvfb-run")
    if java is None or xvfb is None or not IJ_JAR.is_file():
        pytest.skip("needs java, xvfb-run and ImageJ 1.x (apt-get install default-jre-headless xvfb libij-java)")
    from deepz_fiji.fiji.install import install

    root = tmp_path_factory.mktemp("imagej")
    (root / "plugins").mkdir()
    install(root, fiji=False)
    tmp, home = root / "tmp", root / "home"
    tmp.mkdir()
    home.mkdir()
    env = dict(fiji_test_env, HOME=str(home))  # ImageJ keeps its preferences in ~/.imagej
    return {"root": root, "plugins": root / "plugins", "tmp": tmp, "env": env, "java": java, "xvfb": xvfb}


#: What Java says when the Xvfb display it was given is not (yet) accepting connections.
NO_DISPLAY = "Can't connect to X11 window server"


def _java_cmd(ij: dict) -> list[str]:
    return [ij["java"], f"-Dplugins.dir={ij['plugins']}", f"-Djava.io.tmpdir={ij['tmp']}", "-jar", str(IJ_JAR)]


def run_batch(ij: dict, macro: str, tmp_path: Path, timeout: float = 900) -> str:
    """Run ``macro`` in ``ij.jar -batch`` under Xvfb; returns stdout and stderr together."""
    path = tmp_path / "test.ijm"
    path.write_text(macro, encoding="ascii")
    cmd = [ij["xvfb"], "-a", *_java_cmd(ij), "-batch", str(path)]
    for _attempt in range(2):  # once more when the X server was not up (a start-up race under load)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ij["env"], timeout=timeout)
        if NO_DISPLAY not in proc.stdout + proc.stderr:
            break
    return proc.stdout + proc.stderr


def run_windows(ij: dict, macro: str, tmp_path: Path, artifacts: Path, dialogs: list, final_shot: str,
                stop_when_seen: bool = False) -> dict:
    """Run ``macro`` in a windowed ImageJ under Xvfb, answering ``dialogs`` (see imagej_process.py)."""
    path, done = tmp_path / "test.ijm", tmp_path / "done.txt"
    path.write_text(macro.replace("DONE", str(done)), encoding="ascii")
    spec = {"java": ij["java"], "ij_jar": str(IJ_JAR), "plugins_dir": str(ij["plugins"]), "tmp_dir": str(ij["tmp"]),
            "macro": str(path), "done": str(done), "timeout": 240, "artifacts": str(artifacts),
            "dialogs": dialogs, "final_shot": final_shot, "stop_when_seen": stop_when_seen}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    cmd = [ij["xvfb"], "-a", "-s", "-screen 0 1280x1024x24", sys.executable, str(DRIVER), str(tmp_path / "spec.json")]
    for _attempt in range(2):  # once more when the X server was not up (a start-up race under load)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ij["env"], timeout=300)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("IMAGEJ ")]
        assert lines, f"the ImageJ driver printed nothing:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        result = json.loads(lines[-1][len("IMAGEJ "):])
        if NO_DISPLAY not in str(result.get("output", "")):
            break
        done.unlink(missing_ok=True)
    return result


def no_jobs_left(ij: dict) -> list[str]:
    return [p.name for p in ij["tmp"].iterdir() if p.name.startswith("deepz-job-")]


@pytest.fixture(scope="module")
def plane(tmp_path_factory, sample_image) -> Path:
    path = tmp_path_factory.mktemp("input") / "x.tif"
    write_image(path, sample_image((64, 72), seed=3), "YX", pixel_um=0.325)
    return path


def cli(*args) -> None:
    from deepz_fiji.cli import main

    assert main([*map(str, args), "--no-progress"]) == 0


def assert_same(macro_out: Path, cli_out: Path) -> None:
    got, want = read_image(macro_out), read_image(cli_out)
    assert got.data.shape == want.data.shape and got.axes == want.axes
    span = float(want.data.max() - want.data.min())
    assert np.abs(got.data.astype(np.float64) - want.data).max() <= 1e-3 * span
    assert got.calibration.pixel_um == pytest.approx(want.calibration.pixel_um, rel=1e-6)
    if want.calibration.z_step_um:
        assert got.calibration.z_step_um == pytest.approx(want.calibration.z_step_um)


def test_virtual_stack_macro_equals_deepz_stack(imagej, plane, tmp_path):
    out = tmp_path / "out.tif"
    log = run_batch(imagej, f'open("{plane}");\nrun("Virtual Stack", "start=-10 stop=10 step=5");\n'
                    f'print("TITLE " + getTitle());\nsaveAs("Tiff", "{out}");\n', tmp_path)
    assert out.is_file(), log[-3000:]
    cli("stack", plane, "--range", -10, 10, "--step", 5, "-o", tmp_path / "cli.tif")
    assert_same(out, tmp_path / "cli.tif")
    assert read_image(out).calibration.z_step_um == pytest.approx(5.0)
    assert "TITLE x \u0394z -10.00\u2026+10.00 \u00b5m" in log
    assert no_jobs_left(imagej) == []


def test_every_refocusing_entry_equals_its_command(imagej, plane, sample_image, tmp_path):
    video = tmp_path / "video.tif"
    write_image(video, np.stack([sample_image((48, 56), seed=s) for s in range(3)]), "TYX", pixel_um=0.325)
    outs = {name: tmp_path / f"ij-{name}.tif" for name in ("plane", "tilt", "cylinder", "video", "video-stack")}
    macro = (f'open("{plane}");\nid = getImageID();\n'
             f'run("Refocus Plane", "dz=2.5");\nprint("TITLE " + getTitle());\nsaveAs("Tiff", "{outs["plane"]}");\n'
             f'selectImage(id);\nrun("Refocus Surface", "surface=tilt tilt_x=3 tilt_y=-2 offset=1");\n'
             f'saveAs("Tiff", "{outs["tilt"]}");\n'
             f'selectImage(id);\nrun("Refocus Surface", "surface=cylinder radius=200 axis=y side=concave");\n'
             f'saveAs("Tiff", "{outs["cylinder"]}");\n'
             f'open("{video}");\nrun("Refocus Video", "mode=plane dz=-2");\nsaveAs("Tiff", "{outs["video"]}");\n'
             f'open("{video}");\nrun("Refocus Video", "mode=stack start=-2 stop=2 step=2");\n'
             f'saveAs("Tiff", "{outs["video-stack"]}");\n')
    log = run_batch(imagej, macro, tmp_path)
    assert all(p.is_file() for p in outs.values()), log[-3000:]
    cli("refocus", plane, "--dz", 2.5, "-o", tmp_path / "cli-plane.tif")
    cli("surface", plane, "--tilt-x-deg", 3, "--tilt-y-deg", -2, "--offset-um", 1, "-o", tmp_path / "cli-tilt.tif")
    cli("surface", plane, "--cylinder-radius-um", 200, "--axis", "y", "--side", "concave", "--offset-um", 0,
        "-o", tmp_path / "cli-cylinder.tif")
    cli("refocus", video, "--dz", -2, "-o", tmp_path / "cli-video.tif")
    cli("stack", video, "--range", -2, 2, "--step", 2, "-o", tmp_path / "cli-video-stack.tif")
    for name, out in outs.items():
        assert_same(out, tmp_path / f"cli-{name}.tif")
    assert read_image(outs["video"]).data.shape[0] == 3
    assert "TITLE x \u0394z=+2.50 \u00b5m" in log
    assert no_jobs_left(imagej) == []


def test_a_failing_command_shows_its_one_line_error_and_leaves_nothing(imagej, plane, tmp_path):
    log = run_batch(imagej, f'open("{plane}");\nrun("Refocus Plane", "dz=100");\nprint("AFTER");\n', tmp_path)
    assert "\u0394z 100 \u00b5m is outside the model's trained range" in log
    assert "AFTER" not in log, "the calling macro is aborted"
    assert no_jobs_left(imagej) == []


def test_doctor_reports_the_engine(imagej, tmp_path):
    log = run_batch(imagej, 'run("Deep-Z Doctor");\n', tmp_path)
    assert "[ok  ] tensorflow: TensorFlow" in log, log[-3000:]
    assert "[ok  ] model: widefield-20x-0.75na loads" in log
    assert sys.executable in log


def test_menu_run_shows_the_dialog_and_the_result(imagej, plane, tmp_path, artifacts_dir):
    """From a menu (no options) the entry asks in a dialog; OK runs it with the defaults."""
    out = tmp_path / "menu.tif"
    macro = (f'open("{plane}");\nrun("Virtual Stack");\nsaveAs("Tiff", "{out}");\n'
             'File.saveString(getTitle(), "DONE");\n')
    result = run_windows(imagej, macro, tmp_path, artifacts_dir,
                         [{"title": "Virtual Stack", "shot": "imagej-macro-dialog.png", "press": "ok"}],
                         "imagej-macro-result.png")
    assert result["seen"] == ["Virtual Stack"] and result["done"], result
    assert result["errors"] == []
    assert read_image(out).data.shape[0] == 21, "the dialog's defaults: -5 ... +5 um every 0.5 um"
    for name in ("imagej-macro-dialog.png", "imagej-macro-result.png"):
        assert (artifacts_dir / name).stat().st_size > 5000, name
    assert no_jobs_left(imagej) == []


@pytest.mark.parametrize("opening, title, shot", [(True, "Deep-Z", "imagej-macro-error.png"),
                                                   (False, "Macro Error", "imagej-macro-no-image.png")])
def test_menu_run_error_dialog(imagej, plane, tmp_path, artifacts_dir, opening, title, shot):
    """A failing command, and an entry run with no image open: an error dialog, the macro stopped.

    (With no image open, ImageJ 1.53t titles the same one-line message "Macro Error".)
    """
    macro = (f'open("{plane}");\n' if opening else "") + 'run("Refocus Plane", "dz=100");\nFile.saveString("ran on", "DONE");\n'
    result = run_windows(imagej, macro, tmp_path, artifacts_dir,
                         [{"title": title, "shot": shot}], "", stop_when_seen=True)
    assert result["seen"] == [title], result
    assert not result["done"], "the macro stops at the error"
    assert (artifacts_dir / shot).stat().st_size > 5000
    assert no_jobs_left(imagej) == []
