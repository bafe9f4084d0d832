"""Recommenders on UCI Online Retail: the reference table, timings, and weight tuning.

Usage (from the project root)::

    .venv/bin/python benchmarks/bench_recommenders.py table   # test holdout 2011-09-10
    .venv/bin/python benchmarks/bench_recommenders.py tune    # validation splits

``table`` fits every model of ``training.recommender_eval.default_models`` on
purchases before 2011-09-10 and scores the next 90 days (1,919 returning
customers), then times the hybrid's fit + evaluation against BM25 item-kNN's
(median of ``--repeats`` runs, ratio in the same run).

``tune`` runs the pipeline's blend search (``training.blend_tuning.tune_blend``)
on three *earlier* splits (as_of 2011-04-13, 2011-05-13 and 2011-06-12, each
with a 90-day truth window, the last one ending at the test as_of) and prints
the weights each would choose and their gain over the best single model. The
pipeline itself tunes on the last of them (test as_of - 90 days); the
defaults of ``HybridRecommender`` are its choice. The test holdout is not used.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kizuna.features.validate import validate_transactions
from kizuna.models.recommenders import HybridRecommender, ItemKNNRecommender
from kizuna.models.recommenders.hybrid import COMPONENTS
from kizuna.training.blend_tuning import tune_blend
from kizuna.training.config import RecommenderConfig
from kizuna.training.data import read_transactions
from kizuna.training.metrics import per_user_ranking_metrics
from kizuna.training.recommender_eval import (
    default_models,
    evaluate_recommenders,
    holdout_split,
    margins,
)

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT.parent / "shared" / "datasets" / "online_retail" / "online_retail_2010_2011.csv.gz"
TEST_AS_OF = "2011-09-10"
# Three earlier splits whose truth windows end on or before the test as_of.
VALIDATION_AS_OF = ("2011-04-13", "2011-05-13", "2011-06-12")
HORIZON = 90
# NDCG@10 of the reference table (datasets README).
REFERENCE = {
    ("global_popularity", "all"): 0.120, ("global_popularity", "new"): 0.050,
    ("personal_popularity", "all"): 0.339,
    ("als", "all"): 0.331, ("als", "new"): 0.107,
    ("item_knn_bm25", "all"): 0.348, ("item_knn_bm25", "new"): 0.109,
}  # fmt: skip


def load() -> pd.DataFrame:
    if not DATA.exists():
        sys.exit(f"dataset not found: {DATA}")
    raw = read_transactions(DATA, format="online-retail")
    return validate_transactions(raw.frame, **raw.validate_kwargs).kept


def table(tx: pd.DataFrame, repeats: int) -> None:
    holdout = holdout_split(tx, TEST_AS_OF, HORIZON)
    print(
        f"test holdout {TEST_AS_OF} + {HORIZON} d: {len(holdout.user_codes)} customers, "
        f"{holdout.n_items} items, {len(holdout.new_item_ids)} new in the window"
    )
    models = default_models()
    results = evaluate_recommenders(models, holdout)
    wide = results.pivot_table(index="model", columns=["metric", "mode"], values="value")
    cols = [(m, mode) for m in ("ndcg", "recall", "map", "precision", "coverage",
                                "mean_popularity") for mode in ("all", "new")]  # fmt: skip
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(cols))
    ref = pd.Series(REFERENCE).rename_axis(["model", "mode"]).unstack()
    for mode in ("all", "new"):
        wide[("ref_ndcg", mode)] = ref[mode].reindex(wide.index) if mode in ref else np.nan
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(wide.round(4).to_string())
    print("\nhybrid NDCG@10 margin over the best other model:")
    print(margins(results).round(4).to_string())
    _bootstrap_margins(models, holdout, results)
    reference_best = {"all": 0.348, "new": 0.109}
    hyb = results.query("model == 'hybrid' and metric == 'ndcg'").set_index("mode")["value"]
    for mode, best in reference_best.items():
        print(
            f"  {mode}: hybrid {hyb[mode]:.4f} vs best single model in the reference table "
            f"{best:.3f} -> {hyb[mode] / best - 1:+.1%} (target +10%: {1.1 * best:.4f})"
        )

    print(f"\nfit + evaluate (both modes), median of {repeats} runs:")
    for name, make in (("hybrid", HybridRecommender), ("item_knn_bm25", ItemKNNRecommender)):
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            evaluate_recommenders({name: make()}, holdout)
            runs.append(time.perf_counter() - t0)
        print(f"  {name:15s} {statistics.median(runs):6.2f} s  (runs: "
              f"{', '.join(f'{r:.2f}' for r in runs)})")  # fmt: skip
        if name == "hybrid":
            hybrid_time = statistics.median(runs)
    print(f"  ratio hybrid / item_knn_bm25: {hybrid_time / statistics.median(runs):.2f}")


def _bootstrap_margins(models, holdout, results: pd.DataFrame, n_boot: int = 2000) -> None:
    """Paired bootstrap over customers of the hybrid's NDCG@10 margin over the best baseline."""
    found = margins(results)
    rng = np.random.default_rng(0)
    X, users = holdout.train.matrix, holdout.user_codes
    print("paired bootstrap over customers (2,000 resamples), relative NDCG@10 margin:")
    for mode, row in found.iterrows():
        per_model = []
        for name in ("hybrid", row["best_baseline"]):
            recs, _ = models[name].recommend(users, X[users], 10, exclude_seen=(mode == "new"))
            per_model.append(per_user_ranking_metrics(recs, holdout.truth[mode], 10)["ndcg"])
        keep = ~np.isnan(per_model[0])
        a, b = per_model[0][keep], per_model[1][keep]
        idx = rng.integers(0, a.size, size=(n_boot, a.size))
        ratios = a[idx].mean(axis=1) / b[idx].mean(axis=1) - 1
        lo, hi = np.percentile(ratios, [2.5, 97.5])
        print(
            f"  {mode}: {a.mean() / b.mean() - 1:+.1%} over {row['best_baseline']} "
            f"(95% interval {lo:+.1%} to {hi:+.1%}, n={a.size})"
        )


