"""The recommenders on a shop where nobody buys an item twice (rating-style data).

Usage (the README's figure for ``seen_in_all`` comes from this command)::

    OMP_NUM_THREADS=1 python benchmarks/no_repeat_shop.py

Generates the demo shop (``kizuna generate``, seed 0, 5,000 customers), keeps
only each customer's first purchase of each item (every later line of the same
customer and item is dropped), trains it with ``experiments/demo.yaml``'s
settings (no uplift simulation, no offers) into a throwaway MLflow store, and
prints the README's results tables followed by the hybrid's tuned weights and
whether its ``all`` mode keeps the customer's own items (``seen_in_all``).
``--keep-seen`` fixes ``seen_in_all`` at true (the blend as tuned before that
choice existed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-seen", action="store_true", help="fix seen_in_all at true")
    args = parser.parse_args(argv)
    from kizuna.training.launch import pin_cpu_kernels

    if not pin_cpu_kernels():  # the same kernels as `kizuna train`, so the same figures
        sys.exit("no_repeat_shop.py must pin the CPU kernels before NumPy is imported")
    import pandas as pd

    from kizuna.features import schema as s
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.config import load_experiment
    from kizuna.training.pipeline import run_experiment
    from kizuna.training.results_tables import render
    from kizuna.training.shop_io import write_shop

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["KIZUNA_DATA_DIR"] = tmp
        paths = write_shop(generate_shop(ShopConfig(n_customers=args.customers, seed=args.seed)),
                           Path(tmp) / "shop")  # fmt: skip
        lines = pd.read_parquet(paths["transactions"])
        first = lines.sort_values([s.TIMESTAMP, s.ORDER_ID], kind="stable").drop_duplicates(
            [s.CUSTOMER_ID, s.ITEM_ID]
        )
        first.sort_index().to_parquet(paths["transactions"])
        print(f"lines: {len(lines):,} generated, {len(first):,} first purchases kept",
              file=sys.stderr)  # fmt: skip
        spec = yaml.safe_load((ROOT / "experiments" / "demo.yaml").read_text())
        spec["name"] = "no_repeats"
        spec["data"].update({k: str(paths[k]) for k in ("transactions", "items", "customers")})
        spec["uplift"] = {"enabled": False}
        spec.pop("offers", None)
        spec["tracking"] = {"experiment_name": "kizuna-no-repeats"}
        if args.keep_seen:
            spec["recommender"]["search"] = {"grid": {"seen_in_all": [True]}}
        experiment = Path(tmp) / "no_repeats.yaml"
        experiment.write_text(yaml.safe_dump(spec))
        result = run_experiment(load_experiment(experiment), quiet=True).to_dict()
    sys.stdout.write(render(result) + "\n")
    extra = result["models"]["recommender"]["extra_metrics"]
    tuned = {k.removeprefix("hybrid_"): v for k, v in extra.items()
             if k.startswith("hybrid_") and ("weight" in k or k.endswith("seen_in_all"))}  # fmt: skip
    print("hybrid's tuned blend: " + ", ".join(f"{k} {v:g}" for k, v in tuned.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
