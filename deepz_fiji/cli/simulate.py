"""``deepz simulate``: write a simulated, calibrated fluorescence z-stack (plus truth, positions, preview)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

SAMPLE_NAMES = ("beads", "plane-beads", "tilted-beads", "cylinder-beads", "nuclei", "filaments")


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or HEIGHTxWIDTH pixels, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"size must be N or HEIGHTxWIDTH pixels, got {text!r}")
    return values[0], values[1]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a calibrated fluorescence z-stack (beads, worm nuclei, filaments) with noise",
        description=(
            "Simulate a wide-field (or confocal) z-stack with a physical PSF (psfmodels, index mismatch "
            "included), sCMOS noise and 16-bit output; write it as a calibrated ImageJ hyperstack, with an "
            "optional noiseless truth, object positions (CSV) and a PNG preview (x-y at focus over an x-z "
            "section). Defaults: the paper's 20x/0.75 air objective, 0.325 um pixels, -20...+20 um in 0.5 um "
            "steps. Prints the PSF's FWHM and its axial asymmetry."
        ),
    )
    p.add_argument("--sample", choices=SAMPLE_NAMES, default="beads", help="what to image (default beads)")
    p.add_argument("--size", type=_size, default=(512, 512), help="N or HEIGHTxWIDTH pixels (default 512)")
    p.add_argument("--out", type=Path, required=True, help="output TIFF (uint16 ZYX hyperstack)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same objects and noise (default 0)")
    p.add_argument("--truth", type=Path, help="also write the noiseless expected image (float32 ADU) here")
    p.add_argument("--positions", type=Path, help="also write the objects' true positions (CSV, um) here")
    p.add_argument("--preview", type=Path, help="preview PNG (default: next to --out, same name, .png)")
    p.add_argument("--no-preview", action="store_true", help="do not write the preview PNG")
    p.add_argument("--preset", default="paper-20x-0.75-air", help="optics preset (default paper-20x-0.75-air)")
    p.add_argument("--modality", choices=("widefield", "confocal"), default="widefield")
    p.add_argument("--pinhole-au", type=float, default=1.0, help="confocal pinhole in Airy units (default 1)")
    z = p.add_argument_group("planes")
    z.add_argument("--planes", type=int, help="number of planes, centred on z = 0")
    z.add_argument("--z-range", type=float, nargs=2, metavar=("START", "STOP"), help="first and last plane (um)")
    z.add_argument("--z-step", type=float, help="plane spacing in um (default: the preset's)")
    s = p.add_argument_group("sample and camera")
    s.add_argument("--n-objects", type=int, help="number of objects (default: a random density per seed)")
    s.add_argument("--tilt-deg", type=float, help="tilted-beads: tilt about the y axis (default 1.5)")
    s.add_argument("--radius-um", type=float, help="cylinder-beads: tube radius (default 3600); nuclei: worm radius (15)")
    s.add_argument("--offset-um", type=float, help="plane/tilted/cylinder beads: z of the surface (apex)")
    s.add_argument("--photons", type=float, help="photo-electrons per object per plane (filaments: per um)")
    s.add_argument("--brightness-cv", type=float, help="object-to-object brightness variation (log-normal CV)")
    s.add_argument("--background", type=float, default=50.0, help="background photo-electrons per pixel (50)")
    s.add_argument("--read-noise", type=float, default=1.6, help="read noise, e- rms (1.6)")
    s.add_argument("--offset", type=float, default=100.0, help="camera offset, ADU (100)")
    s.add_argument("--gain", type=float, default=2.17, help="camera gain, ADU per photo-electron (2.17)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from deepz_fiji.errors import DeepZError
    from deepz_fiji.simulate import Optics, simulate_stack

    preview_path = None if args.no_preview else (args.preview or args.out.with_suffix(".png"))
    for path in (args.out, args.truth, args.positions, preview_path):
        if path is not None and not path.parent.exists():
            raise DeepZError(f"output folder {path.parent} does not exist; create it first or choose another path")
    optics = Optics.preset(args.preset)
    if args.z_step is not None:
        optics = optics.replace(z_step_um=args.z_step)
    bar = tqdm(total=1000, desc="simulate", disable=not sys.stderr.isatty(), leave=False,
               bar_format="{l_bar}{bar}| {elapsed}<{remaining}")

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    try:
        result = simulate_stack(
            args.sample, args.size, optics=optics, seed=args.seed, n_objects=args.n_objects, planes=args.planes,
            z_range_um=args.z_range, modality=args.modality, pinhole_au=args.pinhole_au, tilt_deg=args.tilt_deg,
            radius_um=args.radius_um, offset_um=args.offset_um, photons=args.photons,
            brightness_cv=args.brightness_cv, background=args.background, read_noise=args.read_noise,
            offset=args.offset, gain=args.gain, progress=progress,
        )
    finally:
        bar.close()
    _write(result, args, preview_path)
    _report_psf(result)
    return 0


def _write(result, args: argparse.Namespace, preview_path: Path | None) -> None:
    from deepz_fiji.io import atomic_path, write_csv, write_image

    meta = result.metadata()
    cal = {"pixel_um": result.pixel_um, "z_step_um": result.z_step_um}
    write_image(args.out, result.stack, "ZYX", metadata=meta, **cal)
    nz, ny, nx = result.stack.shape
    print(f"wrote {args.out}: {nz} planes x {ny} x {nx} px uint16, {result.pixel_um:g} um pixels, "
          f"{result.z_step_um:g} um steps, z {result.z_um[0]:+g} ... {result.z_um[-1]:+g} um, "
          f"{len(result.objects)} objects ({result.sample})")
    if args.truth is not None:
        write_image(args.truth, result.truth, "ZYX", metadata=dict(meta, noiseless="true"), **cal)
        print(f"wrote {args.truth}: noiseless expected image (float32 ADU, offset included)")
    if args.positions is not None:
        if result.objects:
            write_csv(args.positions, result.objects)
        else:
            _empty_csv(args.positions)
        print(f"wrote {args.positions}: {len(result.objects)} object positions (um; z_plane counts from plane 0)")
    if preview_path is not None:
        from matplotlib import image as mpimg

        from deepz_fiji.simulate.preview import preview

        picture, plane, row = preview(result.stack, result.z_um, result.pixel_um, result.z_step_um)
        with atomic_path(preview_path) as tmp:
            mpimg.imsave(tmp, picture, cmap="gray", vmin=0, vmax=255, format="png")
        print(f"wrote {preview_path}: x-y at z = {result.z_um[plane]:+g} um over the x-z section at y = {row} px")


def _empty_csv(path: Path) -> None:
    from deepz_fiji.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text("kind,x_um,y_um,z_um,size_um,photons,x_px,y_px,z_plane\n", encoding="utf-8")


def _report_psf(result) -> None:
    from deepz_fiji.simulate import axial_asymmetry, confocal_psf, psf_fwhm, widefield_psf

    optics = result.optics
    pixel = optics.lateral_resolution_um / 8
    step = optics.axial_scale_um / 10
    if result.modality == "confocal":
        psf = confocal_psf(optics, result.pinhole_au, pixel_um=pixel, z_step_um=step, nxy=81, nz=81)
    else:
        psf = widefield_psf(optics, pixel_um=pixel, z_step_um=step, nxy=81, nz=81)
    lateral, axial = psf_fwhm(psf, pixel, step)
    print(f"PSF ({optics.name}, {result.modality}): lateral FWHM at focus {lateral:.3f} um "
          f"(0.51 lambda/NA = {optics.lateral_resolution_um:.3f} um), axial FWHM {axial:.2f} um")
    asym = axial_asymmetry(optics, 2.0, modality=result.modality, pinhole_au=result.pinhole_au or 1.0)
    print(f"PSF asymmetry: profiles 2 um above (towards the objective) and 2 um below focus differ by "
          f"{100 * asym.relative_difference:.0f} % (on-axis intensity below/above = {asym.centre_ratio:.2f})")
