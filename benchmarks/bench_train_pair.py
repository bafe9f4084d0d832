"""Benchmark: ``kizuna train`` of two code versions, run alternately in the same period.

On a shared machine only ratios measured side by side mean something. Each
version is a folder holding a ``kizuna`` package on ``PYTHONPATH`` (it shadows
the editable install), e.g. for main::

    git archive main | tar -x -C /tmp/old-code
    mkdir -p /tmp/old/kizuna && touch /tmp/old/kizuna/__init__.py
    for d in features models simulators serving training; do
        ln -s /tmp/old-code/$d /tmp/old/kizuna/$d; done
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_train_pair.py \\
        experiments/online_retail.yaml --old /tmp/old --new /tmp/new --runs 3

Each run is :func:`bench_train.one_run` (a fresh process and MLflow store).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import one_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument("--old", required=True, help="PYTHONPATH folder of the old code")
    parser.add_argument("--new", required=True, help="PYTHONPATH folder of the new code")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    codes = {"old": args.old, "new": args.new}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    for _ in range(args.runs):
        for name, path in codes.items():
            os.environ["PYTHONPATH"] = path
            wall, cpu = one_run(args.experiment.resolve())
            runs[name].append((wall, cpu))
            print(f"{name}: wall {wall:.1f} s, CPU {cpu:.1f} s, "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    print("\n| code | runs | median wall s | min s | max s | median CPU s |")
    print("|---|---:|---:|---:|---:|---:|")
    medians = {}
    for name, rows in runs.items():
        walls = [w for w, _ in rows]
        medians[name] = (statistics.median(walls), statistics.median(c for _, c in rows))
        print(f"| {name} ({codes[name]}) | {len(rows)} | {medians[name][0]:.1f} | "
              f"{min(walls):.1f} | {max(walls):.1f} | {medians[name][1]:.1f} |")  # fmt: skip
    (ow, oc), (nw, nc) = medians["old"], medians["new"]
    print(f"| ratio new / old | | {nw / ow:.2f} | | | {nc / oc:.2f} |")


if __name__ == "__main__":
    main()
