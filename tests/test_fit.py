"""``deepz fit``: planning, bad input, a budgeted run that is killed and resumed, the card, ``deepz info``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate.card import card_tasks
from deepz_fiji.io import write_image
from deepz_fiji.train.fit import choose_source, plan_fit

REPO = Path(__file__).resolve().parents[1]


def _write_stacks(folder: Path, n: int = 3, planes: int = 11, side: int = 64, pixel_um: float = 0.325,
                  z_step_um: float | None = 0.5, seed: int = 100) -> Path:
    from deepz_fiji.simulate import Optics, simulate_stack

    folder.mkdir(parents=True, exist_ok=True)
    optics = Optics()
    half = (planes - 1) / 2 * optics.z_step_um
    for i in range(n):
        sim = simulate_stack("beads" if i % 2 == 0 else "nuclei", side, optics=optics, seed=seed + i,
                             z_range_um=(-half, half))
        write_image(folder / f"s{i}.tif", sim.stack, "ZYX", pixel_um=pixel_um, z_step_um=z_step_um)
    return folder


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> Path:
    return _write_stacks(tmp_path_factory.mktemp("fit") / "stacks")


# --------------------------------------------------------------------------- planning
def test_choose_source_measures_closeness_in_the_networks_units():
    name, why = choose_source(0.1, 1.4, 0.52, 1.515)
    assert name == "deepz-63x-1.4" and "1.00x as wide in pixels" in why and "closest" in why
    # 40x/1.3 oil, 0.1625 µm pixels: PSF 1.5 px wide as the 20x/0.75 model's (1.46 px), unlike the 63x one's (2.3 px)
    name, why = choose_source(0.1625, 1.3, 0.52, 1.515)
    assert name == "widefield-20x-0.75na" and "1.03x as wide in pixels" in why
    name, _ = choose_source(0.325, 0.75, 0.584, 1.0)
    assert name is not None and name.startswith("widefield-20x-0.75na")
    name, why = choose_source(0.05, 0.3, 0.7, 1.0)  # 100x-sampled low-NA: nothing close
    assert name is None and "from scratch" in why


def test_plan_holds_out_the_last_stacks_and_takes_the_range_from_the_thinnest(stacks):
    plan = plan_fit(stacks, source="none", minutes=5, val_stacks=1)
    assert plan.held_out == ["s2"] and len(plan.stacks) == 3
    assert plan.pixel_um == pytest.approx(0.325) and plan.z_step_um == pytest.approx(0.5)
    assert plan.range_um == pytest.approx(2.5) and plan.patch == 64 and plan.source is None
    assert not plan.optics_given and "assumed" in plan.describe()


def test_card_rows_stay_inside_the_stack():
    tasks = card_tasks(n_planes=31, focus=15, step_um=0.27, range_um=4.05)
    assert ("away", 15, 15) in tasks and ("away", 15, -8) in tasks  # R/2 = 7.5 planes: rounded up
    assert ("refocus", 7, 8) in tasks and ("refocus", 7, 15) in tasks  # 2.2 µm too shallow: to focus, past it
    assert card_tasks(31, 15, 0.27, 15 * 0.27) == tasks  # 15 × 0.27 is 4.0500000000000007
    assert len(tasks) == 8
    edge = card_tasks(n_planes=11, focus=2, step_um=0.5, range_um=2.5)
    assert all(0 <= z < 11 and 0 <= z + k < 11 for _, z, k in edge) and len(edge) < 8


@pytest.mark.parametrize("case, message", [
    ("empty", "no .tif/.tiff z-stacks"),
    ("uncalibrated", "no z-step calibration"),
    ("mixed", "one model needs one calibration"),
    ("thin", "too thin for --range-um 5"),
    ("budget", "leaves no time for training"),
])
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(tmp_path, run_cli, case, message):
    folder = tmp_path / "in"
    if case == "empty":
        folder.mkdir()
    elif case == "uncalibrated":
        _write_stacks(folder, n=2, z_step_um=None)
    elif case == "mixed":
        _write_stacks(folder, n=2)
        _write_stacks(tmp_path / "other", n=1, pixel_um=0.2)
        os.replace(tmp_path / "other" / "s0.tif", folder / "z.tif")
    else:
        _write_stacks(folder, n=2)
    out = tmp_path / "model"
    extra = ["--range-um", "5"] if case == "thin" else []
    proc = run_cli("fit", folder, "--out", out, "--minutes", "0.1" if case == "budget" else "1", *extra)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("deepz: error:") and message in lines[0], proc.stderr
    assert not out.exists()


def test_too_few_stacks_for_the_held_out_ones(stacks):
    with pytest.raises(DeepZError, match="held out"):
        plan_fit(stacks, source="none", val_stacks=3)


# --------------------------------------------------------------------------- a budgeted run, killed and resumed
def _fit_command(stacks: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "deepz_fiji", "fit", str(stacks), "--out", str(out), "--minutes", "1.2",
            "--from", "none"]


def test_fit_killed_after_a_checkpoint_resumes_and_writes_its_card(stacks, tmp_path, run_cli):
    out = tmp_path / "my-model"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(_fit_command(stacks, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    index = out / "checkpoint" / "checkpoint"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        log = out / "training_log.csv"
        if index.is_file() and log.is_file() and sum(1 for _ in log.open()) >= 3:  # a checkpoint after iteration 0
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "report.json").exists() and (out / "fit.json").is_file()
    first = json.loads((out / "fit.json").read_text())
    assert first["done"] is False

    again = subprocess.run(_fit_command(stacks, out), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming the fit" in again.stderr + again.stdout
    assert "won " in again.stdout and "held-out rows" in again.stdout
    card = json.loads((out / "report.json").read_text())
    assert card["held_out"] == ["s2"] and card["rows"]
    for row in card["rows"]:  # every row scored against both baselines
        assert all(np.isfinite(row[k]) for k in ("rmse_output", "rmse_input", "rmse_blur", "ssim_output"))
    assert {r["direction"] for r in card["rows"]} == {"away", "refocus"}
    assert (out / "report.png").stat().st_size > 10_000 and not (out / "fit").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["dz_max_um"] == pytest.approx(2.5) and config["pixel_um"] == pytest.approx(0.325)
    assert len(config["training"]["resumes"]) == 1  # the second run continued the first one's checkpoint
    assert config["training"]["seconds"] <= 1.2 * 60

    info = run_cli("info", out, check=True)
    assert "model card" in info.stdout and card["summary"] in info.stdout
    assert info.stdout.count("\n  s2 ") == len(card["rows"])

    done = subprocess.run(_fit_command(stacks, out), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "already fitted" in done.stderr + done.stdout


def test_card_focus_plane_leaves_room_for_the_range():
    from deepz_fiji.evaluate.card import focus_plane

    rng = np.random.default_rng(0)
    stack = np.stack([rng.normal(100, 1 + 10 / (1 + abs(z - 2)), (32, 32)) for z in range(11)]).astype(np.float32)
    assert focus_plane(stack) == 2  # the sharpest plane
    assert focus_plane(stack, margin=4) == 4  # the sharpest one from which ±4 planes fit in the stack


def test_time_budget_options_are_checked():
    from deepz_fiji.train.options import TrainConfig

    assert TrainConfig(max_seconds=30, val_every_s=5).max_seconds == 30
    for bad in ({"max_seconds": 0}, {"val_every_s": -1}, {"max_seconds": float("nan")}):
        with pytest.raises(DeepZError, match="positive number of seconds"):
            TrainConfig(**bad)


def test_info_on_a_model_without_a_card(run_cli):
    from deepz_fiji.model import load_model

    proc = run_cli("info", "widefield-20x-0.75na", check=True)
    assert "pixel 0.325 µm" in proc.stdout and "no model card" in proc.stdout
    blend = load_model("widefield-20x-0.75na").config.physics_blend
    assert 0 < blend < 1 and f"{1 - blend:g} × the network + {blend:g} × the physics blur" in proc.stdout  # shown
    assert run_cli("info", "no-such-model").returncode == 2


def test_learning_rate_drop_is_checked():
    from deepz_fiji.train.options import TrainConfig

    assert TrainConfig(lr_drop_at_s=60, lr_drop_factor=0.5).lr_drop_at_s == 60
    with pytest.raises(DeepZError, match="lr_drop_factor"):
        TrainConfig(lr_drop_factor=1.5)
