"""Files written by ``deepz track`` (all atomic, through :mod:`deepz_fiji.io`).

- ``labels.tif``: the neuron label volume (Z, Y, X; uint16, 0 = background, neuron i = i),
  calibrated (pixel size, z step); ``nuclei_median.tif``: the median nuclei volume it came from.
- ``neurons.csv``: one row per neuron: position (µm; z is the Δz from the input's focal
  plane), mask size, F0, std of ΔF and ΔF/F0, active or not, cluster (−1 if not active).
- ``traces.csv``: one row per neuron and frame: F, ΔF, ΔF/F0.
- ``neurons_by_depth.png``, ``traces_by_cluster.png``, ``similarity_by_cluster.png``.
- ``summary.json``: counts, settings, the spectrum and k, the file list.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepz_fiji import __version__
from deepz_fiji.activity.result import ActivityResult, frame_times, neuron_positions_um
from deepz_fiji.io import write_csv, write_image, write_json

log = logging.getLogger(__name__)


def _neuron_rows(result: ActivityResult) -> list[dict]:
    pos = neuron_positions_um(result)
    sizes = result.segmentation.sizes()
    clusters = result.cluster_of_neuron()
    d = result.delta
    return [{"neuron": i + 1, "x_um": round(float(pos[i, 0]), 4), "y_um": round(float(pos[i, 1]), 4),
             "z_um": round(float(pos[i, 2]), 4), "voxels": int(sizes[i]), "F0": float(d.f0[i]),
             "std_dF": float(d.df[i].std()), "std_dFF": float(np.std(d.dff[i])),
             "active": bool(result.active[i]), "cluster": int(clusters[i])}
            for i in range(result.segmentation.n_neurons)]


def _trace_rows(result: ActivityResult) -> list[dict]:
    times = frame_times(result)
    d = result.delta
    rows = []
    for i in range(result.traces.shape[0]):
        for t in range(result.traces.shape[1]):
            row = {"neuron": i + 1, "frame": t}
            if times is not None:
                row["time_s"] = round(float(times[t]), 6)
            row.update(F=float(result.traces[i, t]), dF=float(d.df[i, t]), dFF=float(d.dff[i, t]))
            rows.append(row)
    return rows


def summary(result: ActivityResult, files: dict[str, Path]) -> dict:
    """The JSON summary of a run."""
    seg, cl = result.segmentation, result.clustering
    opts = result.run_info.get("options", {})
    step = float(result.z_um[1] - result.z_um[0]) if len(result.z_um) > 1 else None
    return {
        "deepz_version": __version__,
        **{k: v for k, v in result.run_info.items() if k != "options"},
        "pixel_um": result.pixel_um,
        "frame_interval_s": result.frame_interval_s,
        "z_range_um": [float(result.z_um[0]), float(result.z_um[-1])], "z_step_um": step,
        "planes": len(result.z_um),
        "registration": result.registration.summary() if result.registration is not None else None,
        "neurons": seg.n_neurons, "nuclei_threshold": seg.threshold,
        "median_voxels_per_neuron": float(np.median(seg.sizes())) if seg.n_neurons else 0.0,
        "active_neurons": int(result.active.sum()), "active_selected_on": opts.get("select_on"),
        "active_std_threshold": result.active_threshold,
        "clusters": cl.k, "cluster_sizes": cl.sizes(),
        "eigenvalues": [float(v) for v in cl.eigenvalues[: opts.get("max_k", 10) + 1]],
        "options": opts,
        "files": {k: p.name for k, p in files.items()},
    }


def write_outputs(result: ActivityResult, out_dir: Path) -> dict[str, Path]:
    """Write every output of a run into ``out_dir``; returns {kind: path}."""
    import deepz_fiji.activity.figures as figures

    out_dir = Path(out_dir)
    step = float(result.z_um[1] - result.z_um[0]) if len(result.z_um) > 1 else None
    meta = {"deepz_description": "Deep-Z neuron labels (0 = background, neuron i = i)",
            "deepz_first_plane_dz_um": float(result.z_um[0])}
    files = {
        "labels": write_image(out_dir / "labels.tif", result.segmentation.labels, "ZYX", pixel_um=result.pixel_um,
                              z_step_um=step, metadata=meta),
        "nuclei_median": write_image(out_dir / "nuclei_median.tif", result.nuclei_median, "ZYX",
                                     pixel_um=result.pixel_um, z_step_um=step,
                                     metadata={**meta, "deepz_description": "median over time of the nuclei "
                                               "virtual stacks"}),
        "neurons": write_csv(out_dir / "neurons.csv", _neuron_rows(result)),
        "traces": write_csv(out_dir / "traces.csv", _trace_rows(result)),
    }
    files.update(figures.write_figures(result, out_dir))
    files["summary"] = out_dir / "summary.json"
    write_json(files["summary"], summary(result, files))
    return files
