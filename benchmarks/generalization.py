"""Measure a model on data our simulator did not make, against the input plane and the physics blur.

    python benchmarks/generalization.py --model widefield-20x-0.75na [--split selection|test]
        [--quick] [--out DIR] [--tta]

The data (``independent_data.py``): PSFs from MicroscPSF-Py (Gibson–Lanni, deeper emitters,
a thicker coverslip) and pyotf (pupil function with spherical aberration, another wavelength)
at the model's own optics, and one foreign objective; sparse beads, beads on a tilted plane and
on a cylinder, dense textured nuclei tissue 10–30 µm thick, filaments, and a real-morphology
volume (flowdec's neuron in the selection split, sdeconv's pollen in the test split); two
SNRs. For a widefield→confocal model (Deep-Z+) the truth is a confocal plane of the same optics
and every image is scored in normalised units. Tasks, in fractions R of the model's Δz range
(R = 10 µm for a ±10 µm model):

- ``defocus``: the in-focus plane to ±R/4, ±R/2, ±3R/4, ±R;
- ``refocus``: a snapshot R/2 out of focus (both sides) towards focus and beyond (R/4, R/2, 3R/4).

Each row is scored by :mod:`deepz_fiji.evaluate` (won: RMSE ≤ 0.8× the better baseline and
SSIM above both; harmless: RMSE ≤ 1.05×). Writes ``table.md``, ``rows.csv``, ``examples.png``
and ``summary.txt`` (the one-line summary, also printed) under ``--out``. Rendered data are
cached in ``$DEEPZ_CACHE`` (default ``~/.cache/deepz-fiji``)/generalization. Choose between
models on ``--split selection``; use ``--split test`` once, for the table you report.
``--record`` also writes the result into the model's folder as ``suite.json``, which ``deepz info``
prints (:mod:`deepz_fiji.evaluate.suite`); ``--record --from-rows CSV`` records an earlier run's
``rows.csv`` without measuring again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import independent_data as data  # noqa: E402

from deepz_fiji.evaluate import (  # noqa: E402
    Row,
    markdown_table,
    nominal_psf_plane,
    physics_blur,
    read_rows_csv,
    score_row,
    summary_line,
    write_rows_csv,
)
from deepz_fiji.model.config import OUTPUT_LEVELS  # noqa: E402

log = logging.getLogger("generalization")
CACHE_VERSION = 2
#: Excitation wavelength of the confocal truth for widefield→confocal models (FITC, as Deep-Z+'s data).
EXCITATION_UM = 0.488


def tasks(r_um: float, quick: bool) -> list[tuple[str, float, float]]:
    """(direction, input plane, Δz) in µm for a model with Δz range ±``r_um``."""
    fractions = (0.5, 1.0) if quick else (0.25, 0.5, 0.75, 1.0)
    out = [("defocus", 0.0, s * f * r_um) for f in fractions for s in (-1, 1)]
    towards = (0.5, 0.75) if quick else (0.25, 0.5, 0.75)
    sides = (-1,) if quick else (-1, 1)
    out += [("refocus", side * 0.5 * r_um, -side * f * r_um) for side in sides for f in towards]
    return out


def row_class(sample: str, direction: str) -> str:
    return "blur" if sample in data.THIN and direction == "defocus" else "learning"


class Renderer:
    """Renders (and caches) the noisy input planes and noiseless truth planes of one model's optics."""

    def __init__(self, config, split: str, quick: bool, cache: Path):
        self.config, self.split, self.quick = config, split, quick
        self.r_um = data.range_um(config)
        self.zs = self.r_um / 20.0
        self.field = 48 if quick else 128
        self.pad = 16 if quick else 32
        self.psf_half = 32 if quick else 64
        self.n_z = 81
        key = json.dumps([CACHE_VERSION, config.pixel_um, self.r_um, config.na, config.wavelength_um,
                          config.immersion_index, split, quick], sort_keys=True)
        self.cache = cache / hashlib.sha1(key.encode()).hexdigest()[:16]
        self._psfs: dict[str, np.ndarray] = {}
        self._objects: dict[str, np.ndarray] = {}

    def _index(self, z_um: float) -> int:
        return self.n_z // 2 + int(round(z_um / self.zs))

    def psf(self, optics: data.TestOptics, confocal: bool = False) -> np.ndarray:
        key = (optics.name, confocal)
        if key not in self._psfs:
            n_psf, size = 2 * (self.n_z + 30) + 1, 2 * self.psf_half + 1
            self._psfs[key] = (data.confocal_psf_stack(optics, self.config.pixel_um, self.zs, n_psf, size,
                                                       EXCITATION_UM) if confocal
                               else data.psf_stack(optics, self.config.pixel_um, self.zs, n_psf, size))
        return self._psfs[key]

    def object(self, sample: str, index: int) -> np.ndarray:
        if sample not in self._objects:
            split = data.SPLITS[self.split]
            self._objects[sample] = data.make_object(sample, split["seed0"] + 17 * index, self.field + 2 * self.pad,
                                                     self.n_z, split["volume"])
        return self._objects[sample]

    def planes(self, sample: str, s_index: int, optics: data.TestOptics,
               zs_um: list[float], confocal: bool = False) -> dict[float, np.ndarray]:
        """Noiseless planes (signal units) at ``zs_um``, cropped to the field, cached on disk
        (``confocal``: seen by a point-scanning confocal of the same optics)."""
        path = self.cache / f"{sample}-{optics.name}{'-confocal' if confocal else ''}.npz"
        if path.is_file():
            with np.load(path) as f:
                stored = {float(k): f[k] for k in f.files}
            if all(z in stored for z in zs_um):
                return stored
        density = self.object(sample, s_index)
        images = data.image_planes(density, self.psf(optics, confocal), [self._index(z) for z in zs_um])
        p, n = self.pad, self.field
        out = {z: images[self._index(z)][p: p + n, p: p + n] for z in zs_um}
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, **{repr(z): v for z, v in out.items()})
        os.replace(tmp, path)
        return out


