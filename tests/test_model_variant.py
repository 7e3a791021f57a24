"""``deepz variant``: a model folder with another physics blend or output level, same network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepz_fiji.cli import main
from deepz_fiji.errors import DeepZError
from deepz_fiji.model.variant import write_variant

pytest.importorskip("tensorflow")


def _image():
    rng = np.random.default_rng(3)
    img = rng.normal(100, 5, (48, 40)).clip(0)
    img[rng.random(img.shape) > 0.97] += 800
    return img.astype(np.float32)


def test_a_variant_changes_only_the_post_processing(make_tiny_model, tmp_path):
    from deepz_fiji.refocus import load_model, network_only, refocus_plane

    source = make_tiny_model("blended", dz_min_um=-2.0, dz_max_um=2.0, physics_blend=0.4,
                             output_level="local-flux", output_level_scale=0.5)
    before = (source / "config.json").read_text()
    out = write_variant(source, tmp_path / "alone", physics_blend=0.0, output_level="flux")
    config = json.loads((out / "config.json").read_text())
    assert (config["name"], config["physics_blend"], config["output_level"]) == ("alone", 0.0, "flux")
    assert "variant of blended" in config["description"]
    assert (source / "config.json").read_text() == before, "the source is left as it was"
    image = _image()
    np.testing.assert_array_equal(refocus_plane(image, 1.5, load_model(out)),
                                  refocus_plane(image, 1.5, network_only(load_model(source))))
    assert not np.allclose(refocus_plane(image, 1.5, load_model(out)), refocus_plane(image, 1.5, load_model(source)))


def test_the_cli_writes_a_variant_and_prints_it(make_tiny_model, tmp_path, capsys):
    source = make_tiny_model("plain", dz_min_um=-2.0, dz_max_um=2.0)
    assert main(["variant", str(source), "--out", str(tmp_path / "v"), "--output-level", "local-flux",
                 "--level-scale", "0.5"]) == 0
    assert "output level local-flux at 0.5" in capsys.readouterr().out
    assert json.loads((tmp_path / "v" / "config.json").read_text())["output_level_scale"] == 0.5


@pytest.mark.parametrize("options, message", [
    ([], "nothing to change"),
    (["--physics-blend", "1.5"], "physics_blend"),
    (["--level-scale", "0"], "output_level_scale"),
])
def test_bad_variants_are_one_line_errors_with_nothing_written(make_tiny_model, tmp_path, capsys, options, message):
    source = make_tiny_model("plain", dz_min_um=-2.0, dz_max_um=2.0)
    assert main(["variant", str(source), "--out", str(tmp_path / "v"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(make_tiny_model, tmp_path):
    source = make_tiny_model("plain", dz_min_um=-2.0, dz_max_um=2.0)
    (tmp_path / "v").mkdir()
    with pytest.raises(DeepZError, match="already exists"):
        write_variant(source, tmp_path / "v", physics_blend=0.2)
