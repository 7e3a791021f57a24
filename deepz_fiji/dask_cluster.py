"""``deepz batch`` on a Dask cluster: a running scheduler (``--scheduler``) or a local one (``--workers``).

The same per-file work as the in-process batch (:func:`deepz_fiji.fiji.batch.refocus_file`),
one task per image, with the same guarantees: outputs written atomically, finished outputs
skipped on a re-run, a failing file reported in the summary while the rest go on. A task whose
worker dies is run again on another worker (Dask reschedules it; a temporary file the dead
worker left is removed at the end), so nothing is lost and nothing is half-written.

Each worker process loads the model once (:func:`_worker_model`, cached per process) and runs
TensorFlow with ``cores ÷ workers on its host`` threads. Images are read with tifffile on the
workers (ImageJ readers need a JVM per worker and are not offered here). dask is imported only
in this module: ``pip install -e ".[dask]"``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.batch import BatchRequest, finish_batch, output_path, plan_batch, refocus_file

log = logging.getLogger(__name__)

#: A worker dying this many times on one image marks it failed (Dask's own limit is 3).
ALLOWED_FAILURES = 3


def require_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise DeepZError("running on a Dask cluster needs dask and distributed; "
                         "pip install -e '.[dask]' (or pip install 'dask[distributed]')") from exc
    return distributed


@functools.lru_cache(maxsize=4)
def _worker_model(model: str | None, tf_threads: int) -> Any:
    """The model, loaded once per worker process (TensorFlow's thread pools set before it starts)."""
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(tf_threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    from deepz_fiji.fiji.batch import load_batch_model
    from deepz_fiji.model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    return load_batch_model(model)


def _task(source: str, target: str, request: BatchRequest, model: str | None,
          per_host: tuple[tuple[str, int], ...], overwrite: bool) -> dict[str, Any]:
    """One image on a worker: the summary row of :func:`refocus_file` (with the worker's address)."""
    try:
        loaded = _worker_model(model, _tf_threads(per_host))
    except DeepZError as exc:
        return {"input": Path(source).name, "output": Path(target).name, "status": "failed", "seconds": "",
                "error": str(exc)}
    row = refocus_file(Path(source), Path(target), request, loaded, overwrite=overwrite)
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        row["worker"] = get_worker().address
    return row


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler``, or to a new local cluster of ``workers`` processes."""
    distributed = require_distributed()
    if not log.isEnabledFor(logging.INFO):  # quiet by default, as the rest of deepz (-v shows Dask's log)
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if (scheduler is None) == (workers is None):
        raise DeepZError("give either --scheduler ADDRESS (a running dask scheduler) or --workers N (a local cluster)")
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except OSError as exc:
            raise DeepZError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it (dask scheduler) "
                             "or check the address") from exc
        with client:
            _announce(client)
            yield client
        return
    if workers < 1:
        raise DeepZError(f"--workers must be at least 1, got {workers}")
    threads = max(1, (os.cpu_count() or 1) // workers)
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR,
                                       env={"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1",
                                            "TF_CPP_MIN_LOG_LEVEL": "3"})
    with cluster, distributed.Client(cluster) as client:
        _announce(client)
        yield client


def _announce(client: Any) -> None:
    link = getattr(client, "dashboard_link", None)
    print(f"Dask cluster: {len(client.scheduler_info().get('workers', {}))} workers"
          + (f", dashboard {link}" if link else ""))


def workers_per_host(client: Any) -> tuple[tuple[str, int], ...]:
    """(host, worker threads on it) for every host of the cluster, for :func:`_tf_threads`."""
    per_host: dict[str, int] = {}
    for worker in client.scheduler_info().get("workers", {}).values():
        host = worker.get("host", "?")
        per_host[host] = per_host.get(host, 0) + int(worker.get("nthreads", 1))
    return tuple(sorted(per_host.items()))


def _tf_threads(per_host: tuple[tuple[str, int], ...]) -> int:
    """On a worker: its host's cores ÷ the worker threads sharing them (at least 1)."""
    from distributed import get_worker
    from distributed.comm import get_address_host

    sharing = dict(per_host).get(get_address_host(get_worker().address), 1)
    return max(1, (os.cpu_count() or 1) // max(sharing, 1))


def _model_argument(model: str | os.PathLike | None) -> str | None:
    """A model name, or a folder as an absolute path (workers may start in another directory)."""
    if model is None:
        return None
    return str(Path(model).resolve()) if Path(model).exists() else str(model)


def dask_batch_refocus(
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    request: BatchRequest,
    client: Any,
    *,
    model: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """:func:`deepz_fiji.fiji.batch.batch_refocus` with one Dask task per image on ``client``'s cluster.

    Returns the summary rows in file order (also written as ``deepz_batch.csv``).
    """
    distributed = require_distributed()
    out_dir = Path(out_dir).resolve()
    files = plan_batch(in_dir, out_dir)
    model_arg = _model_argument(model)
    rows: list[dict[str, Any] | None] = [None] * len(files)
    # what to skip is decided here, once: a task re-run after its worker died mid-write then
    # redoes its image (atomically) instead of calling that image "skipped"
    todo = [i for i, f in enumerate(files) if overwrite or not output_path(out_dir, f).exists()]
    for index in set(range(len(files))) - set(todo):
        rows[index] = refocus_file(files[index], output_path(out_dir, files[index]), request, None)
    if todo:
        from deepz_fiji.fiji.batch import load_batch_model

        load_batch_model(model_arg)  # a bad model stops the batch here, not once per image
    per_host = workers_per_host(client)
    futures = {client.submit(_task, str(files[i].resolve()), str(output_path(out_dir, files[i])), request, model_arg,
                             per_host, True, pure=False, retries=1, key=f"deepz-batch-{i}-{files[i].name}"): i
               for i in todo}
    skipped = len(files) - len(todo)
    if progress is not None and skipped:
        progress(skipped, len(files))
    for done, future in enumerate(distributed.as_completed(futures), start=skipped + 1):
        index = futures[future]
        source = files[index]
        try:
            rows[index] = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. its workers died ALLOWED_FAILURES times
            rows[index] = {"input": source.name, "output": output_path(out_dir, source).name, "status": "failed",
                           "seconds": "", "error": f"{type(exc).__name__}: {exc}"}
        if progress is not None:
            progress(done, len(files))
    final = [row for row in rows if row is not None]
    finish_batch(out_dir, final)
    return final


def _video_task(frames: Any, axes: str, dz_um: float | None, model: str | None,
                per_host: tuple[tuple[str, int], ...],
                range_um: tuple[float, float], step_um: float, renormalize: bool, focus_channel: int,
                method: str, refocus_kw: dict) -> tuple[Any, Any]:
    """One chunk of frames on a worker: (Δz per frame, refocused frames)."""
    from deepz_fiji.activity.drift import refocus_video_frames
    from deepz_fiji.activity.stacks import refocus_stack_fn

    stack_fn = refocus_stack_fn(_worker_model(model, _tf_threads(per_host)), *range_um, step_um, renormalize=renormalize,
                                network_alone=True, **refocus_kw)
    return refocus_video_frames(frames, axes, stack_fn, dz_um=dz_um, focus_channel=focus_channel, method=method,
                                **refocus_kw)


def dask_refocus_video(
    input_path: str | os.PathLike,
    output: str | os.PathLike,
    client: Any,
    *,
    dz_um: float | None = None,
    track: bool = False,
    model: str | os.PathLike | None = None,
    range_um: tuple[float, float] = (-10.0, 10.0),
    step_um: float = 0.5,
    focus_channel: int = 0,
    method: str = "normvar",
    focus_csv: str | os.PathLike | None = None,
    pixel_um: float | None = None,
    chunk: int = 8,
    progress: Callable[[int, int], None] | None = None,
    renormalize: bool = True,
    **refocus_kw: Any,
) -> Any:
    """:func:`deepz_fiji.activity.drift.refocus_video_file` in chunks of ``chunk`` frames on ``client``'s cluster.

    The chunks come back in any order and are assembled in frame order into one calibrated
    output, written atomically once every chunk is done. Returns the Δz per frame (T,).
    """
    import numpy as np

    from deepz_fiji.activity.drift import check_video_request, read_video, write_video
    from deepz_fiji.activity.stacks import refocus_stack_fn
    from deepz_fiji.refocus.files import check_output

    distributed = require_distributed()
    check_video_request(dz_um, track)
    check_output(output)
    if chunk < 1:
        raise DeepZError(f"--chunk must be at least 1 frame, got {chunk}")
    image, data, axes = read_video(input_path)
    model_arg = _model_argument(model)
    loaded = refocus_stack_fn(model_arg, *range_um, step_um, **refocus_kw).model  # checks model and range here
    per_host = workers_per_host(client)
    starts = list(range(0, data.shape[0], chunk))
    futures = {client.submit(_video_task, data[s: s + chunk], axes, None if track else dz_um, model_arg, per_host,
                             tuple(range_um), step_um, renormalize, focus_channel, method, refocus_kw, pure=False,
                             retries=1, key=f"deepz-video-{s}"): i for i, s in enumerate(starts)}
    parts: list[Any] = [None] * len(starts)
    for done, future in enumerate(distributed.as_completed(futures), start=1):
        parts[futures[future]] = future.result()  # a chunk that cannot be done stops the video: no output
        if progress is not None:
            progress(done, len(starts))
    dz = np.concatenate([p[0] for p in parts])
    out = np.concatenate([p[1] for p in parts])
    write_video(output, out, axes, image, loaded, dz, track=track, pixel_um=pixel_um, focus_csv=focus_csv)
    return dz


def _stacks_task(frames: list[Any], model: str | None, per_host: tuple[tuple[str, int], ...],
                 z_range: tuple[float, float, float],
                 refocus_kw: dict) -> list[Any]:
    """Virtual stacks of a chunk of frames on a worker."""
    from deepz_fiji.activity.stacks import refocus_stack_fn

    stack_fn = refocus_stack_fn(_worker_model(model, _tf_threads(per_host)), *z_range, **refocus_kw)
    return [stack_fn(frame) for frame in frames]


def cluster_stack_many(client: Any, model: str | os.PathLike | None, z_range: tuple[float, float, float], *,
                       chunk: int = 8, **refocus_kw: Any) -> Callable[[list[Any]], Iterator[tuple[int, Any]]]:
    """A ``stack_many`` for :func:`deepz_fiji.activity.track_activity`: chunks of frames as Dask tasks."""
    distributed = require_distributed()
    model_arg = _model_argument(model)

    def stack_many(frames: list[Any]) -> Iterator[tuple[int, Any]]:
        per_host = workers_per_host(client)
        futures = {client.submit(_stacks_task, frames[s: s + chunk], model_arg, per_host, tuple(z_range), refocus_kw,
                                 pure=False, retries=1, key=f"deepz-stacks-{s}"): s
                   for s in range(0, len(frames), chunk)}
        for future in distributed.as_completed(futures):
            for offset, stack in enumerate(future.result()):
                yield futures[future] + offset, stack

    return stack_many