def measure(model: str, split: str, quick: bool, tta: bool, cache: Path, progress=None,
            output_level: str | None = None, on_row=None, network_alone: bool = False
            ) -> tuple[list[Row], list[dict]]:
    """Every row of the suite for ``model``; ``on_row(row, images)`` (optional) sees each row's
    images (``input``, ``truth``, ``output``, ``blur``) and the loaded ``model``.
    ``network_alone``: without the model's physics blend."""
    from deepz_fiji.refocus import load_model, network_only, refocus_plane

    loaded = network_only(model) if network_alone else load_model(model)
    config = loaded.config
    if output_level:
        config.output_level = output_level
    confocal = config.modality != "widefield"  # widefield→confocal: the truth is a confocal plane
    render = Renderer(config, split, quick, cache)
    todo = tasks(render.r_um, quick)
    samples = ("beads", "tissue", "volume") if quick else data.SAMPLES
    optics_list = data.optics_for(config, quick)
    snrs = {"normal": data.SNRS["normal"]} if quick else data.SNRS
    rows, examples = [], []
    total = len(samples) * len(optics_list) * len(snrs) * len(todo)
    for s_index, sample in enumerate(samples):
        for o_index, optics in enumerate(optics_list):
            zs = sorted({t[1] for t in todo} | {t[1] + t[2] for t in todo})
            planes = render.planes(sample, s_index, optics, zs)
            truths = render.planes(sample, s_index, optics, zs, confocal=True) if confocal else planes
            scale_ref = float(np.percentile(planes[0.0], 99.9)) or 1.0
            for n_index, (snr, photons) in enumerate(snrs.items()):
                camera = data.Camera(photons)
                scale = photons / scale_ref
                rng = np.random.default_rng([data.SPLITS[split]["seed0"], s_index, o_index, n_index])
                inputs = {z: camera.record(planes[z], scale, rng) for z in sorted({t[1] for t in todo})}
                for direction, z_in, dz in todo:
                    image = inputs[z_in]
                    truth = camera.expected(truths[z_in + dz], scale)
                    output = refocus_plane(image, dz, loaded, tta=tta)
                    blur = physics_blur(image, nominal_psf_plane(config, dz))
                    if confocal:  # different intensity scales: compare in normalised units (SPEC §4.3)
                        image, output, blur, truth = _normalised(image, output, blur, truth, truths[0.0], camera,
                                                                 scale)
                    rows.append(score_row(output, truth, image, blur, model=config.name, split=split, sample=sample,
                                          optics=optics.name, snr=snr, direction=direction,
                                          cls=row_class(sample, direction), input_um=z_in, dz_um=dz))
                    if on_row is not None:
                        on_row(rows[-1], {"input": image, "truth": truth, "output": output, "blur": blur,
                                          "model": loaded})
                    if o_index == 0 and snr == "normal" and abs(abs(dz) - 0.5 * render.r_um) < 1e-6 \
                            and (dz > 0) and (direction == "refocus") == (z_in < 0):  # one of each direction
                        examples.append({"row": rows[-1], "input": image, "truth": truth, "output": output,
                                         "blur": blur})
                    if progress:
                        progress(len(rows), total)
    return rows, examples


def _normalised(image, output, blur, truth, focus_truth, camera, scale):
    """The wide-field images on the input's own constants, the confocal truth on its in-focus plane's."""
    from deepz_fiji.data import estimate_normalization, normalize

    own = estimate_normalization(image)
    truth_params = estimate_normalization(camera.expected(focus_truth, scale))
    return (normalize(image, own), normalize(output, own), normalize(blur, own), normalize(truth, truth_params))


