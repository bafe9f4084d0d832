"""Recommenders on UCI Online Retail: the reference table, timings, and weight tuning.

Usage (from the project root)::

    .venv/bin/python benchmarks/bench_recommenders.py table   # test holdout 2011-09-10
    .venv/bin/python benchmarks/bench_recommenders.py tune    # validation splits

``table`` fits every model of ``training.recommender_eval.default_models`` on
purchases before 2011-09-10 and scores the next 90 days (1,919 returning
customers), then times the hybrid's fit + evaluation against BM25 item-kNN's
(median of ``--repeats`` runs, ratio in the same run).

``tune`` grid-searches the hybrid's blend weights on three *earlier* splits
(as_of 2011-04-13, 2011-05-13 and 2011-06-12, each with a 90-day truth window,
the last one ending at the test as_of), maximising the mean, over splits and
both modes, of NDCG@10 relative to the best single model of that split and
mode. The defaults of ``HybridRecommender`` come from this search; the test
holdout is not used.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.validate import validate_transactions  # noqa: E402
from models.recommenders import HybridRecommender, ItemKNNRecommender, top_k  # noqa: E402
from models.recommenders.hybrid import COMPONENTS  # noqa: E402
from training.data import read_transactions  # noqa: E402
from training.metrics import per_user_ranking_metrics, ranking_metrics  # noqa: E402
from training.recommender_eval import (  # noqa: E402
    default_models,
    evaluate_recommenders,
    holdout_split,
    margins,
)

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
    print(f"test holdout {TEST_AS_OF} + {HORIZON} d: {len(holdout.user_codes)} customers, "
          f"{holdout.n_items} items, {len(holdout.new_item_ids)} new in the window")
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
        print(f"  {mode}: hybrid {hyb[mode]:.4f} vs best single model in the reference table "
              f"{best:.3f} -> {hyb[mode] / best - 1:+.1%} (target +10%: {1.1 * best:.4f})")

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
        print(f"  {mode}: {a.mean() / b.mean() - 1:+.1%} over {row['best_baseline']} "
              f"(95% interval {lo:+.1%} to {hi:+.1%}, n={a.size})")


def tune(tx: pd.DataFrame) -> None:
    """Grid search on the validation splits; prints the best configurations."""
    grid = {"power": (0.0, 0.25, 0.5), "item_knn": (0.25, 0.5, 1.0),
            "als": (0.0, 0.1, 0.25, 0.5), "trending": (0.0, 0.05, 0.1, 0.2, 0.4)}  # fmt: skip
    results = []
    for as_of in VALIDATION_AS_OF:
        holdout = holdout_split(tx, as_of, HORIZON)
        singles = evaluate_recommenders(
            {k: m for k, m in default_models().items() if k != "hybrid"}, holdout
        )
        best = singles[singles.metric == "ndcg"].groupby("mode")["value"].max()
        print(f"validation {as_of}: {len(holdout.user_codes)} customers; best single NDCG@10 "
              f"all {best['all']:.4f}, new {best['new']:.4f}", flush=True)  # fmt: skip
        results.append(_grid(holdout, grid, best))
    table = results[0]
    for other in results[1:]:
        table = table.merge(other, on=["power", "item_knn", "als", "trending"])
    gains = [c for c in table.columns if c.startswith(("all ", "new "))]
    table["mean_gain"] = table[gains].mean(axis=1)
    table["min_gain"] = table[gains].min(axis=1)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.sort_values("mean_gain", ascending=False).head(10).round(4).to_string(
            index=False))
    print(f"gain = NDCG@10 / best single model - 1 per split and mode; components "
          f"{COMPONENTS}; repurchase weight fixed at 1; pick: highest mean_gain")


def _grid(holdout, grid: dict[str, tuple[float, ...]], best: pd.Series) -> pd.DataFrame:
    """Relative NDCG@10 gain of every blend on one split, both modes."""
    X, users = holdout.train.matrix, holdout.user_codes
    history = X[users]
    unit = HybridRecommender(
        repurchase_weight=1, item_knn_weight=1, als_weight=1, trending_weight=1,
        repurchase_trend_power=0,
    ).fit(X, recent_items=holdout.recent)  # fmt: skip
    parts = unit.component_scores(users, history)
    own = history.toarray()
    seen = own > 0
    # A tiny popularity term stands in for the tie-break of recommend(); the
    # plain argpartition top-10 is ~5x faster than top_k over the grid.
    tiebreak = 1e-9 * unit.item_popularity_ / unit.item_popularity_.max()

    def ndcg(scores: np.ndarray, mode: str) -> float:
        scores = scores + tiebreak
        if mode == "new":
            scores[seen] = -np.inf
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        rank = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        recs = np.take_along_axis(top, rank, axis=1)
        return ranking_metrics(recs, holdout.truth[mode], k=10)["ndcg"]

    label = holdout.as_of.date()
    new_cache: dict[tuple[float, float, float], float] = {}
    rows = []
    for power in grid["power"]:
        boosted = own * (1.0 + unit.trend_)[None, :] ** power
        top = boosted.max(axis=1, keepdims=True)
        repurchase = np.divide(boosted, top, out=np.zeros_like(boosted), where=top > 0)
        for wk, wa, wt in itertools.product(grid["item_knn"], grid["als"], grid["trending"]):
            collab = wk * parts[1] + wa * parts[2] + wt * parts[3]
            if (wk, wa, wt) not in new_cache:
                new_cache[(wk, wa, wt)] = ndcg(collab, "new") / best["new"] - 1
            rows.append({"power": power, "item_knn": wk, "als": wa, "trending": wt,
                         f"all {label}": ndcg(repurchase + collab, "all") / best["all"] - 1,
                         f"new {label}": new_cache[(wk, wa, wt)]})  # fmt: skip
    return pd.DataFrame(rows)


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
