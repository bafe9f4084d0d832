"""Benchmark: wall time of ``kizuna train <experiment>`` end to end, in a fresh process.

Each run trains into its own throwaway MLflow store (so every run registers
champions, as on a fresh clone) with BLAS threads pinned, and the table shows
the median of the runs next to the issue's budget.

    .venv/bin/python benchmarks/bench_train.py experiments/online_retail.yaml --runs 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIZUNA = Path(sys.executable).with_name("kizuna")


def one_run(experiment: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system of the child) of one ``kizuna train``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _wall(experiment)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _wall(experiment: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "KIZUNA_DATA_DIR": tmp,
            "OPENBLAS_NUM_THREADS": "1",
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
        }
        start = time.perf_counter()
        subprocess.run(
            [str(KIZUNA), "train", str(experiment), "--json"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds")
    args = parser.parse_args()
    # CPU seconds do not grow much when other processes share the machine; wall seconds do.
    load_before = os.getloadavg()
    print(
        "| experiment | runs | median wall s | min s | max s | median CPU s | budget s | within |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for experiment in args.experiments:
        runs = [one_run(experiment.resolve()) for _ in range(args.runs)]
        times = [wall for wall, _ in runs]
        median = statistics.median(times)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"| {experiment.name} | {args.runs} | {median:.1f} | {min(times):.1f} | "
            f"{max(times):.1f} | {cpu:.1f} | {args.budget:.0f} | "
            f"{'yes' if median <= args.budget else 'NO'} |"
        )
    load_after = os.getloadavg()
    print(
        f"\nload average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)} ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
