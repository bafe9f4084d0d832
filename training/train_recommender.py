"""Train and evaluate the recommenders on a time split, then refit the served one on all data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import build_interactions
from kizuna.models.bundles import RecommenderBundle
from kizuna.models.recommenders import HybridRecommender
from kizuna.training import plots
from kizuna.training.config import RecommenderConfig
from kizuna.training.metrics import ranking_metrics
from kizuna.training.recommender_eval import (
    DEFAULT_MODEL,
    _item_categories,
    default_models,
    evaluate_recommenders,
    holdout_split,
)

TREND_DAYS = 7
RECALL_KS = (1, 2, 3, 5, 10, 20, 30, 50)
# Served models read purchase histories in this weighting (distinct orders per item).
INTERACTION_PARAMS: dict[str, Any] = {"weighting": "count"}
REPORTED = ("precision", "recall", "ndcg", "map", "coverage", "mean_popularity")


@dataclass
class RecommenderResult:
    """Holdout metrics of the served model and of each baseline, and the refit bundle.

    Metric names: ``ndcg_at_10`` etc. for the ``all`` mode, ``new_ndcg_at_10``
    for the ``new`` mode (already-bought items excluded).
    """

    bundle: RecommenderBundle
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    primary_metric: str
    figures: dict[str, Any]
    kind: str = "recommender"
    higher_is_better: bool = True
    search: list[dict[str, Any]] = field(default_factory=list)
    input_example: pd.DataFrame | None = None
    extra_metrics: dict[str, float] = field(default_factory=dict)
    #: (served model fitted before as_of, the holdout): for the audience evaluation.
    evaluation: tuple[Any, Any] | None = None


def train_recommender(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    horizon_days: int,
    config: RecommenderConfig,
    *,
    seed: int,
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
) -> RecommenderResult:
    """Evaluate the configured model against the candidates, then refit it on everything.

    Parameters
    ----------
    transactions
        Validated transactions (all of them: the holdout is cut inside).
    as_of, horizon_days
        The time split: fit before ``as_of``, ground truth in the horizon after.
    config
        Which model is served (``model``, ``params``) and which are baselines.
    """
    if config.model != DEFAULT_MODEL:
        raise KizunaInputError(
            f"the served recommender is {DEFAULT_MODEL!r}",
            column="recommender.model",
            values=[config.model],
        )
    available = default_models(random_state=seed)
    unknown = [c for c in config.candidates if c not in available or c == DEFAULT_MODEL]
    if unknown:
        raise KizunaInputError(
            f"unknown recommender candidates; choose from {sorted(set(available) - {DEFAULT_MODEL})}",
            column="recommender.candidates",
            values=unknown,
        )
    search: list[dict[str, Any]] = []
    if config.tune_weights:
        weights, search = tune_blend(
            transactions, as_of - pd.Timedelta(days=horizon_days), horizon_days, config, seed=seed
        )
        config = config.model_copy(update={"params": {**config.params, **weights}})
    served = HybridRecommender(**{"random_state": seed, **config.params})
    models = {DEFAULT_MODEL: served, **{c: available[c] for c in config.candidates}}
    holdout = holdout_split(transactions, as_of, horizon_days, trend_days=TREND_DAYS)
    if len(holdout.user_codes) == 0:
        raise KizunaInputError(
            f"no customer bought both before {as_of.date()} and in the "
            f"{horizon_days} days after: move split.as_of"
        )
    table = evaluate_recommenders(models, holdout, k=config.k)
    per_model = {name: _named(rows, config.k) for name, rows in table.groupby("model")}
    primary = (
        config.primary_metric if config.primary_mode == "all" else f"new_{config.primary_metric}"
    )
    if primary not in per_model[DEFAULT_MODEL]:
        raise KizunaInputError(
            f"unknown primary metric; have {sorted(per_model[DEFAULT_MODEL])}",
            column="recommender.primary_metric",
            values=[primary],
        )
    figure = plots.recall_at_k_figure(_recall_curves(models, holdout))
    bundle = refit_for_serving(
        transactions,
        config,
        seed=seed,
        items=items,
        purchase_rate_by_rank=_purchase_rate_by_rank(served, holdout, config.k),
    )
    sample = bundle.user_ids[: min(5, len(bundle.user_ids))]
    return RecommenderResult(
        bundle=bundle,
        metrics=per_model.pop(DEFAULT_MODEL),
        baselines=per_model,
        primary_metric=primary,
        figures={"recommender_recall_at_k.png": figure},
        search=search,
        input_example=pd.DataFrame({s.CUSTOMER_ID: np.asarray(sample, dtype=object)}),
        extra_metrics={
            "recommender_eval_customers": float(len(holdout.user_codes)),
            "recommender_items": float(holdout.n_items),
            **{f"hybrid_{k}": float(v) for k, v in config.params.items() if k in WEIGHT_NAMES},
        },
        evaluation=(served, holdout),
    )


def refit_for_serving(
    transactions: pd.DataFrame,
    config: RecommenderConfig,
    *,
    seed: int,
    items: pd.DataFrame | None = None,
    purchase_rate_by_rank: np.ndarray | None = None,
) -> RecommenderBundle:
    """Fit the served model on every purchase, with the id maps and history it needs."""
    purchases = transactions[~transactions[s.IS_RETURN]]
    end = purchases[s.TIMESTAMP].max() + pd.Timedelta(seconds=1)
    history = build_interactions(transactions, end, **INTERACTION_PARAMS)
    recent = build_interactions(
        transactions[transactions[s.TIMESTAMP] >= end - pd.Timedelta(days=TREND_DAYS)],
        end,
        user_ids=history.user_ids,
        item_ids=history.item_ids,
        **INTERACTION_PARAMS,
    ).matrix
    categories = _categories(transactions, history.item_ids, items)
    model = HybridRecommender(**{"random_state": seed, **config.params})
    model.fit(
        history.matrix,
        recent_items=recent,
        item_categories=None if categories is None else categories.to_numpy(),
    )
    return RecommenderBundle(
        model=model,
        item_ids=history.item_ids,
        user_ids=history.user_ids,
        interaction_params=dict(INTERACTION_PARAMS),
        item_categories=categories,
        history=history.matrix,
        trained_until=end,
        item_prices=_median_prices(purchases, history.item_ids),
        purchase_rate_by_rank=purchase_rate_by_rank,
    )


def _median_prices(purchases: pd.DataFrame, item_ids: pd.Index) -> np.ndarray:
    """Median unit price per item code, shape (n_items,)."""
    prices = purchases.groupby(s.ITEM_ID, observed=True)[s.UNIT_PRICE].median()
    return prices.reindex(item_ids).to_numpy(dtype=float)


def _purchase_rate_by_rank(model: Any, holdout: Any, k: int) -> np.ndarray:
    """Share of holdout customers who bought the new item recommended at each rank, (k,)."""
    from kizuna.training.metrics import hit_matrix

    users = holdout.user_codes
    recs, _ = model.recommend(users, holdout.train.matrix[users], k, exclude_seen=True)
    # Every evaluated customer counts, including those who bought nothing new: a miss.
    hits, _ = hit_matrix(recs, holdout.truth["new"], k)
    return hits.mean(axis=0)


def _categories(
    transactions: pd.DataFrame, item_ids: pd.Index, items: pd.DataFrame | None
) -> pd.Series | None:
    """Category per item code: the catalogue's, else the most frequent in transactions."""
    if items is not None and s.CATEGORY in items.columns:
        return items[s.CATEGORY].reindex(item_ids).astype("string").reset_index(drop=True)
    if s.CATEGORY in transactions.columns:
        values = _item_categories(transactions, item_ids, s.ITEM_ID, s.CATEGORY)
        return pd.Series(values, dtype="string")
    return None


