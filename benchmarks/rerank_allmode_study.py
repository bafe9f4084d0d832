"""How far can the re-ranker lift Online Retail's ``all`` mode? Offline study (issue 11).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/rerank_allmode_study.py experiments/online_retail.yaml \
        --cache /tmp/allmode-study

For each cutoff (15 days apart, 2011-01-13 to 2011-06-12, and the holdout
2011-09-10) it fits the two-stage model's generators (hybrid default
weights), keeps every evaluated customer's ``all``-mode candidates with the
re-ranker's features and their labels (bought in the next 90 days), and adds
16 more reorder features (:data:`EXTRA`: the item's last sale, repeat and
90-day rebuy rates, the customer's repeat share, quantity share, orders since
the item was last bought, share of the last five orders, within-customer
ranks, ...). NDCG@10 is taken over the candidates with the full truth as the
ideal, as the evaluation does. It prints:

1. per cutoff: buy-again, the blend, the oracle within the candidates;
2. validation (2011-06-12, rankers trained on cutoffs <= 2011-03-14;
   2011-05-13, on cutoffs <= 2011-02-12): LambdaRank on today's features, with
   the extra ones, and with the extra ones boosted from ``3 x blend score``
   (the setting chosen on validation);
3. the holdout, judged once with that setting (trained on every cutoff up to
   2011-06-12), and an upper bound: 5-fold cross-validation by customer on the
   holdout window's own labels (not a servable model).
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

EARLY = ["2011-01-13", "2011-01-28", "2011-02-12", "2011-02-27", "2011-03-14"]
LATER = ["2011-03-29", "2011-04-13", "2011-04-28", "2011-05-13", "2011-05-28", "2011-06-12"]
HOLDOUT = "2011-09-10"
DISC = 1.0 / np.log2(np.arange(2, 12))
EXTRA = ("item_last_sale", "item_cust28_share", "item_repeat_rate", "item_rebuy90",
         "item_cust90_share", "user_repeat_share90", "user_items90", "qty_share", "orders_share",
         "orders_since_item", "last5_share", "rank_count", "rank_recent", "rank_days",
         "pair_rebuy90", "pair_prev90")  # fmt: skip


def dump(config: Path, cache: Path, cutoffs: list[str]) -> None:
    """Candidates, features and labels per cutoff into ``cache`` (kept when present)."""
    from threadpoolctl import threadpool_limits

    from kizuna.models.recommenders.reranker import RerankedRecommender
    from kizuna.training.blend_tuning import TREND_DAYS
    from kizuna.training.config import load_experiment
    from kizuna.training.data import load_transactions
    from kizuna.training.metrics import ranking_metrics
    from kizuna.training.recommender_eval import default_models, holdout_split
    from kizuna.training.train_reranker import fit_with_timing

    cfg = load_experiment(config)
    tx = None
    for c in cutoffs:
        path = cache / f"cut_{c}.pkl"
        if path.exists():
            continue
        if tx is None:
            tx = load_transactions(cfg.data, quiet=True, with_events=False).kept
        with threadpool_limits(1, "blas"):
            split = holdout_split(tx, pd.Timestamp(c), 90, trend_days=TREND_DAYS)
            model = RerankedRecommender(
                random_state=0, generator_params=dict(cfg.recommender.params)
            )
            fit_with_timing(
                model, tx, split.train.matrix, split.train.user_ids, split.train.item_ids,
                split.as_of, recent=split.recent, categories=split.item_categories,
            )  # fmt: skip
            users = split.user_codes
            hist = split.train.matrix[users]
            cols, valid, X = model._candidates(users, hist, False)
            truth = split.truth["all"].toarray() > 0
            y = np.take_along_axis(truth[:, : model.n_items_], cols, axis=1) & valid
            again = default_models(0)["personal_popularity"].fit(split.train.matrix)
            recs, _ = again.recommend(users, hist, 10)
            buyagain = ranking_metrics(recs, split.truth["all"], k=10)["ndcg"]
        ids = (split.train.user_ids, split.train.item_ids)
        extra = extra_features(tx, pd.Timestamp(c), ids, users, cols, valid, X)
        out = dict(cols=cols, valid=valid, X=X, y=y, n_rel=truth.sum(axis=1),
                   buyagain=buyagain, extra=extra)  # fmt: skip
        path.write_bytes(pickle.dumps(out))


def extra_features(tx, cut, ids, users, cols, valid, X) -> np.ndarray:
    """The :data:`EXTRA` features of each candidate, (n, m, 16) float32 (NaN: unknown)."""
    from kizuna.models.recommenders.rerank_features import FEATURES

    h = tx[(tx["timestamp"] < cut) & ~tx["is_return"]]
    uids, iids = ids
    df = pd.DataFrame({
        "u": uids.get_indexer(h["customer_id"]), "i": iids.get_indexer(h["item_id"]),
        "o": h["order_id"].to_numpy(), "q": h["quantity"].to_numpy(),
        "days": (cut - h["timestamp"]).dt.total_seconds().to_numpy() / 86400,
    })  # fmt: skip
    df = df[(df.u >= 0) & (df.i >= 0)]
    df["days"] = df["o"].map(df.groupby("o")["days"].max())
    pairs = df.groupby(["u", "i", "o"], sort=False).agg(days=("days", "first"), q=("q", "sum"))
    pairs = pairs.reset_index()
    n_users, n_items = len(uids), len(iids)
    item_last = np.full(n_items, np.nan)
    s = pairs.groupby("i")["days"].min()
    item_last[s.index] = s.values
    cust = pairs.groupby(["i", "u"]).agg(n=("o", "size"), first=("days", "max"),
                                         last=("days", "min")).reset_index()  # fmt: skip
    n_cust = np.bincount(cust.i, minlength=n_items).astype(float)
    rep = np.bincount(cust.i, weights=(cust.n >= 2), minlength=n_items)
    c28 = np.bincount(cust.i, weights=(cust["last"] < 28), minlength=n_items)
    c90 = np.bincount(cust.i, weights=(cust["last"] < 90), minlength=n_items)
    active28 = pairs.loc[pairs.days < 28, "u"].nunique()
    active90 = pairs.loc[pairs.days < 90, "u"].nunique()
    old = cust["first"] >= 90  # bought before the last 90 days: did they buy it again since?
    reb = np.bincount(cust.i[old], weights=(cust["last"][old] < 90), minlength=n_items)
    nold = np.bincount(cust.i[old], minlength=n_items)
    ui90 = cust[cust["last"] < 90]
    uitems90 = np.bincount(ui90.u, minlength=n_users).astype(float)
    urep = np.bincount(ui90.u, weights=(ui90["first"] >= 90), minlength=n_users)
    uo = pairs.groupby(["u", "o"])["days"].first().reset_index().sort_values(["u", "days"])
    uo["k"] = uo.groupby("u").cumcount()  # 0 = the customer's latest order
    user_orders = np.bincount(uo.u, minlength=n_users).astype(float)
    pk = pairs.merge(uo[["u", "o", "k"]], on=["u", "o"])
    pk["l5"] = pk["k"] < 5
    pp = pk.groupby(["u", "i"]).agg(kmin=("k", "min"), l5=("l5", "sum"), q=("q", "sum"),
                                    n=("o", "size"), first=("days", "max"),
                                    last=("days", "min")).reset_index()  # fmt: skip
    uq = pp.groupby("u")["q"].sum()
    key = pp.u.to_numpy().astype(np.int64) * n_items + pp.i.to_numpy()
    order = np.argsort(key)
    key, pp = key[order], pp.iloc[order]
    query = users[:, None].astype(np.int64) * n_items + cols
    pos = np.minimum(np.searchsorted(key, query), len(key) - 1)
    hit = key[pos] == query

    def pair(col: str) -> np.ndarray:
        return np.where(hit, pp[col].to_numpy()[pos], np.nan)

    n, m = cols.shape

    def rank(v: np.ndarray, ascending: bool = False) -> np.ndarray:
        known = valid & np.isfinite(v)
        key = np.where(known, v if ascending else -v, np.inf)
        ranks = np.empty((n, m))
        np.put_along_axis(ranks, np.argsort(key, axis=1, kind="stable"),
                          np.arange(m, dtype=float)[None].repeat(n, 0), axis=1)  # fmt: skip
        return np.where(known, ranks, np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "item_last_sale": item_last[cols],
            "item_cust28_share": (c28 / max(active28, 1))[cols],
            "item_repeat_rate": np.where(n_cust > 0, rep / np.maximum(n_cust, 1), np.nan)[cols],
            "item_rebuy90": np.where(nold >= 3, reb / np.maximum(nold, 1), np.nan)[cols],
            "item_cust90_share": (c90 / max(active90, 1))[cols],
            "user_repeat_share90": np.broadcast_to(
                np.where(uitems90 > 0, urep / np.maximum(uitems90, 1), np.nan)[users][:, None],
                (n, m)),
            "user_items90": np.broadcast_to(uitems90[users][:, None], (n, m)),
            "qty_share": pair("q") / uq.reindex(users).to_numpy()[:, None],
            "orders_share": pair("n") / user_orders[users][:, None],
            "orders_since_item": pair("kmin"),
            "last5_share": pair("l5") / np.minimum(user_orders[users], 5)[:, None],
            "rank_count": rank(pair("n")),
            "rank_recent": rank(np.where(hit, X[:, :, FEATURES.index("recent_count")], np.nan)),
            "rank_days": rank(pair("last"), ascending=True),
            "pair_rebuy90": np.where(hit, (pair("last") < 90) & (pair("first") >= 90), np.nan),
            "pair_prev90": np.where(
                hit, ((pair("last") < 180) & (pair("last") >= 90))
                | ((pair("first") >= 90) & (pair("first") < 180)), np.nan),
        }  # fmt: skip
    return np.stack([values[name] for name in EXTRA], axis=2).astype(np.float32)


def ndcg(d: dict, score: np.ndarray) -> float:
    """NDCG@10 of ordering each customer's candidates by ``score`` (n, m); ideal = full truth."""
    order = np.argsort(-np.where(d["valid"], score, -np.inf), axis=1, kind="stable")[:, :10]
    hits = np.take_along_axis(d["y"] & d["valid"], order, axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(DISC)])[np.minimum(d["n_rel"], 10)]
    return float(np.mean(hits @ DISC / ideal))


