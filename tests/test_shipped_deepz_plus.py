"""The shipped Deep-Z+ model (wide-field → confocal): its config, and optical sectioning on held-out fields."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow
SHIPPED = "deepz-plus-63x-1.4"


@pytest.fixture(scope="module")
def model(shipped_model):
    return shipped_model


@pytest.fixture(scope="module")
def pair():
    """A registered wide-field/confocal pair of filaments, seed never used in training (2000+)."""
    from deepz_fiji.simulate.pairs import simulate_misregistered_pair

    return simulate_misregistered_pair("filaments", 128, seed=7500, shift_px=(0.0, 0.0), rotation_deg=0.0,
                                       axial_offset_um=0.0, z_range_um=(-1.0, 1.0), n_objects=10)


def test_config_says_widefield_to_confocal_at_63x(model):
    cfg = model.config
    assert cfg.modality == "widefield→confocal"
    assert cfg.na == pytest.approx(1.4) and cfg.pixel_um == pytest.approx(0.1) and cfg.z_step_um == pytest.approx(0.2)
    assert -2.01 <= cfg.dz_min_um < 0 < cfg.dz_max_um <= 2.01 and cfg.dpm_scale_um == pytest.approx(2.0)
    assert cfg.validation["val_mae"] < cfg.validation["baseline_mae_input_as_output"]


@pytest.mark.parametrize("dz", [-0.4, 0.0, 0.4])
def test_output_is_closer_to_the_confocal_plane_than_the_widefield_plane_is(model, pair, dz):
    """SSIM against the noiseless confocal plane at Δz, all in normalised units (SPEC §4.3)."""
    from deepz_fiji.data import estimate_normalization, extended_depth_of_field, normalize
    from deepz_fiji.metrics import ssim
    from deepz_fiji.refocus import refocus_plane

    wide, conf = pair.widefield, pair.confocal
    z = np.asarray(wide.z_um)
    snapshot, i = wide.stack[int(np.argmin(np.abs(z)))], int(np.argmin(np.abs(z - dz)))

    def on_edf(stack):
        return normalize(stack[i], estimate_normalization(extended_depth_of_field(stack)[0]))

    out = normalize(refocus_plane(snapshot, dz, model), estimate_normalization(snapshot))
    truth = on_edf(conf.truth)
    assert ssim(out, truth) > ssim(on_edf(wide.stack), truth) + 0.2
