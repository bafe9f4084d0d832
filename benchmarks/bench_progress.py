"""Benchmark: how long ``kizuna train`` stays silent on stderr, outside and inside its steps.

Runs ``kizuna train EXPERIMENT`` with stderr piped (so progress prints start
lines, ``✓`` lines and a heartbeat every 15 s instead of a spinner), stamps
each line as it arrives and prints a markdown table:

- the longest gap *between* steps (after a ``✓`` line and before the next
  start line): time when no step is running, so nothing, not even the
  terminal spinner, would show;
- the longest step, which a terminal covers with its spinner and elapsed seconds.

Usage::

    python benchmarks/bench_progress.py experiments/online_retail.yaml

It trains into a throwaway MLflow store in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{Path(tmp) / 'mlflow.db'}",
            "KIZUNA_DATA_DIR": tmp,
        }
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kizuna.training.launch",
                "train",
                str(args.experiment),
                "--json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        lines = [(time.perf_counter() - start, line.rstrip()) for line in proc.stderr]
        code = proc.wait()
    total = time.perf_counter() - start
    between, where, step_longest, step_name = 0.0, "start", 0.0, ""
    last_end, last_title, opened = 0.0, "start", {}
    for t, line in lines:
        if line.startswith("… ") and not line.startswith("… still"):
            if t - last_end > between:
                between, where = t - last_end, f"after {last_title}"
            opened[line[2:]] = t
        elif line.startswith("✓ "):
            last_end = t
            title = line[2:].rsplit(" (", 1)[0]
            last_title = title
            began = opened.pop(title, t)
            if t - began > step_longest:
                step_longest, step_name = t - began, title
    if total - last_end > between:
        between, where = total - last_end, f"after {last_title}, to exit"
    print("| experiment | exit | total s | longest gap between steps s | longest step s |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.experiment} | {code} | {total:.1f} | {between:.2f} ({where}) | "
        f"{step_longest:.1f} ({step_name}) |"
    )


if __name__ == "__main__":
    main()