def params(**kw) -> dict:
    """The re-ranker's LightGBM settings (``RerankedRecommender.fit_rankers``)."""
    return {"objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 7,
            "min_data_in_leaf": 200, "lambdarank_truncation_level": 20,
            "feature_fraction": 0.8, "feature_fraction_seed": 0, "seed": 0,
            "deterministic": True, "force_row_wise": True, "num_threads": 1,
            "verbosity": -1, **kw}  # fmt: skip


def features(d: dict, extra: bool) -> np.ndarray:
    return np.concatenate([d["X"], d["extra"]], axis=2) if extra else d["X"]


def fit_score(train: list[dict], test: dict, rounds: int, alpha: float, extra: bool) -> float:
    """Train on ``train`` (customers with a bought candidate), boosted from alpha x blend."""
    from kizuna.models.recommenders.rerank_features import FEATURES

    blend = FEATURES.index("blend_score")
    Xs, ys, gs = [], [], []
    for d in train:
        keep = d["y"].any(axis=1)
        v = d["valid"][keep]
        Xs.append(features(d, extra)[keep][v])
        ys.append(d["y"][keep][v])
        gs.append(v.sum(axis=1))
    X = np.concatenate(Xs)
    data = lgb.Dataset(X, np.concatenate(ys).astype(int), group=np.concatenate(gs),
                       init_score=alpha * X[:, blend], params={"verbosity": -1})  # fmt: skip
    booster = lgb.train(params(), data, num_boost_round=rounds)
    Xt = features(test, extra)
    n, m, f = Xt.shape
    pred = booster.predict(Xt.reshape(n * m, f), num_threads=1).reshape(n, m)
    return ndcg(test, pred + alpha * test["X"][:, :, blend])


