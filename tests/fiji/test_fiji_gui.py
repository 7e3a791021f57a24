"""The ImageJ 1.x window with the Deep-Z menu, driven under Xvfb in a separate process.

The session (gui_session.py) clicks Deep-Z > Refocus Plane on an open image, fills the
GenericDialog, presses OK and checks the result window; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.imagej, pytest.mark.gui]

SESSION = Path(__file__).with_name("gui_session.py")
STAND_IN_STACKREG = 'run("Add...", "value=7 stack");\n'  # a macro named like StackReg: tests the dispatch only


@pytest.fixture(scope="module")
def gui_session(require_java, tiny_model_dir, fiji_test_env, artifacts_dir, tmp_path_factory):
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run is None:
        pytest.skip("xvfb-run is not installed (apt-get install xvfb)")
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / "StackReg_.ijm").write_text(STAND_IN_STACKREG)
    cmd = [xvfb_run, "-a", "-s", "-screen 0 1024x768x24", sys.executable, str(SESSION), str(tiny_model_dir),
           str(plugins), str(artifacts_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=fiji_test_env, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("GUI-SESSION ")]
    assert proc.returncode == 0 and lines, f"GUI session failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("GUI-SESSION "):])


def test_imagej_window_has_the_deepz_menu(gui_session):
    assert "Deep-Z" in gui_session["menus"]
    assert gui_session["menus"][-1] == "Help", "Help stays last"
    assert gui_session["entries"] == ["Refocus Plane", "Refocus Surface", "Refocus Video", "Virtual Stack"]


def test_menu_entry_asks_in_a_dialog_and_shows_the_result(gui_session, artifacts_dir):
    assert gui_session["dialog_title"] == "Refocus Plane"
    assert gui_session["dialog_fields"] == {"numeric": ["0.00"], "string": [""]}, "the header's defaults"
    assert gui_session["run_status"] == "done", gui_session["run_error"]
    assert gui_session["windows"] == ["cells.tif", "cells Δz=+1.50 µm"]
    assert gui_session["max_abs_diff"] <= 1e-4, "the menu gives the Python API's pixels"
    assert gui_session["result_pixel_um"] == pytest.approx(0.5)
    for name in ("fiji-gui-dialog.png", "fiji-gui-result.png"):
        shot = artifacts_dir / name
        assert shot.is_file() and shot.stat().st_size > 5000, f"screenshot {name}"


def test_preprocessor_runs_a_menu_command_when_imagej_has_it(gui_session):
    assert gui_session["has_stackreg"]
    assert gui_session["register_info"]["implementation"] == "fiji:StackReg"
    assert gui_session["register_diff"] <= 1e-5, "the command's in-place result is read back"
    assert gui_session["edf_info"]["implementation"].startswith("python:")
    assert "no 'Extended Depth of Field (Easy mode)...' command" in gui_session["edf_info"]["fiji_fallback"]
