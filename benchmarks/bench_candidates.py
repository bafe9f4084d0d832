"""Benchmark: the hybrid's candidate pool (``scoring.candidate_pool``) against exact top-k.

For one data set: the hybrid is fitted on the purchases before ``as_of``;
every customer who buys a new item (one not in their history) in the 90 days
after is recommended 10 new items, as ``kizuna score`` does, exactly and with
candidate pools of several sizes. Printed per pool: top-10 overlap with the
exact lists, NDCG@10 against those purchases, and CPU milliseconds per
customer of the top-k call (BLAS on one thread; the fit is not timed).

Run::

    .venv/bin/python benchmarks/bench_candidates.py --online-retail
    .venv/bin/python benchmarks/bench_candidates.py --shop /tmp/ss-bench/models_1000000-shop
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
K = 10
# The bench_engines model set's recommender (tests/serving/conftest.build_model_set).
SHOP_PARAMS = {"als_factors": 8, "als_iterations": 3, "knn_neighbours": 20}


def load(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.Timestamp, dict]:
    """Validated lines, the split instant and the hybrid's parameters."""
    from kizuna.features import schema as s
    from kizuna.features.validate import validate_transactions
    from kizuna.training.config import load_experiment
    from kizuna.training.data import load_transactions

    if args.online_retail:
        config = load_experiment(ROOT / "experiments" / "online_retail.yaml")
        tx = load_transactions(config.data, quiet=True, with_events=False).kept
        return tx, pd.Timestamp(config.split.as_of), {}
    tx = validate_transactions(pd.read_parquet(args.shop / "transactions.parquet")).kept
    end = tx[s.TIMESTAMP].max().floor("D") + pd.Timedelta(days=1)
    return tx, end - pd.Timedelta(days=90), SHOP_PARAMS


def main() -> None:
    from threadpoolctl import threadpool_limits

    from kizuna.features import schema as s
    from kizuna.features.interactions import build_interactions
    from kizuna.models.recommenders import HybridRecommender
    from kizuna.models.recommenders.pooled import CandidatePool
    from kizuna.training.metrics import ndcg_at_k

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--online-retail", action="store_true")
    which.add_argument("--shop", type=Path, help="a bench shop folder (transactions.parquet)")
    parser.add_argument("--pools", type=int, nargs="+", default=[100, 300, 1000, 3000])
    parser.add_argument("--users", type=int, default=3000, help="at most this many customers")
    args = parser.parse_args()

    tx, as_of, params = load(args)
    train = build_interactions(tx, as_of, weighting="count")
    recent = build_interactions(tx, as_of, weighting="count", user_ids=train.user_ids,
                                item_ids=train.item_ids, half_life_days=14.0)  # fmt: skip
    with threadpool_limits(1, "blas"):
        model = HybridRecommender(**params).fit(train.matrix, recent_items=recent.matrix)
    after = tx[(tx[s.TIMESTAMP] >= as_of) & (tx[s.TIMESTAMP] < as_of + pd.Timedelta(days=90))]
    after = after[~after[s.IS_RETURN]]
    users = train.user_ids.get_indexer(after[s.CUSTOMER_ID])
    items = train.item_ids.get_indexer(after[s.ITEM_ID])
    ok = (users >= 0) & (items >= 0)
    pairs = pd.DataFrame({"u": users[ok], "i": items[ok]}).drop_duplicates()
    seen = np.asarray(train.matrix[pairs["u"].to_numpy(), pairs["i"].to_numpy()]).ravel() > 0
    pairs = pairs[~seen]
    truth_of = pairs.groupby("u")["i"].apply(np.asarray)
    chosen = truth_of.index.to_numpy()[: args.users]
    truth = [truth_of[u] for u in chosen]
    rows = train.matrix[chosen]
    print(f"{len(tx):,} lines, {train.matrix.shape[0]:,} customers x {train.matrix.shape[1]:,} "
          f"items before {as_of.date()}; {len(chosen):,} customers scored", file=sys.stderr)  # fmt: skip

    def timed(call):  # noqa: ANN001, ANN202
        with threadpool_limits(1, "blas"):
            started = time.process_time()
            out = call()
            return out, (time.process_time() - started) * 1e3 / len(chosen)

    (exact, _), exact_ms = timed(lambda: model.recommend(chosen, rows, K, exclude_seen=True))
    print("| pool size | candidates per customer (shared pool) | top-10 overlap | "
          "NDCG@10 | CPU ms / customer |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|")
    print(f"| exact | {model.n_items_:,} | 1.000 | {ndcg_at_k(exact, truth, K):.4f} "
          f"| {exact_ms:.3f} |")  # fmt: skip
    for size in args.pools:
        pool = CandidatePool(size).fit(model)
        (got, _), ms = timed(lambda p=pool: p.recommend(model, chosen, rows, K, exclude_seen=True))
        overlap = np.mean([len(set(a[a >= 0]) & set(b[b >= 0])) / max((a >= 0).sum(), 1)
                           for a, b in zip(exact, got, strict=True)])  # fmt: skip
        print(f"| {size:,} | {pool.items_.size:,} | {overlap:.3f} | "
              f"{ndcg_at_k(got, truth, K):.4f} | {ms:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
