"""``deepz track``, ``deepz autofocus`` and ``deepz refocus-video`` through a subprocess (tiny random model).

The network is untrained, so these check the plumbing a user relies on — files, calibration,
shapes, exit codes and one-line errors — not the quality of the answers (see
test_activity_pipeline.py and test_autofocus.py for those).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from deepz_fiji.io import read_image, write_image


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A real (random-weight) 3-level tiny generator saved as a model folder."""
    pytest.importorskip("tensorflow")
    from deepz_fiji.model import ModelConfig, save_model_folder
    from deepz_fiji.model.generator import generator_for

    config = ModelConfig.from_preset("tiny-activity", "tiny", depth=3)
    return save_model_folder(tmp_path_factory.mktemp("models") / "tiny-activity", generator_for(config), config)


def spots(shape, seed):
    rng = np.random.default_rng(seed)
    img = rng.normal(100, 5, shape).clip(0)
    img[rng.random(shape) > 0.97] += 2000
    return img.astype(np.uint16)


@pytest.mark.slow
def test_track_writes_every_output_and_resumes(run_cli, tmp_path, model_dir):
    video = np.stack([[spots((40, 48), 1), spots((40, 48), 2 + t)] for t in range(4)])
    write_image(tmp_path / "video.tif", video, "TCYX", pixel_um=0.3, frame_interval_s=0.25)
    args = ["track", "video.tif", "--nuclei-channel", "0", "--activity-channel", "1", "-o", "out",
            "--model", model_dir, "--range", "-2", "2", "--step", "1"]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "neurons" in proc.stdout
    out = tmp_path / "out"
    labels = read_image(out / "labels.tif")
    assert labels.data.shape == (5, 40, 48) and labels.pixel_um == pytest.approx(0.3)
    assert labels.z_step_um == pytest.approx(1.0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 4 and summary["planes"] == 5 and summary["refocusing"] == "tiny-activity"
    for name in ("neurons.csv", "traces.csv", "neurons_by_depth.png", "traces_by_cluster.png",
                 "similarity_by_cluster.png", "nuclei_median.tif"):
        assert (out / name).stat().st_size > 0, name
    proc = run_cli(*args, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["stacks_resumed_from_cache"] == 8


@pytest.mark.slow
def test_track_refocuses_with_the_network_alone_unless_asked_to_keep_the_blend(run_cli, tmp_path, model_dir):
    from deepz_fiji.model.variant import write_variant

    blended = write_variant(model_dir, tmp_path / "blended", physics_blend=0.4)
    video = np.stack([[spots((40, 48), 1), spots((40, 48), 2 + t)] for t in range(3)])
    write_image(tmp_path / "video.tif", video, "TCYX", pixel_um=0.3)
    args = ["track", "video.tif", "--nuclei-channel", "0", "--activity-channel", "1", "--model", blended,
            "--range", "-2", "2", "--step", "1"]
    names = {}
    for out, extra in (("alone", []), ("kept", ["--keep-blend"])):
        proc = run_cli(*args, "-o", out, *extra)
        assert proc.returncode == 0, proc.stderr
        names[out] = json.loads((tmp_path / out / "summary.json").read_text())["refocusing"]
    assert names["alone"].endswith(" (network alone)") and not names["kept"].endswith("(network alone)")


@pytest.mark.slow
def test_autofocus_prints_dz_and_writes_a_height_map(run_cli, tmp_path, model_dir):
    write_image(tmp_path / "img.tif", spots((48, 64), 0), "YX", pixel_um=0.3)
    proc = run_cli("autofocus", "img.tif", "--model", model_dir, "--range", "-2", "2", "--step", "0.5",
                   "--regions", "2x2", "-o", "height.tif")
    assert proc.returncode == 0, proc.stderr
    assert "per region" in proc.stdout and len(proc.stdout.strip().splitlines()) >= 3
    height = read_image(tmp_path / "height.tif")
    assert height.data.shape == (48, 64) and height.pixel_um == pytest.approx(0.3)
    assert -2 <= height.data.min() <= height.data.max() <= 2
    single = run_cli("autofocus", "img.tif", "--model", model_dir, "--range", "-2", "2", "--step", "0.5",
                     "--single-pass")
    assert single.returncode == 0 and single.stdout.startswith("in focus at dz = "), single.stderr

    write_image(tmp_path / "video.tif", np.stack([spots((48, 64), t) for t in range(3)]), "TYX", pixel_um=0.3)
    proc = run_cli("autofocus", "video.tif", "--model", model_dir)
    assert proc.returncode == 2 and "refocus-video --track-focus" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_refocus_video_tracks_focus_per_frame(run_cli, tmp_path, model_dir):
    video = np.stack([[spots((40, 48), t), spots((40, 48), 10 + t)] for t in range(3)])
    write_image(tmp_path / "video.tif", video, "TCYX", pixel_um=0.3, frame_interval_s=0.5)
    proc = run_cli("refocus-video", "video.tif", "--track-focus", "--model", model_dir, "--range", "-2", "2",
                   "--step", "1", "-o", "out.tif", "--focus-csv", "focus.csv", "--focus-channel", "1")
    assert proc.returncode == 0, proc.stderr
    out = read_image(tmp_path / "out.tif")
    assert out.axes == "TCYX" and out.data.shape == video.shape and out.data.dtype == np.float32
    assert out.calibration.frame_interval_s == pytest.approx(0.5)
    with open(tmp_path / "focus.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["frame"]) for r in rows] == [0, 1, 2]
    assert all(-2 <= float(r["dz_um"]) <= 2 for r in rows)

    proc = run_cli("refocus-video", "video.tif", "--model", model_dir, "-o", "x.tif")
    assert proc.returncode == 2 and "--dz" in proc.stderr  # argparse: one of --dz / --track-focus
    proc = run_cli("refocus-video", "video.tif", "--track-focus", "--model", model_dir, "--focus-channel", "5",
                   "-o", "x.tif")
    assert proc.returncode == 2 and "focus channel 5" in proc.stderr
    assert not (tmp_path / "x.tif").exists()


@pytest.mark.slow
def test_refocus_video_and_stacks_take_tta(run_cli, tmp_path, model_dir):
    from deepz_fiji.activity.stacks import model_name, refocus_stack_fn
    from deepz_fiji.refocus import refocus

    video = np.stack([spots((40, 48), t) for t in range(2)])
    write_image(tmp_path / "video.tif", video, "TYX", pixel_um=0.3)
    for flag in ([], ["--tta"]):
        proc = run_cli("refocus-video", "video.tif", "--dz", "1", "--model", model_dir, "-o", f"out{len(flag)}.tif",
                       "--no-progress", *flag)
        assert proc.returncode == 0, proc.stderr
    plain, tta = (read_image(tmp_path / f"out{i}.tif").data for i in (0, 1))
    np.testing.assert_allclose(tta, refocus(video, 1.0, model_dir, tta=True), rtol=1e-5, atol=1e-3)
    assert not np.allclose(plain, tta, rtol=1e-3)
    # cached stacks of a --tta run are never resumed as plain ones (and back)
    assert model_name(refocus_stack_fn(model_dir, -1, 1, 1, tta=True)) == "tiny-activity (tta)"
    assert model_name(refocus_stack_fn(model_dir, -1, 1, 1)) == "tiny-activity"
