"""Train and evaluate the recommenders on a time split, then refit the served one on all data."""

from __future__ import annotations

import copy
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
from kizuna.models.recommenders.reranker import MODES
from kizuna.training import plots
from kizuna.training.blend_tuning import TREND_DAYS, WEIGHT_NAMES, tune_blend
from kizuna.training.config import RecommenderConfig
from kizuna.training.recommender_eval import (
    DEFAULT_MODEL,
    default_models,
    evaluate_recommenders,
    holdout_split,
)
from kizuna.training.recommender_figures import (
    RECALL_KS,
    named_metrics,
    purchase_rate_by_rank,
    recall_curves,
)
from kizuna.training.recommender_refit import refit_for_serving
from kizuna.training.selection import TUNED, Selection, choose_served
from kizuna.training.train_reranker import (
    RERANKED,
    RerankerRun,
    choose_rank_modes,
    score_split,
    train_reranker,
    with_modes,
)


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
    #: kizuna's own models listed in ``baselines`` (the hybrid blend next to the two-stage
    #: model): shown, but not the baselines the registry compares against.
    own: tuple[str, ...] = ()


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
    windows = _reranker_windows(transactions, validation, horizon_days, config)
    early = next((w for w in windows if w.as_of == val_as_of - pd.Timedelta(days=horizon_days)),
                 None)  # fmt: skip
    early_params = dict(config.params)
    depth = max(config.k, *RECALL_KS)  # the holdout rankings also feed the recall curves
    with _worker() as background:
        # The blend tuned one horizon earlier and the baselines do not depend on the
        # validation-tuned weights: a worker thread fits and scores them meanwhile (every
        # fit and score on fixed threads, fits shared through the cache: the same results).
        early_tuning = None
        if config.tune_weights and early is not None:
            early_tuning = background(
                tune_blend, transactions, early.as_of, horizon_days, config, seed=seed,
                holdout=early,
            )  # fmt: skip
        val_baselines = None
        if len(validation.user_codes):
            val_baselines = background(
                evaluate_recommenders, _baselines(config, seed), validation, k=config.k
            )
        baselines, baseline_rankings = _baselines(config, seed), {}
        hold_baselines = background(
            evaluate_recommenders, baselines, holdout, k=config.k, depth=depth,
            recommendations=baseline_rankings,
        )  # fmt: skip
        if config.tune_weights:
            with phase("recommender: tuning the blend weights on the validation split"):
                weights, search = tune_blend(
                    transactions, val_as_of, horizon_days, config, seed=seed, holdout=validation
                )
            if early_tuning is not None:
                with phase(
                    "recommender: tuning the blend weights one horizon earlier (for selection)"
                ):
                    early_weights, _ = early_tuning.result()
                early_params = {**config.params, **early_weights}
            config = config.model_copy(update={"params": {**config.params, **weights}})
        primary = (
            config.primary_metric
            if config.primary_mode == "all"
            else f"new_{config.primary_metric}"
        )
        reranker = None
        if windows:
            with phase(
                "recommender: training the LambdaRank re-ranker on the windows before as_of"
            ):
                reranker = train_reranker(
                    transactions, windows, validation, holdout, k=config.k, seed=seed,
                    params={**config.rerank_params, "generator_params": config.params},
                    selection_params={**config.rerank_params, "generator_params": early_params},
                )  # fmt: skip
        n = len(config.candidates)
        with phase(f"recommender: scoring the hybrid and {n} baselines on the validation split"):
            selection = _select_on_validation(
                validation, config, primary, seed=seed, reranker=reranker,
                early_params=early_params, baselines=val_baselines,
            )  # fmt: skip
        tuned_name = (
            RERANKED if reranker is not None and reranker.validation is not None else DEFAULT_MODEL
        )
        served_name = tuned_name if selection.served == TUNED else selection.served
        # The serving refit needs only the choice: it runs on the worker during the holdout.
        serving = background(
            refit_for_serving, transactions, config, seed=seed, items=items,
            model_name=served_name,
            reranker=None if reranker is None else copy.deepcopy(reranker.model),
        )  # fmt: skip
        models: dict[str, Any] = {
            DEFAULT_MODEL: HybridRecommender(**{"random_state": seed, **config.params})
        }
        rankings: dict[str, dict[str, np.ndarray]] = {}
        with phase(f"recommender: scoring the hybrid and {n} baselines on the holdout"):
            table = evaluate_recommenders(
                models, holdout, k=config.k, depth=depth, recommendations=rankings
            )
            table = pd.concat([table, hold_baselines.result()])
            models.update(baselines)
            rankings.update(baseline_rankings)
            if reranker is not None:
                rankings[RERANKED] = {}
                table = pd.concat([table, score_split(
                    reranker.model, holdout, k=config.k, depth=depth,
                    recommendations=rankings[RERANKED],
                )])  # fmt: skip
                models[RERANKED] = reranker.model
        per_model = {name: named_metrics(rows, config.k) for name, rows in table.groupby("model")}
        if primary not in per_model[DEFAULT_MODEL]:
            raise KizunaInputError(
                f"unknown primary metric; have {sorted(per_model[DEFAULT_MODEL])}",
                column="recommender.primary_metric",
                values=[primary],
            )
        served = models[served_name]
        with phase("recommender: recall curves and purchase rates by rank"):
            ranked_all = {name: r["all"] for name, r in rankings.items() if "all" in r}
            figure = plots.recall_at_k_figure(recall_curves(models, holdout, ranked_all))
            rates = purchase_rate_by_rank(
                served, holdout, config.k, rankings.get(served_name, {}).get("new")
            )
        lambdarank = _lambdarank_figures(reranker, holdout, config.k, table)
        with phase(f"recommender: refitting the served model ({served_name}) on every purchase"):
            bundle = replace(serving.result(), purchase_rate_by_rank=rates)
    sample = bundle.user_ids[: min(5, len(bundle.user_ids))]
    hybrid = per_model[DEFAULT_MODEL]
    tuned = per_model.pop(tuned_name)
    return RecommenderResult(
        bundle=bundle,
        metrics=tuned if served_name == tuned_name else dict(per_model[served_name]),
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
            **{f"hybrid_{k}": float(v) for k, v in hybrid.items()},
            **lambdarank,
        },
        evaluation=(served, holdout),
        own=tuple(name for name in (DEFAULT_MODEL, RERANKED) if name in per_model),
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


