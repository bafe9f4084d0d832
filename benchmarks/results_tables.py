"""Regenerate the README's results tables from a fresh training run.

Usage (each figure in the README's results section comes from this command)::

    OMP_NUM_THREADS=1 python benchmarks/results_tables.py experiments/online_retail.yaml

The experiment trains into a throwaway MLflow store (the real one is not
touched) and the Markdown tables are printed on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="+", type=Path)
    args = parser.parse_args(argv)
    from kizuna.training.launch import pin_cpu_kernels

    if not pin_cpu_kernels():  # the same kernels as `kizuna train`, so the same figures
        sys.exit("results_tables.py must pin the CPU kernels before NumPy is imported")
    from kizuna.training.config import load_experiment
    from kizuna.training.pipeline import run_experiment
    from kizuna.training.results_tables import render

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["KIZUNA_DATA_DIR"] = tmp
        for path in args.experiments:
            result = run_experiment(load_experiment(path), quiet=True)
            sys.stdout.write(render(result.to_dict()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
