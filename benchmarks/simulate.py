"""Simulator speed and memory: time and peak RSS to simulate a full paper-sized z-stack.

    python benchmarks/simulate.py                         # beads and nuclei, 81 × 1024 × 1024
    python benchmarks/simulate.py --samples filaments --size 512 --planes 41

Each sample runs in a fresh subprocess (so PSF caches start cold and peak RSS is its own):
``cold`` is the first ``simulate_stack`` call (PSF included), ``warm`` a second call with
another seed in the same process (the PSF cache hit, as in a training-data loop). Peak RSS is
the child's ``ru_maxrss`` (whole process: Python, numpy, scipy and all). ``stages`` splits the
cold call into PSF kernels / image formation / camera noise. Compare numbers from one run
only: the machine may be shared (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def child(sample: str, size: int, planes: int | None) -> dict:
    """Run in the subprocess: time the stages of one cold and one warm simulation."""
    from deepz_fiji.simulate import imaging, simulate_stack
    from deepz_fiji.simulate import stack as stack_module

    stages = {"kernels": 0.0, "render": 0.0, "noise": 0.0}

    def timed(module, name, stage):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                stages[stage] += time.perf_counter() - t0

        setattr(module, name, wrapper)

    timed(imaging, "kernel_bank", "kernels")
    timed(stack_module, "render", "render")
    timed(stack_module, "expose", "noise")
    t0 = time.perf_counter()
    result = simulate_stack(sample, size, seed=0, planes=planes)
    cold = time.perf_counter() - t0
    cold_stages = dict(stages)
    t0 = time.perf_counter()
    simulate_stack(sample, size, seed=1, planes=planes)
    warm = time.perf_counter() - t0
    return {
        "sample": sample, "shape": list(result.stack.shape), "objects": len(result.objects),
        "cold_s": cold, "warm_s": warm, "kernels_s": cold_stages["kernels"],
        "render_s": cold_stages["render"] - cold_stages["kernels"], "noise_s": cold_stages["noise"],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", nargs="+", default=["beads", "nuclei"])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--planes", type=int, default=None, help="default: the paper's 81 (−20 … +20 µm)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size, args.planes)))
        return 0
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s); numpy/scipy FFT, float32")
    header = f"{'sample':<14}{'stack (ZYX)':<18}{'objects':>8}{'cold s':>9}{'warm s':>9}" \
             f"{'kernels s':>11}{'render s':>10}{'noise s':>9}{'peak RSS GB':>13}"
    print(header)
    for sample in args.samples:
        cmd = [sys.executable, __file__, "--child", sample, "--size", str(args.size)]
        if args.planes:
            cmd += ["--planes", str(args.planes)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            print(f"{sample}: failed\n{proc.stderr}", file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        shape = "×".join(str(s) for s in r["shape"])
        print(f"{r['sample']:<14}{shape:<18}{r['objects']:>8}{r['cold_s']:>9.1f}{r['warm_s']:>9.1f}"
              f"{r['kernels_s']:>11.1f}{r['render_s']:>10.1f}{r['noise_s']:>9.1f}{r['peak_rss_gb']:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
