"""End-to-end training on a tiny synthetic dataset: learning, model folder, resume, transfer."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from deepz_fiji.errors import DeepZError  # noqa: E402
from deepz_fiji.model import load_model  # noqa: E402
from deepz_fiji.train import TrainConfig, train, write_toy_dataset  # noqa: E402
from deepz_fiji.train.checkpoint import (  # noqa: E402
    export_average,
    export_best,
    export_snapshot,
    has_checkpoint,
    snapshot_iterations,
)

#: A short run that learns the toy task: MAE warm-up at a raised learning rate, then a few GAN
#: iterations (paper losses), validating every 25 iterations.
LEARN = TrainConfig(warmup=150, iterations=10, batch=8, g_steps=2, d_steps=1, lr_g=1e-3, val_every=25, seed=0)
#: A minimal run for plumbing checks.
QUICK = TrainConfig(warmup=6, iterations=6, batch=4, g_steps=1, d_steps=1, val_every=4, log_every=2, seed=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("data") / "toy", n_train=64, n_val=16, patch=32)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "toy-tiny"
    events = []
    result = train(dataset, out, preset="tiny", options=LEARN, command="pytest",
                   on_event=lambda kind, info: events.append((kind, dict(info, generator=None))))
    return out, result, events


def _log(folder):
    with open(folder / "training_log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_training_lowers_the_validation_error(trained):
    out, result, events = trained
    vals = [info["val_mae"] for kind, info in events if kind == "validation"]
    assert len(vals) == 1 + 160 // 25 + 1  # iteration 0, every 25, and the last one
    assert result.finished and result.iteration == 160
    assert result.best_val_mae < 0.8 * vals[0]
    assert result.best_val_mae < result.baseline_mae  # better than returning the input unchanged
    assert result.best_val_mae == pytest.approx(min(vals), rel=1e-5)


@pytest.mark.slow
def test_model_folder_holds_the_best_generator(trained, dataset):
    out, result, _ = trained
    assert {"saved_model", "config.json", "checkpoint", "training_log.csv", "training_curves.png",
            "generator.weights.h5", "logs"} <= {p.name for p in out.iterdir()}
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "tiny" and config["dz_min_um"] == -7.0 and config["z_step_um"] == 1.0
    assert config["training"]["command"] == "pytest" and config["training"]["iterations"] == 160
    assert config["training"]["dataset"]["counts"] == {"train": 64, "val": 16}
    assert set(config["versions"]) >= {"deepz_fiji", "tensorflow", "python"}
    assert config["validation"]["best_iteration"] == result.best_iteration
    # the exported SavedModel reproduces the recorded validation MAE
    from deepz_fiji.data import read_dataset

    val = read_dataset(dataset).load_split("val")
    model = load_model(out)
    x = np.stack([val["inputs"], np.broadcast_to(val["dz_um"][:, None, None] / 10.0, val["inputs"].shape)], -1)
    mae = float(np.mean(np.abs(model.predict(x)[..., 0] - val["targets"])))
    assert mae == pytest.approx(config["validation"]["val_mae"], rel=1e-4)
    x[..., 1] *= -1  # the sign-flip diagnostic is the same pairs with -Δz
    flipped = float(np.mean(np.abs(model.predict(x)[..., 0] - val["targets"])))
    assert flipped == pytest.approx(config["validation"]["val_mae_dz_flipped"], rel=1e-4)
    rows = _log(out)
    assert all(r["val_mae_dz_flipped"] for r in rows if r["val_mae"])
    assert [r["phase"] for r in rows][:2] == ["start", "warmup"] and rows[-1]["phase"] == "gan"
    assert float(rows[-1]["d_loss"]) > 0 and float(rows[-1]["g_adversarial"]) > 0


@pytest.mark.slow
def test_kill_and_resume_continues_from_the_checkpoint(dataset, tmp_path):
    out = tmp_path / "resumed"
    seen = {}

    def record(kind, info):
        if kind in ("validation", "resumed"):
            seen[(kind, info["iteration"])] = [w.copy() for w in info["generator"].get_weights()]

    stopped = train(dataset, out, preset="tiny", options=QUICK, on_event=record, stop_after=6)
    assert not stopped.finished and has_checkpoint(out)
    assert not (out / "config.json").exists()  # a killed run leaves no finished-looking model
    best = load_model(export_best(out, tmp_path / "best-so-far"))  # judge a run before it ends
    for a, b in zip(best.keras_generator().get_weights(), seen[("validation", stopped.best_iteration)], strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(DeepZError, match="no checkpoint/best.weights.h5"):
        export_best(tmp_path / "never-trained", tmp_path / "x")
    result = train(dataset, out, preset="tiny", options=QUICK, on_event=record, command="deepz train again")
    assert result.finished and result.iteration == 12
    resumed = seen[("resumed", 4)]  # the checkpoint of the validation at iteration 4
    for before, after in zip(seen[("validation", 4)], resumed, strict=True):
        np.testing.assert_array_equal(before, after)
    assert [int(r["iteration"]) for r in _log(out)] == [0, 2, 4, 6, 8, 10, 12]
    record_ = json.loads((out / "config.json").read_text())["training"]
    assert record_["resumed_from"] == 4 and record_["iterations"] == 12
    assert [(r["iteration"], r["command"]) for r in record_["resumes"]] == [(4, "deepz train again")]
    # a finished run can be extended; asking for fewer iterations than done is refused
    with pytest.raises(DeepZError, match="already been trained for 12"):
        train(dataset, out, options={"iterations": 2})
    # the schedule may change by hand on resume: a longer warm-up, a (here vanishing) learning rate
    weights = {}
    resumed = train(dataset, out, options={"warmup": 10, "iterations": 4, "lr_g": 1e-12},
                    on_event=lambda kind, info: weights.setdefault(kind, info["generator"].get_weights()))
    assert resumed.finished and resumed.iteration == 14
    after = load_model(out).keras_generator().get_weights()
    moved = max(float(np.abs(a - b).max()) for a, b in zip(weights["resumed"], after, strict=True))
    assert moved < 1e-8  # the checkpoint's learning rate (1e-4) would move them by ~1e-4 per step
    record = json.loads((out / "config.json").read_text())["training"]
    assert record["warmup_iterations"] == 10 and record["options"]["lr_g"] == 1e-12
    with pytest.raises(DeepZError, match="batch=4, not 8"):
        train(dataset, out, options={"iterations": 20, "batch": 8})
    with pytest.raises(DeepZError, match="width 0.0625"):
        train(dataset, out, width=0.5)


@pytest.mark.slow
def test_keep_last_exports_the_final_generator(dataset, tmp_path):
    seen = {}

    def record(kind, info):
        if kind == "validation":
            seen[info["iteration"]] = ([w.copy() for w in info["generator"].get_weights()], info["val_mae"])

    options = TrainConfig(**{**QUICK.to_dict(), "keep": "last", "lr_g": 1e-2})
    result = train(dataset, tmp_path / "last", preset="tiny", options=options, on_event=record)
    assert result.kept == "last" and result.val_mae == pytest.approx(seen[12][1], rel=1e-5)
    assert result.best_iteration != 12  # so "last" is not also "best" here
    exported = load_model(tmp_path / "last").keras_generator().get_weights()
    for a, b in zip(exported, seen[12][0], strict=True):
        np.testing.assert_array_equal(a, b)
    validation = json.loads((tmp_path / "last" / "config.json").read_text())["validation"]
    assert validation["kept"] == "last" and validation["val_mae"] == pytest.approx(seen[12][1], rel=1e-4)
    assert validation["best_val_mae"] == pytest.approx(min(v for _, v in seen.values()), rel=1e-5)
    with pytest.raises(DeepZError, match="'keep' must be one of best, last"):
        TrainConfig(keep="latest")


@pytest.mark.slow
def test_snapshots_keep_every_validated_generator_for_export(dataset, tmp_path):
    seen = {}

    def record(kind, info):
        if kind == "validation":
            seen[info["iteration"]] = [w.copy() for w in info["generator"].get_weights()]

    options = TrainConfig(**{**QUICK.to_dict(), "snapshots": True, "lr_g": 1e-2})
    train(dataset, tmp_path / "run", preset="tiny", options=options, on_event=record, stop_after=6)
    assert snapshot_iterations(tmp_path / "run") == [0, 4]
    train(dataset, tmp_path / "run", preset="tiny", options=options, on_event=record)  # resumed: it keeps on
    assert snapshot_iterations(tmp_path / "run") == [0, 4, 8, 12] == sorted(seen)
    for iteration in (4, 8):
        exported = load_model(export_best(tmp_path / "run", tmp_path / f"at-{iteration}", iteration))
        for a, b in zip(exported.keras_generator().get_weights(), seen[iteration], strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(seen[4][0], seen[8][0])  # so the two exports are really different generators
    shipped = export_snapshot(tmp_path / "run", 8, tmp_path / "shipped", "chosen by a benchmark")
    for a, b in zip(load_model(shipped).keras_generator().get_weights(), seen[8], strict=True):
        np.testing.assert_array_equal(a, b)
    validation = json.loads((shipped / "config.json").read_text())["validation"]
    row = next(r for r in _log(tmp_path / "run") if r["iteration"] == "8")
    assert validation["val_mae"] == pytest.approx(float(row["val_mae"]))
    assert (validation["kept"], validation["kept_because"]) == ("iteration 8", "chosen by a benchmark")
    assert json.loads((shipped / "config.json").read_text())["training"]["iterations"] == 12
    assert (shipped / "training_log.csv").read_text() == (tmp_path / "run" / "training_log.csv").read_text()
    with pytest.raises(DeepZError, match="no generator of iteration 6; it kept: 0, 4, 8, 12"):
        export_best(tmp_path / "run", tmp_path / "x", 6)
    with pytest.raises(DeepZError, match="train with --snapshots"):
        export_best(tmp_path / "run-without", tmp_path / "y", 4)
    with pytest.raises(DeepZError, match="has not finished"):
        export_snapshot(tmp_path / "run-without", 4, tmp_path / "z", "")
    with pytest.raises(DeepZError, match="'snapshots' must be true or false"):
        TrainConfig(snapshots="yes")
    # weight averaging: 1/4 of the start and 3/4 of iteration 8, weight by weight
    mixed = load_model(export_average(tmp_path / "run", {0: 1.0, 8: 3.0}, tmp_path / "mix"))
    for a, w0, w8 in zip(mixed.keras_generator().get_weights(), seen[0], seen[8], strict=True):
        np.testing.assert_allclose(a, 0.25 * w0 + 0.75 * w8, rtol=1e-5, atol=1e-7)
    assert mixed.config.validation["kept"] == "weight average of 1 × iteration 0, 3 × iteration 8"
    assert json.loads((tmp_path / "mix" / "config.json").read_text())["training"]["iterations"] == 12
    alone = load_model(export_average(tmp_path / "run", {8: 1.0}, tmp_path / "alone", "one generator"))
    assert alone.config.validation["val_mae"] == pytest.approx(float(row["val_mae"]), rel=1e-4)  # the log's
    assert alone.config.validation["kept_because"] == "one generator"
    with pytest.raises(DeepZError, match="shares >= 0 and a positive sum"):
        export_average(tmp_path / "run", {4: 0.0}, tmp_path / "none")


def test_refuses_to_overwrite_or_resume_nothing(dataset, tmp_path):
    with pytest.raises(DeepZError, match="no training checkpoint"):
        train(dataset, tmp_path / "new", resume=True)
    existing = tmp_path / "model"
    existing.mkdir()
    (existing / "config.json").write_text("{}")
    with pytest.raises(DeepZError, match="already holds a model"):
        train(dataset, existing)


@pytest.mark.slow
def test_init_from_transfers_weights_and_checks_the_architecture(trained, dataset, tmp_path, run_cli):
    source = load_model(trained[0])
    with pytest.raises(DeepZError, match="does not match this network"):
        train(dataset, tmp_path / "deeper", preset="tiny", depth=6, init_from=trained[0], options=QUICK)
    with pytest.raises(DeepZError, match="does not match this network"):
        train(dataset, tmp_path / "narrower", preset="tiny", width=0.03, init_from=trained[0], options=QUICK)
    start = {}

    def capture(kind, info):
        if kind == "validation" and info["iteration"] == 0:
            start["weights"] = info["generator"].get_weights()

    with pytest.raises(DeepZError, match="intensity gain"):
        train(dataset, tmp_path / "regained", preset="tiny", init_from=trained[0], options=QUICK,
              model_fields={"intensity_gain": source.config.intensity_gain + 1})
    with pytest.raises(DeepZError, match="DPM channel"):
        train(dataset, tmp_path / "rescaled", preset="tiny", init_from=trained[0], options=QUICK,
              model_fields={"dpm_scale_um": 2.0})
    result = train(dataset, tmp_path / "transfer", preset="tiny", init_from=trained[0], on_event=capture,
                   options=TrainConfig(warmup=1, iterations=0, batch=4))
    for a, b in zip(start["weights"], source.keras_generator().get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert load_model(result.path).config.intensity_gain == source.config.intensity_gain
    assert load_model(result.path).config.dpm_scale_um == source.config.dpm_scale_um


@pytest.mark.slow
def test_cli_trains_a_model(dataset, run_cli, tmp_path):
    out = tmp_path / "cli-model"
    proc = run_cli("train", dataset, "--out", out, "--preset", "tiny", "--warmup", "1", "--iterations", "0",
                   "--batch", "4", "--seed", "3", "--no-intensity-scale", "--dpm-scale-um", "2.5",
                   "--augment-group", "8")
    assert proc.returncode == 0, proc.stderr
    assert "model written to" in proc.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["command"].startswith("deepz train ")
    assert config["training"]["options"]["seed"] == 3 and config["training"]["options"]["intensity_scale"] is None
    assert config["training"]["options"]["augment_group"] == 8
    assert config["dpm_scale_um"] == 2.5 and load_model(out).config.dpm_scale_um == 2.5
    bad = run_cli("train", dataset, "--out", tmp_path / "x", "--resume")
    assert bad.returncode == 2 and "no training checkpoint" in bad.stderr


@pytest.mark.slow
def test_init_from_a_narrower_model_widens_it(trained, dataset, tmp_path):
    source = load_model(trained[0])
    start = {}

    def capture(kind, info):
        if kind == "validation" and info["iteration"] == 0:
            start["mae"] = info["val_mae"]

    result = train(dataset, tmp_path / "wide", preset="tiny", width=0.125, init_from=trained[0], on_event=capture,
                   options=TrainConfig(warmup=1, iterations=0, batch=4, seed=0))
    wide = load_model(result.path)
    assert wide.config.width == 0.125 and wide.keras_generator().count_params() > 3 * (
        source.keras_generator().count_params())
    # the widened network starts where the source model ended, not from scratch
    assert start["mae"] == pytest.approx(trained[1].best_val_mae, rel=0.1)


def test_time_budget_stops_and_exports_and_the_learning_rate_drops(dataset, tmp_path):
    """``max_seconds`` ends a run however many iterations were asked; ``lr_drop_at_s`` calms it."""
    weights = {}
    result = train(dataset, tmp_path / "budget", preset="tiny",
                   options={**QUICK.to_dict(), "warmup": 10 ** 6, "iterations": 0, "val_every": 10 ** 6, "max_seconds": 3.0,
                            "lr_drop_at_s": 1e-6, "lr_drop_factor": 1e-8},
                   on_event=lambda kind, info: weights.setdefault(info["iteration"], info["generator"].get_weights()))
    assert result.finished and 1 <= result.iteration < 10 ** 6 and (tmp_path / "budget" / "config.json").is_file()
    assert 3.0 <= result.seconds < 60
    record = json.loads((tmp_path / "budget" / "config.json").read_text())["training"]
    assert record["iterations"] == result.iteration  # the iteration the budget ran out at
    moved = max(float(np.abs(a - b).max()) for a, b in zip(weights[0], weights[result.iteration], strict=True))
    assert moved < 1e-6  # at 1e-4 × 1e-8 nothing moves; at 1e-4 every step would move weights by ~1e-4


@pytest.mark.slow
def test_physics_inputs_start_from_a_model_without_them_and_refocus(trained, dataset, tmp_path):
    from deepz_fiji.refocus import refocus_plane, refocus_surface

    source = load_model(trained[0])
    start = {}

    def capture(kind, info):
        if kind == "validation" and info["iteration"] == 0:
            start["generator"] = info["generator"]
            start["out"] = info["generator"](probe3).numpy()

    rng = np.random.default_rng(0)
    probe = rng.random((1, 32, 32, 2)).astype(np.float32)
    probe3 = np.concatenate([probe, rng.random((1, 32, 32, 1)).astype(np.float32)], -1)
    result = train(dataset, tmp_path / "physics", preset="tiny", init_from=trained[0], on_event=capture,
                   options=TrainConfig(warmup=2, iterations=0, batch=4, val_every=1),
                   model_fields={"physics_inputs": ["blur"]})
    np.testing.assert_allclose(start["out"], source.predict(probe), atol=1e-5)  # zero weights: same function
    model = load_model(result.path)
    assert model.config.physics_inputs == ["blur"] and model.config.input_channels == 3
    with pytest.raises(DeepZError, match=r"\(N, H, W, 3\) = \(image, DPM/scale, blur\)"):
        model.predict(probe)
    image = rng.random((40, 56)).astype(np.float32) * 100
    plane = refocus_plane(image, 2.0, model)
    tilted = refocus_surface(image, np.linspace(-2, 2, 56)[None, :].repeat(40, 0), model)
    assert plane.shape == tilted.shape == image.shape and np.isfinite(tilted).all()
    with pytest.raises(DeepZError, match="physics inputs"):
        train(dataset, tmp_path / "back", preset="tiny", init_from=result.path, options=QUICK)


def test_bfloat16_training_learns_like_float32_and_is_recorded(trained, dataset, tmp_path):
    from deepz_fiji.refocus import cpu_supports_bfloat16

    if not cpu_supports_bfloat16():
        pytest.skip("this CPU has neither AVX512-BF16 nor AMX")
    full = trained[1]  # the same run in float32
    low = train(dataset, tmp_path / "bf16", preset="tiny", options={**LEARN.to_dict(), "precision": "bfloat16"})
    print(f"best validation MAE: float32 {full.best_val_mae:.5f}, bfloat16 {low.best_val_mae:.5f} "
          f"(input as output {low.baseline_mae:.5f})")
    assert low.best_val_mae < low.baseline_mae  # it learns
    assert low.best_val_mae == pytest.approx(full.best_val_mae, rel=0.15)  # about as well as float32
    record = json.loads((tmp_path / "bf16" / "config.json").read_text())["training"]["options"]
    assert record["precision"] == "bfloat16"
    assert not tf.config.optimizer.get_experimental_options().get("auto_mixed_precision_onednn_bfloat16", False)


def test_bfloat16_training_needs_a_cpu_that_has_it(dataset, tmp_path, monkeypatch):
    from deepz_fiji.refocus import precision

    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: False)
    with pytest.raises(DeepZError, match="AVX512-BF16 or AMX"):
        train(dataset, tmp_path / "m", preset="tiny", options={**QUICK.to_dict(), "precision": "bfloat16"})
    with pytest.raises(DeepZError, match="precision"):
        TrainConfig(precision="half")
