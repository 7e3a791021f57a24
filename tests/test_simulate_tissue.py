"""Dense tissue and randomised optics for training (deepz_fiji.simulate.tissue)."""

from __future__ import annotations

import numpy as np
import pytest

from deepz_fiji.simulate import Optics, simulate_stack
from deepz_fiji.simulate.tissue import dense_tissue, randomized_optics


def test_dense_tissue_fills_a_slab_of_the_asked_thickness():
    rng = np.random.default_rng(0)
    density = dense_tissue((61, 96, 96), 0.325, 0.5, rng, thickness_um=12.0, centre_um=2.0)
    z_um = (np.arange(61) - 30) * 0.5
    per_plane = density.mean(axis=(1, 2))
    inside = (z_um > 2 - 5) & (z_um < 2 + 5)
    outside = (z_um < 2 - 8) | (z_um > 2 + 8)
    assert per_plane[inside].min() > 0.1, "dense: every plane inside the slab holds signal"
    assert per_plane[outside].max() < 0.01 * per_plane[inside].mean(), "nothing outside the slab"
    mid = density[32]
    assert (mid > 0.3).mean() > 0.2, "nuclei cover a good part of the field"
    assert np.std(mid[mid > 0.3]) > 0.1 * np.mean(mid[mid > 0.3]), "textured, not flat"
    again = dense_tissue((61, 96, 96), 0.325, 0.5, np.random.default_rng(0), thickness_um=12.0, centre_um=2.0)
    assert np.array_equal(density, again)


def test_randomized_optics_stay_in_their_ranges():
    base = Optics()
    for seed in range(20):
        o = randomized_optics(base, np.random.default_rng(seed))
        assert 0 <= o.depth_um <= 30 and abs(o.na - base.na) <= 0.05 + 1e-9
        assert abs(o.emission_um - base.emission_um) <= 0.02 + 1e-9
        assert 160 <= o.coverslip_um <= 185 and 1.33 <= o.sample_index <= 1.40
        assert (o.pixel_um, o.z_step_um) == (base.pixel_um, base.z_step_um)


@pytest.mark.slow
def test_a_tissue_field_simulates_as_a_calibrated_stack():
    rng = np.random.default_rng(3)
    optics = randomized_optics(Optics(), rng)
    density = dense_tissue((81, 64, 64), optics.pixel_um, optics.z_step_um, rng)
    sim = simulate_stack(density, optics=optics, seed=3, photons=300.0)
    assert sim.stack.shape == sim.truth.shape == (81, 64, 64)
    assert sim.stack.dtype == np.uint16 and sim.truth.max() > 3 * np.median(sim.truth[0])


def test_the_generalising_recipe_varies_bead_density_and_photons_within_its_ranges():
    import importlib.util
    from pathlib import Path

    from deepz_fiji.simulate.samples import BEAD_DENSITY_PER_UM2, DEFAULT_PHOTONS

    path = Path(__file__).resolve().parents[1] / "examples" / "make_generalising_default.py"
    spec = importlib.util.spec_from_file_location("recipe", path)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    optics, size = Optics(), 256
    paper = BEAD_DENSITY_PER_UM2 * (size * optics.pixel_um) ** 2
    rng = np.random.default_rng(0)
    counts, photons = [], []
    for _ in range(200):
        kw = recipe.varied_sample("plane-beads", size, optics, rng)
        counts.append(kw["n_objects"])
        photons.append(kw["photons"] / DEFAULT_PHOTONS["beads"])
    assert 0.3 * paper < min(counts) and max(counts) < 45 * paper
    assert np.median(counts) > 3 * paper, "most fields denser than the paper's"
    assert min(photons) >= 0.05 and max(photons) <= 1.0 and np.median(photons) < 0.4
    assert "n_objects" not in recipe.varied_sample("nuclei", size, optics, rng)
    assert set(recipe.VARIED_KINDS) >= {"tilted-beads", "cylinder-beads"}
