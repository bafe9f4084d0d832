"""Train and evaluate the recommenders on a time split, then refit the served one on all data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import copy_context
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import build_interactions
from kizuna.models.bundles import RecommenderBundle
from kizuna.models.recommenders import HybridRecommender
from kizuna.models.recommenders.fit_cache import shared_fits
from kizuna.training import plots
from kizuna.training.blend_tuning import TREND_DAYS, WEIGHT_NAMES, tune_blend
from kizuna.training.config import RecommenderConfig
from kizuna.training.metrics import hit_matrix
from kizuna.training.recommender_eval import (
    DEFAULT_MODEL,
    _item_categories,
    default_models,
    evaluate_recommenders,
    holdout_split,
)
from kizuna.training.selection import TUNED, Selection, choose_served

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
    selection: Selection | None = None
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
    progress: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> RecommenderResult:
    """Evaluate the configured model against the candidates, then refit it on everything.

    ``progress(title)`` wraps each phase (e.g. :func:`training.progress.step`).

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
    phase = progress or (lambda title: nullcontext())
    val_as_of = as_of - pd.Timedelta(days=horizon_days)
    with phase("recommender: building the validation and holdout splits"):
        holdout, validation = _splits(transactions, as_of, val_as_of, horizon_days, config, seed)
    if len(holdout.user_codes) == 0:
        raise KizunaInputError(
            f"no customer bought both before {as_of.date()} and in the "
            f"{horizon_days} days after: move split.as_of"
        )
    # Components are fitted once per split and shared (the tuning probe, the
    # hybrid and the baseline of the same name); the baselines, which do not
    # depend on the tuned weights, are fitted and scored on other threads
    # meanwhile, and so is the served model's refit once it is chosen. Every fit
    # and score is single-threaded: results do not change.
    rankings: dict[str, dict[str, np.ndarray]] = {}
    models: dict[str, Any] = {DEFAULT_MODEL: None, **_baseline_models(config, seed)}
    with shared_fits(), _more_threads() as background:
        val_baselines = None
        if len(validation.user_codes):
            val_baselines = background(
                evaluate_recommenders, _baseline_models(config, seed), validation, k=config.k
            )
        hold_baselines = background(
            evaluate_recommenders,
            {name: model for name, model in models.items() if model is not None},
            holdout,
            k=config.k,
            depth=max(RECALL_KS),
            recommendations=rankings,
        )
        if config.tune_weights:
            with phase("recommender: tuning the blend weights on the validation split"):
                weights, search = tune_blend(
                    transactions, val_as_of, horizon_days, config, seed=seed, holdout=validation
                )
            config = config.model_copy(update={"params": {**config.params, **weights}})
        primary = (
            config.primary_metric
            if config.primary_mode == "all"
            else f"new_{config.primary_metric}"
        )
        n = len(config.candidates)
        with phase(f"recommender: scoring the hybrid and {n} baselines on the validation split"):
            selection = _select_on_validation(
                validation, config, primary, seed=seed, baselines=val_baselines
            )
        served_name = DEFAULT_MODEL if selection.served == TUNED else selection.served
        refit = background(
            refit_for_serving, transactions, config, seed=seed, items=items, model_name=served_name
        )
        models[DEFAULT_MODEL] = HybridRecommender(**{"random_state": seed, **config.params})
        with phase(f"recommender: scoring the hybrid and {n} baselines on the holdout"):
            table = evaluate_recommenders(
                {DEFAULT_MODEL: models[DEFAULT_MODEL]},
                holdout,
                k=config.k,
                depth=max(RECALL_KS),
                recommendations=rankings,
            )
            table = pd.concat([table, hold_baselines.result()], ignore_index=True)
        per_model = {name: _named(rows, config.k) for name, rows in table.groupby("model")}
        if primary not in per_model[DEFAULT_MODEL]:
            raise KizunaInputError(
                f"unknown primary metric; have {sorted(per_model[DEFAULT_MODEL])}",
                column="recommender.primary_metric",
                values=[primary],
            )
        served = models[served_name]
        with phase("recommender: recall curves and purchase rates by rank"):
            figure = plots.recall_at_k_figure(_recall_curves(models, rankings, holdout))
            rates = _purchase_rate_by_rank(served, holdout, config.k, rankings.get(served_name))
        with phase(f"recommender: refitting the served model ({served_name}) on every purchase"):
            bundle = replace(refit.result(), purchase_rate_by_rank=rates)
    sample = bundle.user_ids[: min(5, len(bundle.user_ids))]
    tuned = per_model.pop(DEFAULT_MODEL)
    return RecommenderResult(
        bundle=bundle,
        metrics=tuned if served_name == DEFAULT_MODEL else dict(per_model[served_name]),
        selection=selection,
        baselines=per_model,
        primary_metric=primary,
        figures={"recommender_recall_at_k.png": figure},
        search=search,
        input_example=pd.DataFrame({s.CUSTOMER_ID: np.asarray(sample, dtype=object)}),
        extra_metrics={
            "recommender_eval_customers": float(len(holdout.user_codes)),
            "recommender_items": float(holdout.n_items),
            **{f"hybrid_{k}": float(v) for k, v in config.params.items() if k in WEIGHT_NAMES},
            **{f"hybrid_{k}": float(v) for k, v in tuned.items()},
        },
        evaluation=(served, holdout),
    )


