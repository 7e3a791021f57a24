"""Every row of two suite runs side by side (``generalization.py``'s rows.csv), e.g. before and after a change.

    python benchmarks/compare_rows.py BEFORE/rows.csv AFTER/rows.csv [-o both.csv]

Prints, per sample, how many rows got better and how many got worse by more than 5 % (output
RMSE), and the won / harmless counts of both runs; ``-o`` writes every row's RMSE before and after.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from deepz_fiji.evaluate import read_rows_csv, summary_line
from deepz_fiji.io import atomic_path

KEY = ("sample", "optics", "snr", "direction", "input_um", "dz_um")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("-o", "--out", type=Path, help="CSV of every row's output RMSE before and after")
    args = parser.parse_args(argv)
    before = {tuple(getattr(r, k) for k in KEY): r for r in read_rows_csv(args.before)}
    after = {tuple(getattr(r, k) for k in KEY): r for r in read_rows_csv(args.after)}
    if set(before) != set(after):
        print("error: the two runs have different rows (another split, --quick or model range?)", file=sys.stderr)
        return 2
    print(f"before: {summary_line(list(before.values()))}")
    print(f"after:  {summary_line(list(after.values()))}")
    print("| sample | rows | better | worse by > 5 % | median RMSE after ÷ before |")
    print("|---|---:|---:|---:|---:|")
    for sample in sorted({k[0] for k in before}):
        keys = [k for k in before if k[0] == sample]
        change = sorted(after[k].rmse_output / before[k].rmse_output for k in keys)
        print(f"| {sample} | {len(keys)} | {sum(c < 1 for c in change)} | {sum(c > 1.05 for c in change)} | "
              f"{change[len(change) // 2]:.3f} |")
    if args.out:
        with atomic_path(args.out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([*KEY, "cls", "rmse_before", "rmse_after", "ratio_before", "ratio_after"])
            for k in sorted(before):
                writer.writerow([*k, before[k].cls, f"{before[k].rmse_output:.4g}", f"{after[k].rmse_output:.4g}",
                                 f"{before[k].ratio:.4g}", f"{after[k].ratio:.4g}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
