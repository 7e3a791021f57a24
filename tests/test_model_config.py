"""ModelConfig: presets, channel widths, strict config.json parsing (no TensorFlow needed)."""

from __future__ import annotations

import json

import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.model.config import ModelConfig, discriminator_widths, generator_widths


def test_paper_widths_are_the_published_channel_counts():
    w = generator_widths(1.0, 5)
    assert w["k1"] == [25, 72, 144, 288, 576]
    assert w["k2"] == [48, 96, 192, 384, 768]
    assert w["k3"] == [72, 144, 288, 576]
    assert w["k4"] == [48, 96, 192, 384]
    d = discriminator_widths(1.0)
    assert d["i1"] == [48, 96, 192, 384, 768, 1536]
    assert d["i2"] == [96, 192, 384, 768, 1536, 3072]
    assert d["fc"] == 3072


def test_width_multiplier_rounds_half_up_and_keeps_one_channel():
    w = generator_widths(1 / 16, 5)
    assert w["k1"] == [2, 5, 9, 18, 36]  # 25/16 = 1.56 -> 2, 72/16 = 4.5 -> 5
    assert generator_widths(0.001, 2)["k1"] == [1, 1]


def test_presets_and_size_multiple():
    paper = ModelConfig.from_preset("m", "paper")
    assert (paper.width, paper.depth, paper.preset, paper.size_multiple) == (1.0, 5, "paper", 16)
    custom = ModelConfig.from_preset("m", "small", depth=4)
    assert custom.preset == "custom" and custom.size_multiple == 8
    with pytest.raises(DeepZError, match="unknown preset 'huge'"):
        ModelConfig.from_preset("m", "huge")


def test_json_round_trip(tmp_path):
    cfg = ModelConfig.from_preset("beads", "tiny", dz_min_um=-5, dz_max_um=5, modality="widefield->confocal",
                                  training={"iterations": 3})
    path = cfg.save(tmp_path / "config.json")
    back = ModelConfig.load(path)
    assert back == cfg
    assert back.modality == "widefield→confocal"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"width": "wide"}, "width"),
        ({"depth": 1}, "depth"),
        ({"dz_min_um": 12.0}, "dz_min_um"),
        ({"pixel_um": -0.3}, "pixel_um"),
        ({"modality": "confocal"}, "modality"),
        ({"receptive_field_px": 0}, "receptive_field_px"),
        ({"normalization": "triangle"}, "normalization"),
        ({"intensity_gain": 0}, "intensity_gain"),
        ({"intensity_gain": float("nan")}, "intensity_gain"),
    ],
)
def test_invalid_field_is_named(tmp_path, edit, field):
    data = {**ModelConfig.from_preset("m", "tiny").to_dict(), **edit}
    with pytest.raises(DeepZError, match=field):
        ModelConfig.from_json(json.dumps(data))


def test_intensity_gain_defaults_to_the_papers_one_for_older_configs():
    data = ModelConfig.from_preset("m", "tiny", intensity_gain=20).to_dict()
    assert ModelConfig.from_dict(data).intensity_gain == 20.0
    del data["intensity_gain"]
    assert ModelConfig.from_dict(data).intensity_gain == 1.0


@pytest.mark.parametrize("field", ["name", "width", "depth", "dpm_scale_um", "dz_min_um"])
def test_missing_required_field_is_named(field):
    data = ModelConfig.from_preset("m", "tiny").to_dict()
    del data[field]
    with pytest.raises(DeepZError, match=f"missing the required field '{field}'"):
        ModelConfig.from_dict(data)


def test_bad_json_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"name": "m", ', encoding="utf-8")
    with pytest.raises(DeepZError, match="config.json is not valid JSON"):
        ModelConfig.load(path)