def _splits(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    val_as_of: pd.Timestamp,
    horizon_days: int,
    config: RecommenderConfig,
    seed: int,
) -> tuple[Any, Any]:
    """(holdout, validation) under the configured protocol."""
    if config.protocol == "random_user":
        from kizuna.training.random_holdout import random_user_split

        end = transactions[s.TIMESTAMP].max() + pd.Timedelta(seconds=1)
        everything = build_interactions(transactions, end)
        frac = config.holdout_fraction
        holdout = random_user_split(everything, fraction=frac, seed=seed)
        validation = random_user_split(holdout.train, fraction=frac, seed=seed + 1)
    else:
        holdout = holdout_split(transactions, as_of, horizon_days, trend_days=TREND_DAYS)
        validation = holdout_split(transactions, val_as_of, horizon_days, trend_days=TREND_DAYS)
    return holdout, validation


def _select_on_validation(
    validation: Any,
    config: RecommenderConfig,
    primary: str,
    *,
    seed: int,
    baselines: Future[pd.DataFrame] | None = None,
) -> Selection:
    """Score the tuned hybrid and every candidate on the validation split; choose the served.

    ``baselines`` are the candidates' evaluation rows when they are already
    being computed (else they are computed here). Candidates without a value
    for ``primary`` (personal popularity in the ``new`` mode) take no part. No
    validation customers: the hybrid is served.
    """
    if len(validation.user_codes) == 0:
        return Selection(TUNED, primary, {}, "no validation customers: the tuned model is served")
    hybrid = {DEFAULT_MODEL: HybridRecommender(**{"random_state": seed, **config.params})}
    table = evaluate_recommenders(hybrid, validation, k=config.k)
    rows = (
        evaluate_recommenders(_baseline_models(config, seed), validation, k=config.k)
        if baselines is None
        else baselines.result()
    )
    table = pd.concat([table, rows], ignore_index=True)
    values = {
        (TUNED if name == DEFAULT_MODEL else name): named[primary]
        for name, rows in table.groupby("model")
        if primary in (named := _named(rows, config.k))
    }
    if TUNED not in values:
        raise KizunaInputError(
            f"unknown primary metric; have {sorted(_named(table, config.k))}",
            column="recommender.primary_metric",
            values=[primary],
        )
    return choose_served(values, metric=primary)


def _baseline_models(config: RecommenderConfig, seed: int) -> dict[str, Any]:
    """Unfitted candidates, by name, in the configured order."""
    available = default_models(random_state=seed)
    return {name: available[name] for name in config.candidates}


@contextmanager
def _more_threads() -> Iterator[Callable[..., Future[Any]]]:
    """``submit(fn, *args, **kwargs)`` runs a call on one of two more threads, in this context.

    BLAS stays at one thread on all of them (set here, before any starts, so no
    nested limit can restore more threads while another computes).
    """
    with threadpool_limits(1, "blas"):
        pool = ThreadPoolExecutor(2, thread_name_prefix="kizuna-recommender")
        try:
            yield lambda fn, *args, **kwargs: pool.submit(copy_context().run, fn, *args, **kwargs)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def refit_for_serving(
    transactions: pd.DataFrame,
    config: RecommenderConfig,
    *,
    seed: int,
    items: pd.DataFrame | None = None,
    purchase_rate_by_rank: np.ndarray | None = None,
    model_name: str = DEFAULT_MODEL,
) -> RecommenderBundle:
    """Fit the served model (the hybrid or the named baseline) on every purchase.

    The bundle holds the id maps and history the model needs.
    """
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
    if model_name == DEFAULT_MODEL:
        model = HybridRecommender(**{"random_state": seed, **config.params})
    else:
        model = default_models(random_state=seed)[model_name]
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


def _purchase_rate_by_rank(
    model: Any, holdout: Any, k: int, rankings: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """Share of holdout customers who bought the new item recommended at each rank, (k,).

    ``rankings`` is the model's evaluation output (``{"new": codes}``, at
    least ``k`` wide), when there is one.
    """
    if rankings is not None and "new" in rankings:
        recs = rankings["new"][:, :k]
    else:
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
    models: dict[str, Any], rankings: dict[str, dict[str, np.ndarray]], holdout: Any
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Recall@k against k in the ``all`` mode, for each model.

    ``rankings`` holds each model's ``all``-mode evaluation output, at least
    ``max(RECALL_KS)`` wide.
    """
    curves = {}
    for name in models:
        # One hit matrix; recall@k of its first k columns is ranking_metrics()["recall"].
        hits, n_relevant = hit_matrix(rankings[name]["all"], holdout.truth["all"], max(RECALL_KS))
        counted = n_relevant > 0
        recalls = [
            float((hits[:, :k].sum(axis=1) / np.maximum(n_relevant, 1))[counted].mean())
            if counted.any()
            else float("nan")
            for k in RECALL_KS
        ]
        curves[name] = (np.array(RECALL_KS), np.array(recalls))
    return curves
