"""``track_activity`` end to end on a synthetic moving worm, its outputs, and resuming a killed run.

The refocusing is injected: a stand-in ``stack_fn`` recognises which synthetic frame it was
given (nearest match after registration) and returns that frame's true 3D volume, so this
tests everything around Deep-Z — registration, caching, segmentation, traces, clustering,
outputs — without TensorFlow.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial.distance import cdist

from deepz_fiji.activity import ActivityOptions, adjusted_rand_index, as_video, track_activity
from deepz_fiji.activity.synthetic import calcium_transients, synthetic_activity, widefield_frame
from deepz_fiji.errors import DeepZError
from deepz_fiji.io import read_image

Z_RANGE = (-10.0, 10.0, 1.0)  # 21 planes: synthetic_activity's default volume depth


class Refocuser:
    """Stand-in for Deep-Z: returns the true volume of the frame it recognises; counts calls."""

    def __init__(self, worm, focal_index=10, fail_after=None):
        self.frames = np.stack([widefield_frame(worm.nuclei, focal_index)]
                               + [widefield_frame(v, focal_index) for v in worm.activity])
        self.volumes = [worm.nuclei, *worm.activity]
        self.calls = 0
        self.fail_after = fail_after
        self.__name__ = "synthetic-refocuser"

    def __call__(self, image):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt  # like a user pressing Ctrl-C mid-run
        self.calls += 1
        c = slice(8, -8)
        err = ((self.frames[:, c, c] - image[c, c]) ** 2).mean(axis=(1, 2))
        return self.volumes[int(np.argmin(err))]


@pytest.fixture(scope="module")
def worm():
    return synthetic_activity(n_frames=60, amplitude=1.5, seed=0)


@pytest.fixture(scope="module")
def video(worm):
    """(T, C, Y, X): nuclei and activity frames, both moved by the same random body motion."""
    ref = Refocuser(worm)
    rng = np.random.default_rng(1)
    shifts = rng.integers(-3, 4, (len(worm.activity), 2))
    shifts[len(shifts) // 2] = 0  # the reference frame
    frames = []
    for t, shift in enumerate(shifts):
        pair = [ref.frames[0], ref.frames[1 + t]]
        frames.append([ndi.shift(f, shift, order=0, cval=float(np.median(f))) for f in pair])
    return np.asarray(frames, np.float32)


@pytest.fixture(scope="module")
def run(worm, video, tmp_path_factory):
    out = tmp_path_factory.mktemp("track")
    refocuser = Refocuser(worm)
    result = track_activity(video, 0, 1, out, stack_fn=refocuser, z_range=Z_RANGE, pixel_um=0.5,
                            frame_interval_s=0.28)
    return out, result, refocuser


def test_neurons_traces_and_clusters_match_the_truth(worm, run):
    _, result, refocuser = run
    assert refocuser.calls == 2 * len(worm.activity)  # one virtual stack per frame and channel
    spacing = np.array([1.0, 0.5, 0.5])
    d = cdist(result.segmentation.seeds * spacing, worm.positions * spacing)
    assert (d.min(axis=0) < 1.0).all() and (d.min(axis=1) < 1.0).all()  # recall and precision 100 %
    nearest = d.argmin(axis=1)
    assert np.array_equal(result.active, worm.groups[nearest] >= 0)
    corr = [np.corrcoef(f, worm.traces[j])[0, 1] for f, j in zip(result.traces, nearest, strict=True)]
    assert np.min(np.asarray(corr)[result.active]) > 0.99
    assert result.clustering.k == 3
    assert adjusted_rand_index(result.clustering.labels, worm.groups[nearest][result.active]) > 0.95
    assert result.registration.summary()["max_shift_px"] > 2  # there was motion to correct


def test_outputs_are_written_calibrated_and_consistent(worm, run):
    out, result, _ = run
    labels = read_image(out / "labels.tif")
    assert labels.axes == "ZYX" and labels.data.shape == (21, 64, 64)
    assert labels.pixel_um == pytest.approx(0.5) and labels.z_step_um == pytest.approx(1.0)
    assert np.array_equal(labels.data, result.segmentation.labels)
    with open(out / "neurons.csv", newline="") as fh:
        neurons = list(csv.DictReader(fh))
    assert len(neurons) == result.segmentation.n_neurons
    assert sum(r["active"] == "True" for r in neurons) == result.active.sum()
    z = np.array([float(r["z_um"]) for r in neurons])
    assert z.min() >= -10 and z.max() <= 10 and np.ptp(z) > 5  # depth in µm from the focal plane
    with open(out / "traces.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == result.segmentation.n_neurons * len(worm.activity)
    assert float(rows[1]["time_s"]) == pytest.approx(0.28)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["neurons"] == result.segmentation.n_neurons and summary["clusters"] == 3
    assert summary["planes"] == 21 and summary["refocusing"] == "synthetic-refocuser"
    for name in ("neurons_by_depth.png", "traces_by_cluster.png", "similarity_by_cluster.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp*"))  # no temporary files left behind


def test_a_killed_run_resumes_where_it_stopped(worm, video, tmp_path):
    short = video[:20]
    killed = Refocuser(worm, fail_after=25)
    with pytest.raises(KeyboardInterrupt):
        track_activity(short, 0, 1, tmp_path / "a", stack_fn=killed, z_range=Z_RANGE, pixel_um=0.5)
    assert len(list((tmp_path / "a" / "cache").glob("stack_*.npy"))) == 25
    resumed = Refocuser(worm)
    result = track_activity(short, 0, 1, tmp_path / "a", stack_fn=resumed, z_range=Z_RANGE, pixel_um=0.5,
                            resume=True)
    assert resumed.calls == 2 * 20 - 25  # only what was missing
    assert result.run_info["stacks_resumed_from_cache"] == 25
    fresh = track_activity(short, 0, 1, tmp_path / "b", stack_fn=Refocuser(worm), z_range=Z_RANGE, pixel_um=0.5,
                           write=False)
    np.testing.assert_allclose(result.traces, fresh.traces, rtol=1e-6)
    assert (tmp_path / "a" / "summary.json").exists()
    # a finished run resumes without refocusing anything
    again = Refocuser(worm)
    track_activity(short, 0, 1, tmp_path / "a", stack_fn=again, z_range=Z_RANGE, pixel_um=0.5, resume=True,
                   write=False)
    assert again.calls == 0


def test_resuming_with_other_settings_is_refused(worm, video, tmp_path):
    few = video[:6]
    track_activity(few, 0, 1, tmp_path, stack_fn=Refocuser(worm), z_range=Z_RANGE, pixel_um=0.5, write=False)
    with pytest.raises(DeepZError, match="cannot resume.*z_um"):
        track_activity(few, 0, 1, tmp_path, stack_fn=Refocuser(worm), z_range=(-10, 10, 2.0), pixel_um=0.5,
                       resume=True)
    with pytest.raises(DeepZError, match="cannot resume.*video"):
        track_activity(video[:5], 0, 1, tmp_path, stack_fn=Refocuser(worm), z_range=Z_RANGE, pixel_um=0.5,
                       resume=True)
    # without --resume the old cache is replaced, not mixed in
    track_activity(few, 0, 1, tmp_path, stack_fn=Refocuser(worm), z_range=Z_RANGE, pixel_um=0.5, write=False,
                   options=ActivityOptions(register=False))


def test_a_blank_video_gives_no_neurons_but_complete_outputs(tmp_path):
    blank = np.full((4, 2, 32, 32), 100.0, np.float32)
    result = track_activity(blank, 0, 1, tmp_path, stack_fn=lambda im: np.stack([im] * 5), z_range=(-2, 2, 1),
                            pixel_um=0.5)
    assert result.segmentation.n_neurons == 0 and result.clustering.k == 0
    assert json.loads((tmp_path / "summary.json").read_text())["neurons"] == 0
    assert (tmp_path / "traces_by_cluster.png").exists()


def test_video_layouts_and_user_errors(tmp_path):
    tc = np.zeros((3, 2, 16, 16))
    data, _ = as_video(np.moveaxis(tc, 0, 1), "CTYX")
    assert data.shape == (3, 2, 16, 16) and data.dtype == np.float32
    assert as_video(np.zeros((3, 16, 16)))[0].shape == (3, 1, 16, 16)
    with pytest.raises(DeepZError, match="Z axis"):
        as_video(np.zeros((3, 4, 16, 16)), "TZYX")
    with pytest.raises(DeepZError, match="at least 2 time points"):
        as_video(np.zeros((1, 2, 16, 16)), "TCYX")
    fn = lambda im: np.stack([im] * 5)  # noqa: E731
    with pytest.raises(DeepZError, match="channel 2 does not exist"):
        track_activity(tc, 0, 2, tmp_path, stack_fn=fn, z_range=(-2, 2, 1), pixel_um=0.5)
    with pytest.raises(DeepZError, match="pixel size"):
        track_activity(tc, 0, 1, tmp_path, stack_fn=fn, z_range=(-2, 2, 1))
    with pytest.raises(DeepZError, match="returned shape"):
        track_activity(tc, 0, 1, tmp_path, stack_fn=fn, z_range=(-2, 2, 0.5), pixel_um=0.5)


def test_refocus_stack_fn_drives_the_refocus_api():
    pytest.importorskip("tensorflow")
    from deepz_fiji.activity import refocus_stack_fn
    from deepz_fiji.model import ModelConfig

    class EchoDz:  # a model whose output is its DPM channel: plane k shows its own Δz
        # cross-modality, so refocusing does not pin the (here uniform) output to the input background
        config = ModelConfig.from_preset("echo", "tiny", depth=3, modality="widefield→confocal")
        receptive_field_px = 1

        def predict(self, x):
            return x[..., 1:2].astype(np.float32)

    fn = refocus_stack_fn(EchoDz(), -2, 2, 1.0)
    image = np.random.default_rng(0).normal(100, 10, (40, 48)).astype(np.float32)
    stack = fn(image)
    assert stack.shape == (5, 40, 48)
    medians = np.median(stack, axis=(1, 2))
    assert np.all(np.diff(medians) > 0)  # planes in order of increasing Δz
    with pytest.raises(DeepZError, match="range"):  # refused before any frame is processed
        refocus_stack_fn(EchoDz(), -15, 15, 1.0)


def test_calcium_transients_need_room_for_their_onsets():
    trace = calcium_transients(np.random.default_rng(0), 4, 2, 1.0)
    assert trace.shape == (4,) and trace.max() == pytest.approx(1.0) and trace.min() >= 0
    with pytest.raises(ValueError, match="at least 4 frames, got 3"):
        calcium_transients(np.random.default_rng(0), 3, 2, 1.0)