def in_window_cv(d: dict, extra: bool, folds: int = 5) -> float:
    """Upper bound: rankers trained on the same window's labels, 5 folds of customers."""
    n, m = d["valid"].shape
    fold = np.random.default_rng(0).integers(0, folds, n)
    X = features(d, extra)
    score = np.zeros((n, m))
    for k in range(folds):
        tr = (fold != k) & d["y"].any(axis=1)
        v = d["valid"][tr]
        data = lgb.Dataset(X[tr][v], d["y"][tr][v].astype(int), group=v.sum(axis=1),
                           params={"verbosity": -1})  # fmt: skip
        booster = lgb.train(params(), data, num_boost_round=120)
        te = fold == k
        score[te] = booster.predict(X[te].reshape(-1, X.shape[2]), num_threads=1).reshape(-1, m)
    return ndcg(d, score)


def main(argv: list[str] | None = None) -> int:
    from kizuna.models.recommenders.rerank_features import FEATURES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    cutoffs = [*EARLY, *LATER, HOLDOUT]
    dump(args.experiment, args.cache, cutoffs)
    cut = {c: pickle.loads((args.cache / f"cut_{c}.pkl").read_bytes()) for c in cutoffs}
    blend = FEATURES.index("blend_score")
    print("| cutoff | buy-again | blend | oracle within candidates |\n|---|---:|---:|---:|")
    for c in ("2011-03-14", "2011-05-13", "2011-06-12", HOLDOUT):
        d = cut[c]
        print(f"| {c} | {d['buyagain']:.4f} | {ndcg(d, d['X'][:, :, blend]):.4f} "
              f"| {ndcg(d, d['y'].astype(float)):.4f} |")  # fmt: skip
    print("\n| ranker | val 2011-06-12 | val 2011-05-13 |\n|---|---:|---:|")
    for name, rounds, alpha, extra in (
        ("today's features, 120 rounds", 120, 0.0, False),
        ("+ 16 reorder features", 120, 0.0, True),
        ("+ 16 reorder features, boosted from 3 x blend, 300 rounds", 300, 3.0, True),
    ):
        a = fit_score([cut[c] for c in EARLY], cut["2011-06-12"], rounds, alpha, extra)
        b = fit_score([cut[c] for c in EARLY[:3]], cut["2011-05-13"], rounds, alpha, extra)
        print(f"| {name} | {a:.4f} | {b:.4f} |", flush=True)
    h = cut[HOLDOUT]
    chosen = fit_score([cut[c] for c in (*EARLY, *LATER)], h, 300, 3.0, True)
    print(f"\nholdout, chosen setting, trained on {len(EARLY) + len(LATER)} cutoffs: {chosen:.4f}"
          f" (buy-again {h['buyagain']:.4f}, {chosen / h['buyagain'] - 1:+.1%})")  # fmt: skip
    for extra in (False, True):
        bound = in_window_cv(h, extra)
        print(
            f"holdout upper bound, in-window 5-fold CV, extra={extra}: {bound:.4f} "
            f"({bound / h['buyagain'] - 1:+.1%})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