def _reranker_windows(
    transactions: pd.DataFrame, validation: Any, horizon_days: int, config: RecommenderConfig
) -> list[Any]:
    """Training splits of the re-ranker, oldest first; empty when it is not trained.

    ``config.rerank_cutoffs`` cutoffs per horizon, over the two horizons up
    to the validation cutoff (which is the last). Empty without ``rerank``,
    under the ``random_user`` protocol, or with no customer who bought both
    before and after the earliest cutoff one horizon before validation.
    """
    if not config.rerank or config.protocol != "time":
        return []
    step = pd.Timedelta(days=horizon_days / config.rerank_cutoffs)
    first = transactions[s.TIMESTAMP].min()
    windows = [validation]
    for j in range(1, 2 * config.rerank_cutoffs):
        cutoff = validation.as_of - j * step
        if cutoff <= first:
            break
        split = holdout_split(transactions, cutoff, horizon_days, trend_days=TREND_DAYS)
        windows.insert(0, split)
    early = validation.as_of - pd.Timedelta(days=horizon_days)
    return windows if any(w.as_of <= early and len(w.user_codes) for w in windows) else []


def _lambdarank_figures(
    reranker: RerankerRun | None, holdout: Any, k: int, table: pd.DataFrame
) -> dict[str, float]:
    """NDCG of the rankers alone (every mode ranked), on validation and holdout, for the record.

    ``lambdarank_ndcg_at_10`` etc. on the holdout, ``val_lambdarank_...`` on
    validation (the selection model): what the served two-stage model would
    score had its ranker ordered every mode. ``table`` is the holdout
    evaluation: the modes its ranker orders are read from it, not scored again.
    """
    if reranker is None:
        return {}
    model = reranker.model
    ranked = table[(table["model"] == RERANKED) & table["mode"].isin(model.rank_modes)]
    missing = tuple(m for m in MODES if m not in model.rank_modes)
    if missing:
        # A shallow copy: it differs only in rank_modes and reads the fitted parts.
        everyone = copy.copy(model).set_params(rank_modes=MODES)
        ranked = pd.concat([ranked, score_split(everyone, holdout, k=k, modes=missing)])
    out = {}
    for prefix, scores in (("", ranked), ("val_", reranker.validation)):
        if scores is None:
            continue
        for mode in MODES:
            rows = scores[(scores["metric"] == "ndcg") & (scores["mode"] == mode)]
            for value in rows["value"]:
                out[f"{prefix}lambdarank_{'' if mode == 'all' else 'new_'}ndcg_at_{k}"] = float(
                    value
                )
    return out


