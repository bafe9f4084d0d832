"""Time-split evaluation of recommenders: fit before ``as_of``, score the next ``horizon``.

The holdout, its ``all`` and ``new`` modes and its ground truth are defined in
:mod:`training.recommender_holdout`. In ``new`` mode, models that can only
recommend seen items (``only_seen_items``) are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders import (
    ALSRecommender,
    BPRRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PersonalPopularityRecommender,
    PopularityRecommender,
    Recommender,
)
from kizuna.training.metrics import ranking_metrics
from kizuna.training.recommender_holdout import (  # the holdout's definitions, re-exported
    RecommenderHoldout,
    holdout_split,
    item_categories,
)

__all__ = [
    "BASELINES", "DEFAULT_MODEL", "MODES", "RecommenderHoldout", "default_models",
    "evaluate_holdout", "evaluate_recommenders", "holdout_split", "item_categories", "margins",
]  # fmt: skip

MODES: tuple[str, ...] = ("all", "new")
BASELINES: tuple[str, ...] = (
    "global_popularity", "trending_popularity", "personal_popularity", "als", "bpr",
    "item_knn_cosine", "item_knn_bm25",
)  # fmt: skip
DEFAULT_MODEL = "hybrid"


def evaluate_recommenders(
    models: Mapping[str, Recommender],
    holdout: RecommenderHoldout,
    *,
    k: int = 10,
    modes: Iterable[str] = MODES,
    depth: int | None = None,
    recommendations: dict[str, dict[str, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Fit each model on the holdout's training data and score it in each mode.

    Models are fitted in place (inspect them afterwards if needed). With
    ``depth`` (> ``k``), each model recommends that many items and the
    metrics read the first ``k``; ``recommendations`` (a dict) then receives
    ``{model: {mode: item codes (n_eval, depth)}}``, e.g. for recall curves
    without recommending again.

    Parameters
    ----------
    models
        Report name -> an unfitted recommender.
    holdout
        The holdout split.
    k
        The cut-off.
    modes
        The modes to score (``all``, ``new``).
    depth
        Items recommended per user (> ``k``), or None.
    recommendations
        Receives the item codes, or None.

    Returns
    -------
    pandas.DataFrame
        Long format, columns ``model``, ``mode``, ``metric``, ``value``; the
        metrics are those of :func:`training.metrics.ranking_metrics`
        (``precision``, ``recall``, ``ndcg``, ``map`` at ``k``, ``coverage``,
        ``mean_popularity``, ``n_users``) plus ``fit_seconds`` and
        ``recommend_seconds``.
    """
    modes = tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise KizunaInputError(f"modes must be among {list(MODES)}", column="modes", values=bad)
    X = holdout.train.matrix
    users = holdout.user_codes
    history = X[users]
    rows: list[dict[str, object]] = []
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(X, recent_items=holdout.recent, item_categories=holdout.item_categories)
        fit_seconds = time.perf_counter() - t0
        for mode in modes:
            if mode == "new" and model.only_seen_items:
                continue
            t0 = time.perf_counter()
            recs, _ = model.recommend(
                users, history, max(k, depth or k), exclude_seen=holdout.excludes_seen(mode)
            )
            rec_seconds = time.perf_counter() - t0
            if recommendations is not None:
                recommendations.setdefault(name, {})[mode] = recs
            values = ranking_metrics(
                recs, holdout.truth[mode], k=k, n_items=holdout.n_items,
                item_popularity=holdout.item_share,
            )  # fmt: skip
            values["fit_seconds"] = fit_seconds
            values["recommend_seconds"] = rec_seconds
            rows.extend(
                {"model": name, "mode": mode, "metric": metric, "value": float(value)}
                for metric, value in values.items()
            )
    return pd.DataFrame(rows, columns=["model", "mode", "metric", "value"])


def evaluate_holdout(
    models: Mapping[str, Recommender],
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon_days: float = 90,
    *,
    k: int = 10,
    trend_days: float = 7,
    modes: Iterable[str] = MODES,
) -> pd.DataFrame:
    """:func:`holdout_split` then :func:`evaluate_recommenders` (canonical column names).

    Parameters
    ----------
    models
        Report name -> an unfitted recommender.
    transactions
        Validated lines, shape (n, k).
    as_of
        The split instant.
    horizon_days
        The truth window.
    k
        The cut-off.
    trend_days
        Window of the recent sales.
    modes
        The modes to score.

    Returns
    -------
    pandas.DataFrame
        As :func:`evaluate_recommenders`.
    """
    holdout = holdout_split(transactions, as_of, horizon_days, trend_days=trend_days)
    return evaluate_recommenders(models, holdout, k=k, modes=modes)


def default_models(random_state: int = 0, num_threads: int = 1) -> dict[str, Recommender]:
    """The served hybrid and the baselines it is compared with, by report name.

    Baseline settings are the reference ones: ALS with 64 factors on BM25
    weights, BM25 item-kNN with 100 neighbours (implicit's BM25 defaults).

    Parameters
    ----------
    random_state
        Seed of the models.
    num_threads
        Threads of the models.

    Returns
    -------
    dict of str -> Recommender
        Unfitted.
    """
    return {
        "global_popularity": PopularityRecommender(),
        "trending_popularity": PopularityRecommender(trending=True),
        "personal_popularity": PersonalPopularityRecommender(),
        "als": ALSRecommender(factors=64, random_state=random_state, num_threads=num_threads),
        "bpr": BPRRecommender(factors=64, random_state=random_state, num_threads=num_threads),
        "item_knn_cosine": ItemKNNRecommender(similarity="cosine", num_threads=num_threads),
        "item_knn_bm25": ItemKNNRecommender(similarity="bm25", num_threads=num_threads),
        DEFAULT_MODEL: HybridRecommender(random_state=random_state, num_threads=num_threads),
    }


def margins(
    results: pd.DataFrame,
    *,
    model: str = DEFAULT_MODEL,
    metric: str = "ndcg",
    baselines: Iterable[str] | None = None,
) -> pd.DataFrame:
    """How far ``model`` is above the best of ``baselines`` (default: every other model).

    Parameters
    ----------
    results
        Output of :func:`evaluate_recommenders`.
    model
        The model compared.
    metric
        The metric compared.
    baselines
        The models compared with, or None for every other.

    Returns
    -------
    pandas.DataFrame
        One row per mode: ``value``, ``best_baseline``, ``baseline_value``,
        ``margin`` (relative: value / baseline_value - 1).
    """
    table = results[results["metric"] == metric].pivot(index="model", columns="mode",
                                                        values="value")  # fmt: skip
    if model not in table.index:
        raise KizunaInputError("is not in the results", column="model", values=[model])
    others = [m for m in (table.index if baselines is None else baselines) if m != model]
    out = []
    for mode in table.columns:
        column = table.loc[[m for m in others if m in table.index], mode].dropna()
        best = column.idxmax() if len(column) else None
        base = float(column.max()) if len(column) else float("nan")
        value = float(table.loc[model, mode])
        out.append({"mode": mode, "value": value, "best_baseline": best,
                    "baseline_value": base, "margin": value / base - 1.0})  # fmt: skip
    return pd.DataFrame(out).set_index("mode")