def tune(tx: pd.DataFrame) -> None:
    """The pipeline's weight search (``tune_blend``) on each validation split.

    Prints the weights each split would choose and their validation NDCG@10
    relative to the best single model of that split and mode. Components are
    those of ``COMPONENTS``; the first five weights blend any item, the
    ``new_`` ones new items only.
    """
    chosen = []
    for as_of in VALIDATION_AS_OF:
        holdout = holdout_split(tx, as_of, HORIZON)
        singles = evaluate_recommenders(
            {k: m for k, m in default_models().items() if k != "hybrid"}, holdout
        )
        best = singles[singles.metric == "ndcg"].groupby("mode")["value"].max()
        t0 = time.perf_counter()
        weights, records = tune_blend(tx, pd.Timestamp(as_of), HORIZON, RecommenderConfig(),
                                      seed=0)  # fmt: skip
        seconds = time.perf_counter() - t0
        row = {"as_of": as_of, "customers": len(holdout.user_codes), "tune_s": round(seconds, 1)}
        for mode in ("all", "new"):
            value = max(r["validation"][f"{mode}_ndcg_at_10"] for r in records
                        if r["mode"] == mode)  # fmt: skip
            row[f"{mode} ndcg"] = value
            row[f"{mode} gain"] = value / best[mode] - 1
        chosen.append({**row, **weights})
        print(f"validation {as_of}: {len(records)} combinations in {seconds:.1f} s", flush=True)
    table = pd.DataFrame(chosen)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))
    print(
        f"gain = NDCG@10 of the chosen blend / best single model - 1 (split and mode); "
        f"components {COMPONENTS}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["table", "tune"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tx = load()
    if args.command == "table":
        table(tx, args.repeats)
    else:
        tune(tx)


if __name__ == "__main__":
    main()
