"""Time the video commands on a simulated 2-channel worm video (issue: 512², 100 frames).

Writes the video with ``examples/worm_activity.py --skip-deepz`` (nuclei in channel 0,
activity in channel 1), then runs each command as a user would, in its own process, and
reports wall time and peak memory (the process's max RSS):

- ``deepz track`` (both channels refocused into virtual stacks, segmentation, traces, clusters)
- ``deepz refocus-video --track-focus`` (per-frame autofocus on the nuclei channel + refocusing)
- ``deepz autofocus`` on one frame of the nuclei channel

Scaling is measured, not assumed: the same commands on the first ``--short`` frames at the
default 0.5 µm step (41 planes) and at 1 µm (21 planes), then the full video at 0.5 µm.

    python benchmarks/video_commands.py --out /tmp/video-bench [--size 512] [--frames 100] [--short 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; (wall seconds, peak RSS in GB). Raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err.strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024**2  # KiB on Linux


def short_inputs(video: Path, n: int, folder: Path) -> tuple[Path, Path]:
    """The first ``n`` frames of a TCYX video and its first nuclei frame (YX), as calibrated TIFFs."""
    from deepz_fiji.io import read_image, write_image

    image = read_image(video)
    cal = image.calibration
    short, frame = folder / f"{video.stem}_{n}.tif", folder / f"{video.stem}-frame0.tif"
    write_image(short, image.data[:n], image.axes, pixel_um=cal.pixel_um, frame_interval_s=cal.frame_interval_s)
    write_image(frame, image.data[0, 0], "YX", pixel_um=cal.pixel_um)
    return short, frame


def commands(video: Path, frame: Path, out: Path, step: float, model: list[str]) -> dict[str, list[str]]:
    """The command lines of one run: ``video`` for the video commands, ``frame`` for autofocus."""
    deepz = [sys.executable, "-m", "deepz_fiji"]
    z = ["--range", "-10", "10", "--step", f"{step:g}"]
    return {
        "track": [*deepz, "track", str(video), "--nuclei-channel", "0", "--activity-channel", "1",
                  "-o", str(out / "track"), "--no-progress", *z, *model],
        "refocus-video --track-focus": [*deepz, "refocus-video", str(video), "--track-focus", "--focus-channel", "0",
                                        "-o", str(out / "refocused.tif"), "--no-progress", *z, *model],
        "autofocus (1 frame)": [*deepz, "autofocus", str(frame), *z, *model],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="working folder (video, outputs)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--neurons", type=int, default=80)
    parser.add_argument("--short", type=int, default=10, help="frames of the scaling runs (10)")
    parser.add_argument("--model", default=None, help="model name or folder (default: the shipped model)")
    parser.add_argument("--skip-full", action="store_true", help="only the short scaling runs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model = [] if args.model is None else ["--model", args.model]
    video = args.out / "worm_video.tif"
    if not video.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "examples" / "worm_activity.py"), "-o", str(args.out), "--size",
                        str(args.size), "--frames", str(args.frames), "--neurons", str(args.neurons), "--skip-deepz"],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"simulated {args.frames} frames × 2 channels of {args.size}² px in {time.perf_counter() - t0:.0f} s")
    short, frame = short_inputs(video, args.short, args.out)
    runs = [(args.short, 0.5, short), (args.short, 1.0, short)]
    if not args.skip_full:
        runs.append((args.frames, 0.5, video))
    rows = []
    print(f"{'command':<30} {'frames':>6} {'planes':>6} {'seconds':>8} {'s/frame':>8} {'peak GB':>8}", flush=True)
    for frames, step, path in runs:
        planes = int(round(20 / step)) + 1
        folder = args.out / f"runs-{frames}f-{planes}p"
        for name, cmd in commands(path, frame, folder, step, model).items():
            single = name.startswith("autofocus")
            if single and frames != args.short:
                continue  # one frame: the same at any video length
            seconds, gb = timed(cmd)
            n = 1 if single else frames
            rows.append((name, n, planes, seconds, seconds / n, gb))
            print(f"{name:<30} {n:>6} {planes:>6} {seconds:>8.1f} {seconds / n:>8.2f} {gb:>8.2f}", flush=True)
    marginal(rows, args.short, args.frames, args.size**2 / 1e6)
    return 0


#: Virtual-stack planes per frame and 41-plane pass: track refocuses both channels, --track-focus
#: makes two passes on the focus channel (see refocus_stack_fn) and then one plane per channel.
PLANES_PER_FRAME = {"track": 2 * 41, "refocus-video --track-focus": 2 * 41 + 2}


def marginal(rows: list[tuple], short: int, frames: int, mpx: float) -> None:
    """Per-frame cost without the fixed start-up (model loading, TF start): from the two video lengths
    at 41 planes, and the plane scaling from 21 against 41 planes at the short length."""
    by = {(r[0], r[1], r[2]): r[3] for r in rows}
    for name in sorted({r[0] for r in rows if not r[0].startswith("autofocus")}):
        if (name, frames, 41) in by and (name, short, 41) in by and frames > short:
            slope = (by[name, frames, 41] - by[name, short, 41]) / (frames - short)
            print(f"{name}: {slope:.2f} s per extra frame at 41 planes "
                  f"({PLANES_PER_FRAME[name] * mpx / slope:.2f} Mpx·planes/s of refocusing); fixed cost "
                  f"{by[name, short, 41] - short * slope:.1f} s")
        if (name, short, 21) in by and (name, short, 41) in by:
            print(f"{name}: {short} frames take {by[name, short, 41] / by[name, short, 21]:.2f}× as long with 41 "
                  "planes as with 21")


if __name__ == "__main__":
    raise SystemExit(main())