def _select_on_validation(
    validation: Any,
    config: RecommenderConfig,
    primary: str,
    *,
    seed: int,
    reranker: RerankerRun | None = None,
    early_params: dict[str, Any] | None = None,
    baselines: Future[pd.DataFrame] | None = None,
) -> Selection:
    """Score the tuned model and every candidate on the validation split; choose the served.

    With a re-ranker, it is the tuned model and the hybrid one more
    candidate; both are judged as trained before the validation window
    (the re-ranker's rankers on the early window, the hybrid's blend
    weights tuned there, ``early_params``), so neither is scored on labels
    it learned from. Candidates without a value for ``primary`` (personal
    popularity in the ``new`` mode) take no part. No validation customers:
    the tuned model is served. ``baselines``: the candidates' rows when a
    worker is already computing them.
    """
    if len(validation.user_codes) == 0:
        return Selection(TUNED, primary, {}, "no validation customers: the tuned model is served")
    hybrid_params = config.params if reranker is None else (early_params or config.params)
    hybrid = {DEFAULT_MODEL: HybridRecommender(**{"random_state": seed, **hybrid_params})}
    table = pd.concat([
        evaluate_recommenders(hybrid, validation, k=config.k),
        evaluate_recommenders(_baselines(config, seed), validation, k=config.k)
        if baselines is None else baselines.result(),
    ])  # fmt: skip
    tuned_name = DEFAULT_MODEL
    if reranker is not None and reranker.validation is not None:
        # The ranker orders only the modes where it beats the blend; the blend does the rest.
        blend = table[table["model"] == DEFAULT_MODEL]
        modes = choose_rank_modes(reranker.validation, blend)
        reranker.model.set_params(rank_modes=modes)
        table = pd.concat([table, with_modes(reranker.validation, blend, modes)])
        tuned_name = RERANKED
    values = {
        (TUNED if name == tuned_name else name): named[primary]
        for name, rows in table.groupby("model")
        if primary in (named := named_metrics(rows, config.k))
    }
    if TUNED not in values:
        raise KizunaInputError(
            f"unknown primary metric; have {sorted(named_metrics(table, config.k))}",
            column="recommender.primary_metric",
            values=[primary],
        )
    selection = choose_served(values, metric=primary)
    if tuned_name == RERANKED:
        ranked = reranker.model.rank_modes
        blended = [m for m in MODES if m not in ranked]
        note = "; two-stage model: " + "; ".join(
            part
            for part in (
                ranked and f"LambdaRank orders {' and '.join(ranked)}",
                blended
                and f"the tuned blend orders {' and '.join(blended)} "
                "(LambdaRank did not beat it there on validation)",
            )
            if part
        )
        selection = replace(selection, reason=selection.reason + note)
    return selection


def _baselines(config: RecommenderConfig, seed: int) -> dict[str, Any]:
    """The configured candidates, unfitted, by name, in the configured order."""
    available = default_models(random_state=seed)
    return {name: available[name] for name in config.candidates}


@contextmanager
def _worker() -> Iterator[Callable[..., Future[Any]]]:
    """``submit(fn, *args, **kwargs)``: run a call on one worker thread, in this context.

    The context (the fit cache) goes with each call; BLAS is pinned to one
    thread for the block, before the worker starts, so neither thread's
    results depend on the other.
    """
    with threadpool_limits(1, "blas"):
        pool = ThreadPoolExecutor(1, thread_name_prefix="kizuna-recommender")
        try:
            yield lambda fn, *a, **kw: pool.submit(copy_context().run, fn, *a, **kw)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
