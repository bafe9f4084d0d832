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
from kizuna.models.bundles import RecommenderBundle
from kizuna.models.recommenders import HybridRecommender
from kizuna.models.recommenders.reranker import MODES
from kizuna.training import plots
from kizuna.training.blend_tuning import TUNED_NAMES, tune_blend
from kizuna.training.config import RecommenderConfig
from kizuna.training.recommender_eval import DEFAULT_MODEL, default_models, evaluate_recommenders
from kizuna.training.recommender_figures import (
    RECALL_KS,
    named_metrics,
    purchase_rate_by_rank,
    recall_curves,
)
from kizuna.training.recommender_refit import refit_for_serving
from kizuna.training.recommender_selection import (
    configured_baselines,
    lambdarank_figures,
    select_on_validation,
)
from kizuna.training.recommender_splits import (
    hashed_sample,
    reranker_windows,
    time_or_random_splits,
)
from kizuna.training.selection import TUNED, Selection
from kizuna.training.train_reranker import RERANKED, score_split, train_reranker, with_modes


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
    seed
        The experiment's seed.
    items, customers
        The validated items and customers tables, or None.
    progress
        ``progress(step_name)`` context manager showing each step, or None.

    Returns
    -------
    RecommenderResult
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
        holdout, validation = time_or_random_splits(
            transactions, as_of, val_as_of, horizon_days, config, seed
        )
        # Tuning, selection and the re-ranker's last window read at most this many
        # validation customers (a fixed hashed sample); the holdout is scored in full.
        validation = hashed_sample(validation, config.validation_max_users)
    if len(holdout.user_codes) == 0:
        raise KizunaInputError(
            f"no customer bought both before {as_of.date()} and in the "
            f"{horizon_days} days after: move split.as_of"
        )
    windows = reranker_windows(transactions, validation, horizon_days, config)
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
                evaluate_recommenders, configured_baselines(config, seed), validation, k=config.k
            )
        baselines, baseline_rankings = configured_baselines(config, seed), {}
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
                    max_users=config.rerank_max_users,
                    params={**config.rerank_params, "generator_params": config.params},
                    selection_params={**config.rerank_params, "generator_params": early_params},
                )  # fmt: skip
        n = len(config.candidates)
        with phase(f"recommender: scoring the hybrid and {n} baselines on the validation split"):
            selection = select_on_validation(
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
            alone = None
            if reranker is not None:
                served_rows, alone = _reranked_on_holdout(
                    reranker.model, holdout, table, rankings, k=config.k, depth=depth
                )
                table = pd.concat([table, served_rows])
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
        lambdarank = lambdarank_figures(reranker, alone, config.k)
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
            **{f"hybrid_{k}": float(v) for k, v in config.params.items() if k in TUNED_NAMES},
            **{f"hybrid_{k}": float(v) for k, v in hybrid.items()},
            **lambdarank,
        },
        evaluation=(served, holdout),
        own=tuple(name for name in (DEFAULT_MODEL, RERANKED) if name in per_model),
    )


def _reranked_on_holdout(
    model: Any,
    holdout: Any,
    table: pd.DataFrame,
    rankings: dict[str, dict[str, np.ndarray]],
    *,
    k: int,
    depth: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two-stage model's holdout rows, and its rankers' alone in every mode.

    The rankers score every mode in one pass (the generators score each
    customer once); in the modes they order, that is the served model. In
    the others the served model is the hybrid's blend with the same weights
    on the same fit: the hybrid's rows and rankings (already in ``table``
    and ``rankings``) are taken, not scored again. The served model's
    rankings go into ``rankings[RERANKED]``.
    """
    ranked = tuple(m for m in MODES if m in model.rank_modes)
    # A shallow copy: it differs only in rank_modes and reads the fitted parts.
    everyone = copy.copy(model).set_params(rank_modes=MODES)
    alone_rankings: dict[str, np.ndarray] = {}
    alone = score_split(everyone, holdout, k=k, depth=depth, recommendations=alone_rankings)
    rankings[RERANKED] = {
        m: (alone_rankings if m in ranked else rankings[DEFAULT_MODEL])[m]
        for m in MODES
        if m in ranked or m in rankings[DEFAULT_MODEL]
    }
    both = with_modes(alone, table[table["model"] == DEFAULT_MODEL], ranked)
    order = both["mode"].map({m: i for i, m in enumerate(MODES)})
    return both.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True), alone


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