def _named(rows: pd.DataFrame, k: int) -> dict[str, float]:
    """Long evaluation rows -> ``{"ndcg_at_10": ..., "new_ndcg_at_10": ...}``."""
    out: dict[str, float] = {}
    for _, row in rows.iterrows():
        metric = row["metric"]
        if metric not in REPORTED:
            continue
        name = f"{metric}_at_{k}" if metric in ("precision", "recall", "ndcg", "map") else metric
        out[name if row["mode"] == "all" else f"new_{name}"] = float(row["value"])
    return out


def _recall_curves(
    models: dict[str, Any], holdout: Any
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Recall@k against k in the ``all`` mode, for each fitted model."""
    users = holdout.user_codes
    history = holdout.train.matrix[users]
    curves = {}
    for name, model in models.items():
        recs, _ = model.recommend(users, history, max(RECALL_KS), exclude_seen=False)
        recalls = [
            ranking_metrics(recs[:, :k], holdout.truth["all"], k=k, n_items=holdout.n_items)[
                "recall"
            ]
            for k in RECALL_KS
        ]
        curves[name] = (np.array(RECALL_KS), np.array(recalls))
    return curves


# The blend weights tried on the validation split; each component on its own is in the grid.
# Rankings do not change when every weight is scaled, so repurchase is on or off.
# The first five weigh the blend for any item ("all" mode), the ``new_`` ones the blend
# for new items only ("new" mode, where repurchase plays no part); each is tuned on its mode.
DEFAULT_WEIGHT_GRID: dict[str, list[float]] = {
    "repurchase_weight": [0.0, 1.0],
    "item_knn_weight": [0.0, 0.25, 0.5, 1.0],
    "als_weight": [0.0, 0.25, 0.5],
    "trending_weight": [0.0, 0.2, 0.4],
    "ease_weight": [0.0, 0.25, 0.5, 1.0],
    "new_item_knn_weight": [0.0, 0.25, 0.5, 1.0],
    "new_als_weight": [0.0, 0.25, 0.5],
    "new_trending_weight": [0.0, 0.2, 0.4, 0.6],
    "new_ease_weight": [0.0, 0.25, 0.5, 1.0],
}
TUNING_USERS = 1_500
# Each user's blend is ranked among the union of every component's top TUNING_CANDIDATES
# items: an item outside all of them practically never reaches a blend's top 10.
TUNING_CANDIDATES = 100
ALL_WEIGHT_NAMES = ("repurchase_weight", "item_knn_weight", "als_weight", "trending_weight",
                    "ease_weight")  # fmt: skip
NEW_WEIGHT_NAMES = ("new_item_knn_weight", "new_als_weight", "new_trending_weight",
                    "new_ease_weight")  # fmt: skip
WEIGHT_NAMES = ALL_WEIGHT_NAMES + NEW_WEIGHT_NAMES


def tune_blend(
    transactions: pd.DataFrame,
    val_as_of: pd.Timestamp,
    horizon_days: int,
    config: RecommenderConfig,
    *,
    seed: int,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Choose the hybrid's blend weights on a validation split before the test one.

    The components are fit and scored once (``unit_component_scores``); each
    weight combination only re-blends them over each user's candidate items
    (the union of every component's top ``TUNING_CANDIDATES``), so a grid of
    a few hundred costs seconds. The ``all``-mode weights maximise NDCG@k in
    the ``all`` mode, the ``new_`` weights NDCG@k in the ``new`` mode.

    Returns
    -------
    (weights, records)
        The chosen weights and one record per combination (``mode``,
        ``params``, validation metrics).
    """
    grid = {**DEFAULT_WEIGHT_GRID, **(config.search.grid if config.search else {})}
    holdout = holdout_split(transactions, val_as_of, horizon_days, trend_days=TREND_DAYS)
    users = holdout.user_codes
    if len(users) == 0:
        return {}, []
    if len(users) > TUNING_USERS:
        users = np.sort(np.random.default_rng(seed).choice(users, TUNING_USERS, replace=False))
    rows_kept = np.searchsorted(holdout.user_codes, users)
    fixed = {k: v for k, v in config.params.items() if k not in WEIGHT_NAMES}
    probe = HybridRecommender(**{"random_state": seed, **fixed, **dict.fromkeys(WEIGHT_NAMES, 1.0)})
    probe.fit(
        holdout.train.matrix, recent_items=holdout.recent, item_categories=holdout.item_categories
    )
    if probe.ease_ is None:  # too many items: the weight changes nothing
        grid["ease_weight"] = grid["new_ease_weight"] = [0.0]
    history = holdout.train.matrix[users]
    unit = probe.unit_component_scores(users, history).astype(np.float32)
    seen = history.toarray() > 0
    # Popularity breaks ties, as in recommend().
    rank = np.empty(probe.n_items_)
    rank[probe.tiebreak_order_] = np.arange(probe.n_items_)
    tiebreak = -1e-9 * rank / max(probe.n_items_, 1)
    records: list[dict[str, Any]] = []
    chosen: dict[str, float] = {}
    for mode, names, blend_names in (
        ("all", ALL_WEIGHT_NAMES, ALL_WEIGHT_NAMES),
        ("new", NEW_WEIGHT_NAMES, ("repurchase_weight",) + NEW_WEIGHT_NAMES),
    ):
        exclude = seen if mode == "new" else None
        cols, valid = _candidates(unit, TUNING_CANDIDATES, exclude, min_width=config.k)
        parts = np.take_along_axis(unit, cols[None], axis=2)  # (n_components, n, m)
        base = np.where(valid, tiebreak[cols], -np.inf)
        truth = holdout.truth[mode][rows_kept]
        # In the new mode repurchase is zero on every candidate: fixed at 0.
        options = [grid[name] for name in names]
        best_value = -np.inf
        for values in _product(options):
            if not any(values):
                continue
            weights = dict(zip(names, values, strict=True))
            w = np.array([weights.get(n, 0.0) for n in blend_names], dtype=np.float32)
            blend = base + np.tensordot(w, parts, axes=1)
            kk = min(config.k, blend.shape[1])
            top = np.argpartition(-blend, kk - 1, axis=1)[:, :kk]
            order = np.argsort(-np.take_along_axis(blend, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            recs = np.where(np.take_along_axis(valid, top, axis=1),
                            np.take_along_axis(cols, top, axis=1), -1)  # fmt: skip
            value = ranking_metrics(recs, truth, k=kk)["ndcg"]
            records.append(
                {
                    "mode": mode,
                    "params": weights,
                    "validation": {f"{mode}_ndcg_at_{config.k}": value},
                }
            )
            if value > best_value:  # ties keep the earlier, smaller weights
                best_value, chosen_mode = value, weights
        if best_value > -np.inf:
            chosen.update(chosen_mode)
    return chosen, records


def _candidates(
    unit: np.ndarray, per_component: int, exclude: np.ndarray | None, *, min_width: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Union of each component's top items per user, padded.

    Parameters
    ----------
    unit
        Component scores, shape (n_components, n, n_items).
    exclude
        Boolean (n, n_items): items never to propose (seen items in the new mode).

    Returns
    -------
    cols : (n, m) int64 item codes, candidates first (ascending codes)
    valid : (n, m) bool, False on padding
    """
    n_components, n, n_items = unit.shape
    chosen = np.zeros((n, n_items), dtype=bool)
    kk = min(per_component, n_items)
    rows = np.arange(n)[:, None]
    for part in unit:
        scores = part if exclude is None else np.where(exclude, -np.inf, part)
        top = (
            np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
            if kk < n_items
            else np.broadcast_to(np.arange(n_items), (n, n_items))
        )
        chosen[rows, top] = True
    if exclude is not None:
        chosen &= ~exclude
    m = min(max(int(chosen.sum(axis=1).max(initial=0)), min_width), n_items)
    cols = np.argsort(~chosen, axis=1, kind="stable")[:, :m]
    return cols, np.take_along_axis(chosen, cols, axis=1)


def _product(lists: list[list[float]]) -> list[tuple[float, ...]]:
    import itertools

    return list(itertools.product(*lists))
