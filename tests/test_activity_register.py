"""Frame registration against body motion: known shifts/rotations are recovered, channels move together."""

from __future__ import annotations

import numpy as np
import pytest

from deepz_fiji.activity.register import (
    apply_transforms,
    estimate_transform,
    ncc,
    register_frames,
    rigid_transform,
    warp_plane,
)
from deepz_fiji.errors import DeepZError


def nuclei_image(shape=(96, 120), n=30, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = np.full(shape, 0.1)
    for _ in range(n):
        y, x = rng.uniform(12, shape[0] - 12), rng.uniform(12, shape[1] - 12)
        img += rng.uniform(0.5, 1.0) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 2.0**2))
    return img.astype(np.float32)


def motion(shape, angle_deg, shift_xy):
    """Reference → moved-frame matrix: a rotation about the centre plus a shift (x, y)."""
    return rigid_transform(shape, angle_deg, shift_xy)


def corner_error(found, true, shape):
    h, w = shape
    pts = np.array([[10, 10, 1], [w - 10, 10, 1], [10, h - 10, 1], [w - 10, h - 10, 1.0]]).T
    a, b = found @ pts, true @ pts
    return float(np.abs(a[:2] / a[2] - b[:2] / b[2]).max())


@pytest.mark.parametrize(("angle", "shift"), [(0.0, (3.4, -5.2)), (6.0, (4.3, -2.7)), (-8.5, (-1.0, 2.0))])
def test_intensity_registration_recovers_a_known_rigid_motion(angle, shift):
    ref = nuclei_image()
    true = motion(ref.shape, angle, shift)
    moved = warp_plane(ref, np.linalg.inv(true), order=3)  # moved(T(p)) = ref(p)
    moved += np.random.default_rng(1).normal(0, 0.01, moved.shape).astype(np.float32)
    found = estimate_transform(ref, moved)
    assert corner_error(found, true, ref.shape) < 0.3


def test_feature_registration_recovers_a_projective_motion():
    ref = nuclei_image(n=45, seed=2)
    true = motion(ref.shape, 4.0, (2.5, 3.0))
    true[2, :2] = [2e-4, -1e-4]  # a slight perspective
    moved = warp_plane(ref, np.linalg.inv(true), order=3)
    found = estimate_transform(ref, moved, method="features", model="projective")
    assert corner_error(found, true, ref.shape) < 1.0


def test_both_channels_follow_the_nuclei_channel():
    nuclei, activity = nuclei_image(seed=3), nuclei_image(n=10, seed=4)
    motions = [motion(nuclei.shape, a, s) for a, s in [(3.0, (2, 1)), (0.0, (0, 0)), (-4.0, (-3, 2.5))]]
    video = np.stack([[warp_plane(c, np.linalg.inv(m), order=3) for c in (nuclei, activity)] for m in motions])
    reg = register_frames(video[:, 0])
    assert reg.reference_index == 1 and np.allclose(reg.transforms[1], np.eye(3))
    assert reg.scores.min() > 0.99
    aligned = apply_transforms(video, reg.transforms)
    inner = (slice(15, -15), slice(15, -15))
    for t in (0, 2):
        assert ncc(video[t, 1][inner], activity[inner]) < 0.9  # moved: not aligned before
        assert ncc(aligned[t, 1][inner], activity[inner]) > 0.995  # aligned after, by the nuclei's transform
    summary = reg.summary()
    assert summary["max_rotation_deg"] == pytest.approx(4.0, abs=0.2)
    assert summary["max_shift_px"] == pytest.approx(np.hypot(3, 2.5), abs=0.3)  # of the frame's centre


def test_blank_frames_stay_put():
    assert np.array_equal(estimate_transform(np.ones((64, 64)), nuclei_image((64, 64))), np.eye(3))


def test_bad_registration_arguments_are_refused():
    img = nuclei_image()
    with pytest.raises(DeepZError, match="unknown registration method"):
        estimate_transform(img, img, method="magic")
    with pytest.raises(DeepZError, match="not available with the intensity method"):
        estimate_transform(img, img, model="projective")
    with pytest.raises(DeepZError, match="one shape"):
        estimate_transform(img, img[:50])
    with pytest.raises(DeepZError, match="too little texture|no key points"):
        ramp = np.tile(np.linspace(0, 1, 64), (64, 1))  # no corners to match
        estimate_transform(ramp, ramp, method="features")
