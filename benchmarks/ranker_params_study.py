"""Train an experiment with LightGBM settings of the LambdaRank re-ranker overridden.

For trying a ranker setting before making it a parameter: every ranker fit of
the run gets ``--set`` values on top of its own (for example
``objective=rank_xendcg`` or ``lambdarank_truncation_level=10``). Prints the
re-ranker's validation and holdout NDCG@10 and the CPU seconds of the ranker
fits (each fit's own thread). Trains into a throwaway MLflow store::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ranker_params_study.py \\
        experiments/online_retail.yaml --set objective=rank_xendcg
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from kizuna.training.launch import pin_cpu_kernels

    if not pin_cpu_kernels():  # the same kernels as `kizuna train`, so the same figures
        sys.exit("ranker_params_study.py must pin the CPU kernels before NumPy is imported")
    overrides = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
    import lightgbm as lgb

    from kizuna.models.recommenders import rerank_training
    from kizuna.training.config import load_experiment
    from kizuna.training.pipeline import run_experiment

    fit_seconds = []
    real_train = lgb.train

    def train(params: dict, data: object, **kwargs: object) -> object:
        start = time.thread_time()
        booster = real_train({**params, **overrides}, data, **kwargs)
        fit_seconds.append(time.thread_time() - start)
        return booster

    rerank_training.lgb.train = train  # the rankers' module only
    with tempfile.TemporaryDirectory() as store:
        os.environ["KIZUNA_DATA_DIR"] = store
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(store) / 'mlflow.db'}"
        result = run_experiment(load_experiment(args.experiment), quiet=True)
    extra = result.results["recommender"].extra_metrics
    print(f"overrides: {overrides or 'none'}")
    for name in ("val_lambdarank_ndcg_at_10", "val_lambdarank_new_ndcg_at_10",
                 "lambdarank_ndcg_at_10", "lambdarank_new_ndcg_at_10"):  # fmt: skip
        print(f"{name}: {extra[name]:.4f}")
    print(f"ranker fits: {len(fit_seconds)}, thread CPU s: {sum(fit_seconds):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
