"""Train and judge the two-stage (re-ranked) recommender on the time split.

Three cutoffs, one horizon apart: ``early`` (validation minus a horizon),
``validation`` and the holdout ``as_of``. Each cutoff's features are built as
of it and its labels come from the horizon after it, so:

* **selection** (is the re-ranker served?): rankers trained on the ``early``
  cutoff alone (labels end at the validation cutoff) are scored on the
  validation split, like every baseline. Scoring rankers trained on the
  validation window's own labels there would be optimistic.
* **holdout and serving**: rankers trained on ``early`` and ``validation``
  stacked (labels end at ``as_of``: no holdout data), the generators refit on
  the holdout's history and scored once on its horizon; for serving, the
  generators refit on every purchase, rankers kept.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kizuna.features.purchase_timing import purchase_timing
from kizuna.models.recommenders.reranker import MODES, RerankedRecommender
from kizuna.training.metrics import ranking_metrics
from kizuna.training.recommender_splits import hashed_sample

RERANKED = "reranked"


@dataclass
class RerankerRun:
    """The selection model's validation scores, and the model fitted at ``as_of``.

    ``validation`` is a long table like
    :func:`training.recommender_eval.evaluate_recommenders` (``model`` =
    :data:`RERANKED`), None with too little history; ``model`` has the
    stacked rankers and generators fit before ``as_of`` (score it on the
    holdout with :func:`score_split`).
    """

    validation: pd.DataFrame | None
    model: RerankedRecommender


def train_reranker(
    transactions: pd.DataFrame,
    windows: list[Any],
    validation: Any,
    holdout: Any,
    *,
    k: int,
    params: dict[str, Any],
    selection_params: dict[str, Any],
    seed: int,
    max_users: int | None = None,
) -> RerankerRun:
    """Fit the rankers as the module docstring says; score validation and holdout.

    Parameters
    ----------
    windows
        Training :class:`~training.recommender_eval.RecommenderHoldout`
        splits, oldest first, each cutoff at most ``as_of - horizon`` (so no
        label reaches the holdout); ``validation`` is one of them. Those whose
        labels end by the validation cutoff train the selection model.
    validation, holdout
        The splits at ``as_of - horizon`` and ``as_of``.
    params, selection_params
        :class:`RerankedRecommender` parameters of the holdout / served model
        and of the selection model (its ``generator_params`` blend weights
        tuned one horizon before validation, not on validation).
    max_users
        The rankers learn from at most this many customers per window (a fixed
        hashed sample, :func:`training.recommender_splits.hashed_sample`); None: all.
    transactions
        Validated lines, shape (n, k).
    k
        The cut-off.
    seed
        The experiment's seed.

    Returns
    -------
    RerankerRun
    """
    horizon = pd.Timedelta(days=validation.horizon_days)
    usable = [w for w in windows if len(w.user_codes)]
    early = [w for w in usable if w.as_of + horizon <= validation.as_of]
    # The blend feature is the hybrid tuned on the labels of its time: selection windows
    # use the early-tuned weights, later ones the validation-tuned weights.
    selection = RerankedRecommender(**{"random_state": seed, **selection_params})
    stacked: dict[str, list[Any]] = {m: [] for m in MODES}
    for window in early:
        _fit_at(selection, transactions, window)
        _collect(selection, hashed_sample(window, max_users), stacked)
    model = RerankedRecommender(**{"random_state": seed, **selection_params}).set_params(**params)
    later = {m: list(parts) for m, parts in stacked.items()}
    selects = bool(early) and all(sum(len(d[2]) for d in v) for v in stacked.values())
    val_table = None
    reuse: dict[int, Any] = {}  # the validation window's purchase timing, made once for both
    # Each LightGBM fit runs on its own fixed threads while this thread fits the generators
    # and scores: the rankers come out as they would one after the other.
    with ThreadPoolExecutor(1, thread_name_prefix="kizuna-rankers") as pool:
        rankers = pool.submit(selection.fit_rankers, stacked) if selects else None
        for window in usable:
            if window.as_of + horizon > validation.as_of:
                _fit_at(model, transactions, window, reuse if window is validation else None)
                _collect(model, hashed_sample(window, max_users), later)
        if rankers is not None:
            rankers.result()
        final = pool.submit(model.fit_rankers, later)
        if selects:
            _fit_at(selection, transactions, validation, reuse)
            if len(validation.user_codes):
                val_table = score_split(selection, validation, k=k)
        # The holdout's generators need no ranker: they fit while the last rankers train
        # (fit_rankers sets only ``rankers_``; the fit leaves it alone).
        _fit_at(model, transactions, holdout)
        final.result()
    return RerankerRun(val_table, model)


def choose_rank_modes(reranked: pd.DataFrame, hybrid: pd.DataFrame) -> tuple[str, ...]:
    """Modes where the ranker beats the blend on validation NDCG (long tables of each).

    Parameters
    ----------
    reranked, hybrid
        Long validation tables (``model``, ``mode``, ``metric``, ``value``) of each.

    Returns
    -------
    tuple of str
    """

    def ndcg(table: pd.DataFrame, mode: str) -> float:
        rows = table[(table["metric"] == "ndcg") & (table["mode"] == mode)]
        return float(rows["value"].iloc[0]) if len(rows) else float("nan")

    return tuple(m for m in MODES if ndcg(reranked, m) > ndcg(hybrid, m))


def with_modes(
    reranked: pd.DataFrame, hybrid: pd.DataFrame, modes: tuple[str, ...]
) -> pd.DataFrame:
    """The two-stage model's table: the ranker's rows in ``modes``, the blend's in the others.

    Parameters
    ----------
    reranked, hybrid
        Long tables of each.
    modes
        The modes the ranker serves.

    Returns
    -------
    pandas.DataFrame
        Long rows.
    """
    blend = hybrid[~hybrid["mode"].isin(modes)].assign(model=RERANKED)
    return pd.concat([reranked[reranked["mode"].isin(modes)], blend], ignore_index=True)


def fit_with_timing(
    model: RerankedRecommender,
    transactions: pd.DataFrame,
    matrix: Any,
    user_ids: pd.Index,
    item_ids: pd.Index,
    as_of: pd.Timestamp,
    *,
    recent: Any,
    categories: Any,
    memo: dict[int, Any] | None = None,
) -> RerankedRecommender:
    """Fit ``model``'s generators on ``matrix`` with the purchase timing as of ``as_of``.

    ``memo``: the timing is kept there (under ``id(matrix)``) and read back by
    a later call on the same matrix.

    Parameters
    ----------
    model
        The two-stage model.
    transactions
        Validated lines, shape (n, k).
    matrix
        Purchase strengths, shape (n_users, n_items).
    user_ids, item_ids
        The matrix's row and column ids.
    as_of
        The instant of the matrix.
    recent
        Recent sales, for the trending generator.
    categories
        Category per item, shape (n_items,).
    memo
        Where the timing is kept between calls, or None.

    Returns
    -------
    RerankedRecommender
    """
    timing = None if memo is None else memo.get(id(matrix))
    if timing is None:
        timing = purchase_timing(transactions, as_of, user_ids, item_ids)
        if memo is not None:
            memo[id(matrix)] = timing
    return model.fit(matrix, recent_items=recent, item_categories=categories, timing=timing)


def score_split(
    model: RerankedRecommender,
    split: Any,
    *,
    k: int,
    modes: tuple[str, ...] = MODES,
    depth: int | None = None,
    recommendations: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """NDCG etc. in ``modes`` on a split's evaluated users (the model is fitted on it).

    With ``depth`` (> ``k``) the model ranks that many items and the metrics
    read the first ``k``; ``recommendations`` then receives ``{mode: item
    codes (n_eval, depth)}`` (as in ``evaluate_recommenders``).

    Parameters
    ----------
    model
        The fitted two-stage model.
    split
        The split, with its evaluated users and truth.
    k
        The cut-off.
    modes
        The modes to score.
    depth
        Items ranked per user (> ``k``), or None.
    recommendations
        Receives the item codes per mode, or None.

    Returns
    -------
    pandas.DataFrame
        Long rows ``mode``, ``metric``, ``value``.
    """
    users = split.user_codes
    history = split.train.matrix[users]
    ranked = model.recommend_by_mode(
        users,
        history,
        max(k, depth or k),
        modes=modes,
        exclude_all=split.excludes_training,
    )
    rows = []
    for mode in modes:
        recs, _ = ranked[mode]
        if recommendations is not None:
            recommendations[mode] = recs
        values = ranking_metrics(
            recs, split.truth[mode], k=k, n_items=split.n_items, item_popularity=split.item_share
        )
        rows.extend(
            {"model": RERANKED, "mode": mode, "metric": metric, "value": float(value)}
            for metric, value in values.items()
        )
    return pd.DataFrame(rows, columns=["model", "mode", "metric", "value"])


def _fit_at(
    model: RerankedRecommender,
    transactions: pd.DataFrame,
    split: Any,
    memo: dict[int, Any] | None = None,
) -> None:
    fit_with_timing(
        model, transactions, split.train.matrix, split.train.user_ids, split.train.item_ids,
        split.as_of, recent=split.recent, categories=split.item_categories, memo=memo,
    )  # fmt: skip


def _collect(model: RerankedRecommender, split: Any, stacked: dict[str, list[Any]]) -> None:
    users = split.user_codes
    history = split.train.matrix[users]
    data = model.ranking_data_by_mode(users, history, {m: split.truth[m] for m in MODES})
    for mode in MODES:
        stacked[mode].append(data[mode])
