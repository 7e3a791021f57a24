"""Model folders (contract A): SavedModel export, loading by path/name, predict, broken folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from deepz_fiji.errors import DeepZError  # noqa: E402
from deepz_fiji.model import DEFAULT_MODEL, ModelConfig, available_models, load_model  # noqa: E402
from deepz_fiji.model.folder import save_model_folder  # noqa: E402
from deepz_fiji.model.generator import build_generator  # noqa: E402


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """An untrained tiny model (depth 3, width 1/16) written as a model folder."""
    import keras

    keras.utils.set_random_seed(3)
    config = ModelConfig.from_preset("tiny-test", "tiny", depth=3, dz_min_um=-4, dz_max_um=4)
    gen = build_generator(config.width, config.depth)
    folder = tmp_path_factory.mktemp("models") / "tiny-test"
    save_model_folder(folder, gen, config)
    return folder, gen


def test_folder_layout_and_plain_tensorflow_loading(tiny_folder):
    folder, gen = tiny_folder
    assert {p.name for p in folder.iterdir()} >= {"saved_model", "config.json", "generator.weights.h5"}
    serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["input"]
    assert serve.structured_input_signature[1]["input"].shape.as_list() == [None, None, None, 2]
    assert list(serve.structured_outputs) == ["output"]
    x = np.random.default_rng(0).normal(size=(2, 32, 48, 2)).astype(np.float32)
    saved = serve(input=tf.constant(x))["output"].numpy()
    assert saved.shape == (2, 32, 48, 1)
    assert np.max(np.abs(saved - gen(x).numpy())) < 1e-5


def test_predict_any_size_pads_by_edge_replication_and_crops(tiny_folder):
    folder, gen = tiny_folder
    model = load_model(folder)
    assert model.config.name == "tiny-test" and model.config.size_multiple == 4
    x = np.random.default_rng(1).random((3, 37, 53, 2), dtype=np.float32)
    y = model.predict(x, batch_size=2)
    assert y.shape == (3, 37, 53, 1) and y.dtype == np.float32
    padded = np.pad(x, ((0, 0), (0, 3), (0, 3), (0, 0)), mode="edge")
    np.testing.assert_allclose(y, gen(padded).numpy()[:, :37, :53], atol=1e-5)


def test_predict_rejects_bad_input(tiny_folder):
    model = load_model(tiny_folder[0])
    with pytest.raises(DeepZError, match=r"\(N, H, W, 2\)"):
        model.predict(np.zeros((8, 8, 2), np.float32))
    bad = np.zeros((1, 8, 8, 2), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DeepZError, match="NaN"):
        model.predict(bad)


def test_receptive_field_is_recorded_and_consistent(tiny_folder):
    model = load_model(tiny_folder[0])
    rf = model.receptive_field_px
    assert json.loads((tiny_folder[0] / "config.json").read_text())["receptive_field_px"] == rf
    r = model.receptive_field_radius_px
    assert rf == 2 * r + 1 and 10 < r <= 27  # depth 3: at most 27 px by layer geometry


def test_keras_weights_match_the_saved_model(tiny_folder):
    model = load_model(tiny_folder[0])
    x = np.random.default_rng(2).random((1, 16, 16, 2), dtype=np.float32)
    np.testing.assert_allclose(model.keras_generator()(x).numpy(), model.predict(x), atol=1e-5)


def test_a_gained_generator_survives_the_folder_round_trip(tmp_path):
    config = ModelConfig.from_preset("gained", "tiny", depth=3, intensity_gain=20.0)
    gen = build_generator(config.width, config.depth, intensity_gain=config.intensity_gain)
    model = load_model(save_model_folder(tmp_path / "gained", gen, config))
    x = np.random.default_rng(4).random((1, 16, 16, 2), dtype=np.float32) * [0.05, 1.0]
    want = gen(x).numpy()
    np.testing.assert_allclose(model.predict(x), want, atol=1e-6)
    np.testing.assert_allclose(model.keras_generator()(x).numpy(), want, atol=1e-6)


def test_names_resolve_in_models_dir_and_unknown_names_list_them(tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPZ_MODELS_DIR", str(tiny_folder[0].parent))
    assert available_models()["tiny-test"] == tiny_folder[0]
    assert load_model("tiny-test").path == tiny_folder[0]
    with pytest.raises(DeepZError, match=r"unknown model 'nope'.*tiny-test"):
        load_model("nope")
    with pytest.raises(DeepZError, match="does not exist"):
        load_model(tmp_path / "missing")
    assert isinstance(DEFAULT_MODEL, str)


def _broken_copy(folder, tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(folder, copy)
    return copy


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c: c.write_text("{not json"), "not valid JSON"),
        (lambda c: c.write_text(json.dumps({**json.loads(c.read_text()), "colour": 1})), "colour"),
        (lambda c: c.write_text(json.dumps({k: v for k, v in json.loads(c.read_text()).items() if k != "depth"})),
         "'depth'"),
        (lambda c: c.unlink(), "config.json does not exist"),
    ],
)
def test_broken_config_is_named(tiny_folder, tmp_path, damage, message):
    copy = _broken_copy(tiny_folder[0], tmp_path)
    damage(copy / "config.json")
    with pytest.raises(DeepZError, match=message):
        load_model(copy)


def test_missing_or_corrupt_saved_model(tiny_folder, tmp_path):
    copy = _broken_copy(tiny_folder[0], tmp_path)
    shutil.rmtree(copy / "saved_model")
    with pytest.raises(DeepZError, match="saved_model"):
        load_model(copy)
    copy2 = _broken_copy(tiny_folder[0], tmp_path / "b")
    (copy2 / "saved_model" / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(DeepZError, match="corrupt"):
        load_model(copy2)


def test_missing_default_model_says_how_to_get_one(tmp_path, monkeypatch):
    import deepz_fiji.model.folder as folder

    monkeypatch.setattr(folder, "model_search_dirs", lambda: [tmp_path])
    with pytest.raises(DeepZError, match=f"default model '{DEFAULT_MODEL}' is not installed"):
        load_model()