def plot_examples(examples: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ("input", "truth", "output", "blur")
    fig, axes = plt.subplots(len(examples), len(cols), figsize=(2.2 * len(cols), 2.2 * len(examples)), squeeze=False)
    for i, ex in enumerate(examples):
        row = ex["row"]
        lo, hi = np.percentile(ex["truth"], [0.5, 99.8])
        for j, name in enumerate(cols):
            ax = axes[i, j]
            ax.imshow(ex[name], cmap="gray", vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=9)
        axes[i, 0].set_ylabel(f"{row.sample}\n{row.direction} {row.input_um:+g}{row.dz_um:+g} µm\n"
                              f"ratio {row.ratio:.2f}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: the shipped default)")
    parser.add_argument("--checkpoint", default=None, metavar="RUN",
                        help="judge the best generator so far of a training run (its --out folder) instead")
    parser.add_argument("--iteration", type=int, default=None, metavar="N",
                        help="with --checkpoint: the generator the run kept at iteration N (deepz train --snapshots)")
    parser.add_argument("--split", choices=sorted(data.SPLITS), default="selection")
    parser.add_argument("--quick", action="store_true", help="a small version for tests (about a minute)")
    parser.add_argument("--tta", action="store_true", help="refocus with test-time augmentation")
    parser.add_argument("--output-level", choices=OUTPUT_LEVELS,
                        help="override the model config's output_level (to compare conventions)")
    parser.add_argument("--out", type=Path, default=Path("generalization-out"))
    parser.add_argument("--cache", type=Path,
                        default=Path(os.environ.get("DEEPZ_CACHE", "~/.cache/deepz-fiji")).expanduser() / "generalization")
    parser.add_argument("--record", action="store_true",
                        help="also write the result as suite.json into the model's folder (deepz info prints it)")
    parser.add_argument("--from-rows", type=Path, default=None, metavar="CSV",
                        help="with --record: record an earlier run's rows.csv instead of measuring")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if args.iteration is not None and not args.checkpoint:
        parser.error("--iteration needs --checkpoint RUN (the training run that kept the generator)")
    if args.record and (args.checkpoint or args.quick or args.tta or args.output_level):
        parser.error("--record writes the model's own result: leave out --checkpoint, --quick, --tta and "
                     "--output-level")
    if args.from_rows:
        if not args.record:
            parser.error("--from-rows is for --record (record an earlier run's rows.csv)")
        rows = read_rows_csv(args.from_rows)
        print(f"recorded {record(args.model or rows[0].model, rows)}")
        return 0
    from tqdm import tqdm

    if args.checkpoint:
        import tempfile

        from deepz_fiji.train.checkpoint import export_best

        exported = tempfile.TemporaryDirectory(prefix="deepz-best-")
        args.model = str(export_best(args.checkpoint, Path(exported.name) / "best", args.iteration))
    started = time.perf_counter()
    with tqdm(desc="rows", disable=None, leave=False) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        rows, examples = measure(args.model, args.split, args.quick, args.tta, args.cache, progress,
                                 args.output_level)
    seconds = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    model = rows[0].model
    line = summary_line(rows)
    level = f", output level {args.output_level}" if args.output_level else ""
    header = (f"# {model} on independent data, {args.split} split{' (quick)' if args.quick else ''}"
              f"{', --tta' if args.tta else ''}{level}\n\n{line}\n\n")
    by_sample = markdown_table(rows, group=("sample", "direction"))
    by_sample = by_sample[by_sample.index("\n\n") + 2:]  # the class counts are printed once, below
    (args.out / "table.md").write_text(header + markdown_table(rows) + "\n" + by_sample, encoding="utf-8")
    write_rows_csv(rows, args.out / "rows.csv")
    plot_examples(examples, args.out / "examples.png", f"{model}, {args.split} split: input, truth, output, blur")
    (args.out / "summary.txt").write_text(line + "\n", encoding="utf-8")
    print(f"{model} ({args.split}): {line}")
    print(f"{len(rows)} rows in {seconds:.0f} s; wrote {args.out}/table.md, rows.csv, examples.png, summary.txt")
    if args.record:
        print(f"recorded {record(args.model, rows)}")
    return 0


def record(model: str | None, rows: list) -> Path:
    """Write ``rows`` as the suite record (``suite.json``) of ``model``'s folder."""
    from deepz_fiji.evaluate.suite import write_suite_record
    from deepz_fiji.model.folder import resolve_model_path

    command = f"python benchmarks/generalization.py --model {rows[0].model} --split {rows[0].split}"
    return write_suite_record(resolve_model_path(model), rows, command)


if __name__ == "__main__":
    sys.exit(main())
