"""Image metrics against hand-computed values, SSIM behaviour, per-plane tables, input errors."""

import math

import numpy as np
import pytest

from deepz_fiji import metrics
from deepz_fiji.errors import DeepZError

# diff = pred - truth = [-1, 0, 1, -2]
PRED = np.array([[1.0, 2.0], [3.0, 4.0]])
TRUTH = np.array([[2.0, 2.0], [2.0, 6.0]])


def test_error_metrics_match_hand_computed_values():
    assert metrics.mse(PRED, TRUTH) == pytest.approx(6 / 4)
    assert metrics.rmse(PRED, TRUTH) == pytest.approx(math.sqrt(1.5))
    assert metrics.mae(PRED, TRUTH) == pytest.approx(4 / 4)
    # deviations: pred [-1.5, -0.5, 0.5, 1.5], truth [-1, -1, -1, 3] -> 6 / sqrt(5 * 12)
    assert metrics.pearson(PRED, TRUTH) == pytest.approx(6 / math.sqrt(60))
    # data range of the ground truth = 4 -> 10 log10(16 / 1.5)
    assert metrics.psnr(PRED, TRUTH) == pytest.approx(10 * math.log10(16 / 1.5))


def test_integer_inputs_do_not_wrap_around():
    a = np.array([[0, 255]], dtype=np.uint8)
    b = np.array([[255, 0]], dtype=np.uint8)
    assert metrics.mse(a, b) == pytest.approx(255.0**2)
    assert metrics.pearson(a, b) == pytest.approx(-1.0)


def test_pearson_of_a_constant_image_is_nan_not_an_error():
    assert math.isnan(metrics.pearson(np.ones((3, 3)), np.arange(9.0).reshape(3, 3)))


def _texture(shape=(48, 48), seed=0):
    rng = np.random.default_rng(seed)
    from scipy import ndimage

    return ndimage.gaussian_filter(rng.random(shape), 2) * 1000 + 100


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    truth = _texture()
    rng = np.random.default_rng(1)
    sd = truth.std()
    mild = truth + rng.normal(0, 0.1 * sd, truth.shape)
    strong = truth + rng.normal(0, 1.0 * sd, truth.shape)
    assert metrics.ssim(truth, truth) == pytest.approx(1.0)
    assert metrics.ssim(mild, truth) < 0.99
    assert metrics.ssim(strong, truth) < metrics.ssim(mild, truth)
    assert metrics.psnr(truth, truth) == math.inf


def test_ssim_uses_the_ground_truth_range_so_intensity_units_do_not_matter():
    truth = _texture()
    pred = truth + np.random.default_rng(2).normal(0, 20, truth.shape)
    assert metrics.ssim(pred * 10, truth * 10) == pytest.approx(metrics.ssim(pred, truth), rel=1e-9)
    # an outlier in the prediction does not change the scale the prediction is judged on
    assert metrics.truth_data_range(pred, truth) == pytest.approx(np.ptp(truth))


def test_compare_returns_all_metrics_consistently():
    truth = _texture()
    pred = truth * 1.1 + 5
    result = metrics.compare(pred, truth)
    assert list(result) == list(metrics.METRICS)
    assert result["rmse"] == pytest.approx(math.sqrt(result["mse"]))
    assert result["pearson"] == pytest.approx(1.0)
    assert result["ssim"] == pytest.approx(metrics.ssim(pred, truth))


def test_per_plane_gives_one_row_per_plane_with_z():
    truth = np.stack([_texture(seed=s) for s in range(3)])
    pred = truth.copy()
    pred[1] += np.random.default_rng(3).normal(0, 50, pred[1].shape)
    seen = []
    rows = metrics.per_plane(pred, truth, z_um=[-0.5, 0.0, 0.5], progress=lambda d, t: seen.append((d, t)))
    assert [r["plane"] for r in rows] == [0, 1, 2]
    assert [r["z_um"] for r in rows] == [-0.5, 0.0, 0.5]
    assert rows[0]["ssim"] == pytest.approx(1.0) and rows[0]["mse"] == 0
    assert rows[1]["ssim"] < 1 and rows[1]["mse"] > 0
    assert seen[-1] == (3, 3)
    assert len(metrics.per_plane(pred[0], truth[0])) == 1


@pytest.mark.parametrize(
    "pred, truth, match",
    [
        (np.zeros((16, 16)), np.zeros((16, 17)), "shape"),
        (np.full((16, 16), np.nan), np.zeros((16, 16)), "NaN"),
        (np.zeros((16, 16)), np.r_[np.zeros(255), np.inf].reshape(16, 16), "NaN or infinite"),
        (np.zeros((8, 8)), np.ones((8, 8)), "at least 11"),
    ],
)
def test_bad_inputs_raise_one_clear_error(pred, truth, match):
    with pytest.raises(DeepZError, match=match):
        metrics.compare(pred, truth)


def test_per_plane_rejects_wrong_number_of_z_values():
    stack = np.zeros((2, 16, 16))
    with pytest.raises(DeepZError, match="one per plane"):
        metrics.per_plane(stack, stack, z_um=[0.0])


def test_plot_per_plane_writes_a_png(tmp_path):
    rows = [{"plane": i, "z_um": 0.5 * i, "ssim": 0.9 - 0.1 * i, "rmse": 1.0 + i} for i in range(3)]
    path = metrics.plot_per_plane(rows, tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]  # no temp file left behind
