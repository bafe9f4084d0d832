"""The hybrid's blend weights, chosen on the validation split by a grid over re-blends.

The components are fit and scored once; each weight combination only
re-blends them over each user's candidate items, so a grid of a few hundred
costs seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.models.recommenders import HybridRecommender
from kizuna.training.config import RecommenderConfig
from kizuna.training.metrics import ndcg_of_hits
from kizuna.training.ranking_truth import TruthIndex
from kizuna.training.recommender_holdout import holdout_split

# Days of sales that count as "now" for the trending component (and the repurchase boost).
TREND_DAYS = 7


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
#: Everything :func:`tune_blend` chooses: the weights, and whether the all mode keeps seen items.
TUNED_NAMES = WEIGHT_NAMES + ("seen_in_all",)


def tune_blend(
    transactions: pd.DataFrame,
    val_as_of: pd.Timestamp,
    horizon_days: int,
    config: RecommenderConfig,
    *,
    seed: int,
    holdout: Any = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Choose the hybrid's blend weights on a validation split before the test one.

    The components are fit and scored once (``unit_component_scores``); each
    weight combination only re-blends them over each user's candidate items
    (the union of every component's top ``TUNING_CANDIDATES``), so a grid of
    a few hundred costs seconds. The ``all``-mode weights maximise NDCG@k in
    the ``all`` mode, the ``new_`` weights NDCG@k in the ``new`` mode.
    ``seen_in_all`` is False when the ``all`` mode ranks better without the
    customer's own items (a shop where nobody buys an item twice).

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    val_as_of
        The validation split's instant.
    horizon_days
        The truth window.
    config
        The recommender config (its search grid and ``k``).
    seed
        Seed of the components.
    holdout
        A validation split already built, or None.

    Returns
    -------
    (weights, records)
        The chosen weights and ``seen_in_all``, and one record per combination (``mode``,
        ``params``, validation metrics).
    """
    grid = {**DEFAULT_WEIGHT_GRID, **(config.search.grid if config.search else {})}
    if holdout is None:
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
    # The all mode may also leave the customer's own items out (shops where nobody buys an
    # item twice): the new mode's lists, judged against the all mode's truth. They win
    # only by scoring higher than every blend that keeps them.
    keep_options = grid.get("seen_in_all", [True, False])
    protocol_drops = holdout.excludes_seen("all")
    all_truth = TruthIndex(holdout.truth["all"][rows_kept], len(users))
    best: dict[str, tuple[float, dict[str, Any]]] = {}

    def record(mode: str, weights: dict[str, Any], value: float) -> None:
        records.append({"mode": mode, "params": weights,
                        "validation": {f"{mode}_ndcg_at_{config.k}": value}})  # fmt: skip
        if value > best.get(mode, (-np.inf, {}))[0]:  # ties keep the earlier, smaller weights
            best[mode] = (value, weights)

    for mode, names, blend_names in (
        ("all", ALL_WEIGHT_NAMES, ALL_WEIGHT_NAMES),
        ("new", NEW_WEIGHT_NAMES, ("repurchase_weight",) + NEW_WEIGHT_NAMES),
    ):
        if mode == "all" and not (protocol_drops or True in keep_options):
            continue
        exclude = seen if holdout.excludes_seen(mode) else None
        cols, valid = _candidates(unit, TUNING_CANDIDATES, exclude, min_width=config.k)
        parts = np.take_along_axis(unit, cols[None], axis=2)  # (n_components, n, m)
        base = np.where(valid, tiebreak[cols], -np.inf)
        # Whether each candidate is relevant, looked up once: a ranking's hits are then a gather.
        truth = TruthIndex(holdout.truth[mode][rows_kept], len(users))
        relevant = truth.hits(cols) & valid
        as_all_relevant = all_truth.hits(cols) & valid if mode == "new" else None
        # In the new mode repurchase is zero on every candidate: fixed at 0.
        options = [grid[name] for name in names]
        top = None
        for values in _product(options):
            if not any(values):
                continue
            weights: dict[str, Any] = dict(zip(names, values, strict=True))
            w = np.array([weights.get(n, 0.0) for n in blend_names], dtype=np.float32)
            blend = base + np.tensordot(w, parts, axes=1)
            kk = min(config.k, blend.shape[1])
            top = top_k_columns(blend, kk, hint=top)
            # ranking_metrics()["ndcg"] of the top kk, alone
            value = ndcg_of_hits(np.take_along_axis(relevant, top, axis=1), truth.n_relevant)
            if mode == "all":
                record(mode, {**weights, "seen_in_all": True}, value)
                continue
            record(mode, weights, value)
            if False in keep_options and not protocol_drops:
                as_all = {name.removeprefix("new_"): v for name, v in weights.items()}
                hits = np.take_along_axis(as_all_relevant, top, axis=1)
                record("all", {"repurchase_weight": 0.0, **as_all, "seen_in_all": False},
                       ndcg_of_hits(hits, all_truth.n_relevant))  # fmt: skip
    chosen: dict[str, Any] = {}
    for _, weights in best.values():
        chosen.update(weights)
    return chosen, records


def top_k_columns(blend: np.ndarray, k: int, *, hint: np.ndarray | None = None) -> np.ndarray:
    """Columns of each row's ``k`` largest values, largest first, shape (n, k).

    Valid cells hold distinct values (the tie-break term makes them so), so
    the answer is unique except among ``-inf`` padding. ``hint``: any ``k``
    distinct columns per row (e.g. the previous combination's answer): the
    smallest of their values bounds each row's top ``k`` from below, so only
    the few cells at or above it (packed into a narrow matrix) are
    partitioned, not the whole row. The grid changes one weight at a time,
    so the bound is tight.

    Parameters
    ----------
    blend
        Blended scores, shape (n, width).
    k
        How many columns per row.
    hint
        Any ``k`` distinct columns per row, shape (n, k), or None.

    Returns
    -------
    numpy.ndarray
        Shape (n, k), int64.
    """
    if hint is None:
        return _top_k(blend, k)
    n, m = blend.shape
    rows = np.arange(n)[:, None]
    bound = blend[rows, hint].min(axis=1)
    loose = np.isneginf(bound)  # padding in the hint: those rows are partitioned whole
    bound[loose] = np.inf
    # Flat positions (one 1-D scan) of at least the hint's k cells per row, row by row.
    flat = np.flatnonzero(blend >= bound[:, None])
    r = flat // m
    counts = np.bincount(r, minlength=n)
    pos = np.arange(flat.size) - (np.cumsum(counts) - counts)[r]
    width = max(int(counts.max(initial=0)), k)
    packed = np.full((n, width), -np.inf)
    packed[r, pos] = blend.ravel()[flat]
    where = np.zeros((n, width), dtype=np.intp)
    where[r, pos] = flat - r * m
    top = where[rows, _top_k(packed, k)]
    if loose.any():
        top[loose] = _top_k(blend[loose], k)
    return top


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    top = np.argpartition(-values, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(values, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


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
