"""A scripted ImageJ 1.x GUI session, run by test_fiji_gui.py under Xvfb in its own process.

    python gui_session.py MODEL_DIR PLUGINS_DIR ARTIFACTS_DIR

Starts ImageJ with its window and the Deep-Z menu, opens an image, clicks Deep-Z > Refocus
Plane (an AWT action event on the real menu item), fills the GenericDialog that appears and
presses OK, waits for the result window, saves screenshots, then checks the Fiji
preprocessor's command dispatch against a stand-in "StackReg " command in PLUGINS_DIR.
Prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def wait_for(condition, timeout=60.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"condition not met within {timeout:.0f} s")


def screenshot(path: Path) -> None:
    import scyjava

    Robot = scyjava.jimport("java.awt.Robot")
    Rectangle = scyjava.jimport("java.awt.Rectangle")
    Toolkit = scyjava.jimport("java.awt.Toolkit")
    ImageIO = scyjava.jimport("javax.imageio.ImageIO")
    File = scyjava.jimport("java.io.File")
    shot = Robot().createScreenCapture(Rectangle(Toolkit.getDefaultToolkit().getScreenSize()))
    ImageIO.write(shot, "png", File(str(path)))


def main(model_dir: str, plugins_dir: str, artifacts: str) -> dict:
    import scyjava

    from deepz_fiji.fiji import convert, gui
    from deepz_fiji.io import Calibration

    out: dict = {}
    artifacts_dir = Path(artifacts)
    host, menu = gui.start_gui(plugins_dir=plugins_dir)
    IJ = host.IJ
    WindowManager = scyjava.jimport("ij.WindowManager")
    ActionEvent = scyjava.jimport("java.awt.event.ActionEvent")
    Window = scyjava.jimport("java.awt.Window")
    GenericDialog = scyjava.jimport("ij.gui.GenericDialog")
    IJ.getInstance().setLocation(0, 0)

    bar = IJ.getInstance().getMenuBar()
    out["menus"] = [str(bar.getMenu(i).getLabel()) for i in range(bar.getMenuCount())]
    deepz = next(bar.getMenu(i) for i in range(bar.getMenuCount()) if str(bar.getMenu(i).getLabel()) == "Deep-Z")
    out["entries"] = [str(deepz.getItem(i).getLabel()) for i in range(deepz.getItemCount())]

    rng = np.random.default_rng(0)
    image = np.zeros((192, 192), np.float32)
    image[rng.integers(10, 182, 40), rng.integers(10, 182, 40)] = 3000
    from scipy import ndimage as ndi

    image = (ndi.gaussian_filter(image, 2.0) * 10 + 100).astype(np.uint16)
    imp = convert.numpy_to_imageplus(image, title="cells.tif", calibration=Calibration(pixel_um=0.5))
    imp.show()
    wait_for(lambda: WindowManager.getCurrentImage() is not None)
    imp.getWindow().setLocation(0, 130)

    item = next(deepz.getItem(i) for i in range(deepz.getItemCount()) if str(deepz.getItem(i).getLabel()) == "Refocus Plane")
    item.dispatchEvent(ActionEvent(item, ActionEvent.ACTION_PERFORMED, item.getActionCommand()))
    dialog = wait_for(lambda: next((w for w in Window.getWindows() if isinstance(w, GenericDialog) and w.isShowing()), None))
    out["dialog_title"] = str(dialog.getTitle())
    numbers, strings = dialog.getNumericFields(), dialog.getStringFields()
    out["dialog_fields"] = {"numeric": [str(f.getText()) for f in numbers], "string": [str(f.getText()) for f in strings]}
    numbers.get(0).setText("1.5")
    strings.get(0).setText(model_dir)
    time.sleep(0.5)
    screenshot(artifacts_dir / "fiji-gui-dialog.png")
    ok = dialog.getButtons()[0]
    ok.dispatchEvent(ActionEvent(ok, ActionEvent.ACTION_PERFORMED, str(ok.getLabel())))

    run = wait_for(lambda: menu.runs and menu.runs[-1].finished.is_set() and menu.runs[-1], timeout=120)
    out["run_status"], out["run_error"] = run.status, run.error
    result_title = "cells Δz=+1.50 µm"
    result = wait_for(lambda: WindowManager.getImage(result_title), timeout=30)
    wait_for(lambda: result.getWindow() is not None and result.getWindow().isShowing())
    result.getWindow().setLocation(260, 130)
    out["windows"] = [str(WindowManager.getImage(int(i)).getTitle()) for i in WindowManager.getIDList()]
    got = convert.imageplus_to_numpy(result)
    from deepz_fiji.refocus import refocus_plane

    expected = refocus_plane(image, 1.5, model_dir)
    out["max_abs_diff"] = float(np.abs(got.data - expected).max())
    out["result_pixel_um"] = got.calibration.pixel_um
    out["status_line"] = str(scyjava.jimport("ij.ImageJ").getStatusBarText())
    time.sleep(0.5)
    screenshot(artifacts_dir / "fiji-gui-result.png")

    # the preprocessor finds a menu command and runs it through IJ.run (stand-in "StackReg ")
    from deepz_fiji.fiji.preprocess import fiji_preprocessor

    pre = fiji_preprocessor(host)
    out["has_stackreg"] = host.has_command("StackReg ")
    stack = rng.random((3, 24, 24)).astype(np.float32)
    registered, info = pre.register(stack)
    out["register_info"] = info
    out["register_diff"] = float(np.abs(registered - (stack + 7)).max())
    edf, edf_info = pre.edf(stack)
    out["edf_info"] = {"implementation": edf_info["implementation"], "fiji_fallback": edf_info.get("fiji_fallback")}
    IJ.getInstance().quit()
    return out


if __name__ == "__main__":
    result = main(*sys.argv[1:4])
    print("GUI-SESSION " + json.dumps(result))
    sys.stdout.flush()
    import os

    os._exit(0)  # leave without waiting for AWT threads
