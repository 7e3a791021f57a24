"""`deepz batch` and `deepz refocus-video` on a real local Dask cluster of 2 worker processes (deepz_fiji.dask_cluster)."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from deepz_fiji.fiji.batch import SUMMARY_NAME, BatchRequest, batch_refocus
from deepz_fiji.io import read_image, write_image

pytest.importorskip("distributed", reason="pip install -e '.[dask]'")
pytest.importorskip("tensorflow")
pytestmark = pytest.mark.slow

REQUEST = BatchRequest(stack=(-1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def client():
    from deepz_fiji.dask_cluster import connect

    with connect(workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def model(make_tiny_model):
    return make_tiny_model("tiny-dask", pixel_um=0.5)


def make_folder(folder, n, shape=(96, 112)):
    """``n`` fluorescence-like uint16 images (blurred spots on a background)."""
    from scipy import ndimage as ndi

    folder.mkdir()
    for i in range(n):
        rng = np.random.default_rng(i)
        spots = (rng.random(shape) > 0.995) * 30000.0
        image = ndi.gaussian_filter(spots, 1.5) + 100 + rng.normal(0, 5, shape)
        write_image(folder / f"img{i}.tif", image.clip(0, 65535).astype(np.uint16), "YX", pixel_um=0.5)
    return folder


def assert_same_outputs(a, b, names):
    for name in names:
        x, y = read_image(a / name).data, read_image(b / name).data
        assert x.shape == y.shape
        assert np.abs(x - y).max() <= 1e-6 * float(np.ptp(y)), name


def test_cluster_batch_equals_the_in_process_batch(client, model, tmp_path):
    src = make_folder(tmp_path / "in", 6)
    from deepz_fiji.dask_cluster import dask_batch_refocus

    rows = dask_batch_refocus(src, tmp_path / "dask", REQUEST, client, model=model)
    local = batch_refocus(src, tmp_path / "local", REQUEST, model=model)
    names = [f"img{i}_deepz.tif" for i in range(6)]
    assert [r["status"] for r in rows] == ["done"] * 6 == [r["status"] for r in local]
    assert [r["input"] for r in rows] == [r["input"] for r in local], "summary in file order"
    assert len({r["worker"] for r in rows}) == 2, "both workers took images"
    assert_same_outputs(tmp_path / "dask", tmp_path / "local", names)
    assert read_image(tmp_path / "dask" / names[0]).calibration.z_step_um == pytest.approx(1.0)
    again = dask_batch_refocus(src, tmp_path / "dask", REQUEST, client, model=model)
    assert [r["status"] for r in again] == ["skipped"] * 6


def test_a_worker_killed_mid_batch_loses_nothing(client, model, tmp_path):
    from deepz_fiji.dask_cluster import dask_batch_refocus

    src = make_folder(tmp_path / "in", 10, shape=(256, 256))
    pids = client.run(os.getpid)
    killed = []

    def progress(done, total):
        if not killed:  # the other tasks are still queued or running on both workers
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    rows = dask_batch_refocus(src, tmp_path / "dask", REQUEST, client, model=model, progress=progress)
    assert killed
    assert [r["status"] for r in rows] == ["done"] * 10, [r["error"] for r in rows]
    batch_refocus(src, tmp_path / "local", REQUEST, model=model)
    assert_same_outputs(tmp_path / "dask", tmp_path / "local", [f"img{i}_deepz.tif" for i in range(10)])
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == sorted(
        [f"img{i}_deepz.tif" for i in range(10)] + [SUMMARY_NAME]), "no temporary file left behind"


def test_cli_on_a_local_cluster_reports_a_corrupt_file(run_cli, model, tmp_path):
    src = make_folder(tmp_path / "in", 2)
    (src / "broken.tif").write_bytes(b"not a tiff")
    proc = run_cli("batch", src, tmp_path / "out", "--dz", "1", "--model", model, "--workers", "2", "--no-progress")
    assert proc.returncode == 1, proc.stderr
    assert "Dask cluster: 2 workers, dashboard http" in proc.stdout
    assert "FAILED broken.tif" in proc.stdout and "2 done, 0 skipped (already there), 1 failed" in proc.stdout
    assert (tmp_path / "out" / "img1_deepz.tif").is_file() and not (tmp_path / "out" / "broken_deepz.tif").exists()
    bad = run_cli("batch", src, tmp_path / "out2", "--dz", "1", "--workers", "2", "--reader", "imagej")
    assert bad.returncode == 2 and "read TIFFs with tifffile on the workers" in bad.stderr
    bad = run_cli("batch", src, tmp_path / "out3", "--dz", "1", "--scheduler", "tcp://127.0.0.1:9")
    assert bad.returncode == 2 and "cannot reach the Dask scheduler" in bad.stderr


@pytest.mark.parametrize("track", [False, True])
def test_a_video_in_frame_chunks_equals_refocus_video_in_process(client, model, tmp_path, track):
    from scipy import ndimage as ndi

    from deepz_fiji.activity.drift import refocus_video_file
    from deepz_fiji.dask_cluster import dask_refocus_video

    rng = np.random.default_rng(3)
    frames = np.stack([ndi.gaussian_filter((rng.random((64, 80)) > 0.995) * 30000.0, 1.5) + 100
                       + rng.normal(0, 5, (64, 80)) for _ in range(20)])
    video = write_image(tmp_path / "video.tif", frames.clip(0).astype(np.uint16), "TYX", pixel_um=0.5,
                        frame_interval_s=0.05)
    kw = dict(dz_um=None if track else 1.0, track=track, model=model, range_um=(-2.0, 2.0), step_um=1.0)
    chunks = []
    dz = dask_refocus_video(video, tmp_path / "dask.tif", client, chunk=6, progress=lambda d, t: chunks.append(t),
                            **kw)
    want = refocus_video_file(video, tmp_path / "local.tif", **kw)
    assert chunks and chunks[-1] == 4, "20 frames in chunks of 6"
    np.testing.assert_allclose(dz, want, atol=1e-5)
    got, ref = read_image(tmp_path / "dask.tif"), read_image(tmp_path / "local.tif")
    assert got.axes == ref.axes == "TYX" and got.data.shape == (20, 64, 80)
    assert got.calibration.frame_interval_s == pytest.approx(0.05) and got.calibration.pixel_um == pytest.approx(0.5)
    assert np.abs(got.data - ref.data).max() <= 1e-6 * float(np.ptp(ref.data))


def test_track_refocuses_on_the_cluster_and_gives_the_same_stacks(run_cli, model, tmp_path):
    from scipy import ndimage as ndi

    rng = np.random.default_rng(7)

    def spots(seed):
        r = np.random.default_rng(seed)
        return (ndi.gaussian_filter((r.random((40, 48)) > 0.98) * 20000.0, 1.0) + 100 + r.normal(0, 5, (40, 48)))

    video = np.stack([[spots(1), spots(2 + t) * rng.uniform(0.8, 1.2)] for t in range(5)]).clip(0).astype(np.uint16)
    write_image(tmp_path / "video.tif", video, "TCYX", pixel_um=0.5, frame_interval_s=0.25)
    base = ["track", "video.tif", "--nuclei-channel", "0", "--activity-channel", "1", "--model", model,
            "--range", "-1", "1", "--step", "1", "--no-register", "--no-progress"]
    cluster = run_cli(*base, "-o", "dask", "--workers", "2", "--chunk", "3")
    assert cluster.returncode == 0, cluster.stderr
    assert "Dask cluster: 2 workers" in cluster.stdout
    local = run_cli(*base, "-o", "local")
    assert local.returncode == 0, local.stderr
    cached = sorted((tmp_path / "local" / "cache").glob("stack_*.npy"))
    assert len(cached) == 10
    for path in cached:
        a, b = np.load(path), np.load(tmp_path / "dask" / "cache" / path.name)
        assert np.abs(a - b).max() <= 1e-6 * float(np.ptp(a)), path.name
    traces = [np.genfromtxt(tmp_path / run / "traces.csv", delimiter=",", skip_header=1) for run in ("dask", "local")]
    assert traces[0].shape == traces[1].shape and traces[0].size > 0
    np.testing.assert_allclose(traces[0], traces[1], rtol=1e-4, atol=1e-3)
