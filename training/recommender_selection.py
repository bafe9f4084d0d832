"""Choosing the served recommender on the validation split, and the rankers' own figures."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders import HybridRecommender
from kizuna.models.recommenders.reranker import MODES
from kizuna.training.config import RecommenderConfig
from kizuna.training.recommender_eval import (
    DEFAULT_MODEL,
    default_models,
    evaluate_recommenders,
)
from kizuna.training.recommender_figures import named_metrics
from kizuna.training.selection import TUNED, Selection, choose_served
from kizuna.training.train_reranker import (
    RERANKED,
    RerankerRun,
    choose_rank_modes,
    with_modes,
)


def select_on_validation(
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

    Parameters
    ----------
    validation
        The validation split.
    config
        The recommender config.
    primary
        The primary metric.
    seed
        The experiment's seed.
    reranker
        The re-ranker's run, or None.
    early_params
        The hybrid's weights tuned on the early window, or None.
    baselines
        The candidates' rows being computed, or None.

    Returns
    -------
    Selection
    """
    if len(validation.user_codes) == 0:
        return Selection(TUNED, primary, {}, "no validation customers: the tuned model is served")
    hybrid_params = config.params if reranker is None else (early_params or config.params)
    hybrid = {DEFAULT_MODEL: HybridRecommender(**{"random_state": seed, **hybrid_params})}
    table = pd.concat([
        evaluate_recommenders(hybrid, validation, k=config.k),
        evaluate_recommenders(configured_baselines(config, seed), validation, k=config.k)
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


def lambdarank_figures(
    reranker: RerankerRun | None, alone: pd.DataFrame | None, k: int
) -> dict[str, float]:
    """NDCG of the rankers alone (every mode ranked), on validation and holdout, for the record.

    ``lambdarank_ndcg_at_10`` etc. on the holdout, ``val_lambdarank_...`` on
    validation (the selection model): what the served two-stage model would
    score had its ranker ordered every mode. ``alone``: the holdout rows of
    the rankers alone in every mode (``score_split`` of the model with every
    mode ranked).

    Parameters
    ----------
    reranker
        The re-ranker's run, or None.
    alone
        Holdout rows of the rankers alone, or None.
    k
        The cut-off.

    Returns
    -------
    dict of str -> float
    """
    if reranker is None:
        return {}
    out = {}
    for prefix, scores in (("", alone), ("val_", reranker.validation)):
        if scores is None:
            continue
        for mode in MODES:
            rows = scores[(scores["metric"] == "ndcg") & (scores["mode"] == mode)]
            for value in rows["value"]:
                out[f"{prefix}lambdarank_{'' if mode == 'all' else 'new_'}ndcg_at_{k}"] = float(
                    value
                )
    return out


def configured_baselines(config: RecommenderConfig, seed: int) -> dict[str, Any]:
    """The configured candidates, unfitted, by name, in the configured order.

    Parameters
    ----------
    config
        The recommender config.
    seed
        The experiment's seed.

    Returns
    -------
    dict
        Name -> unfitted recommender.
    """
    available = default_models(random_state=seed)
    return {name: available[name] for name in config.candidates}
