"""Audiences judged on the holdout: precision@n against who actually bought.

For the ``n_targets`` items with the most buyers in the horizon (among customers
of the active population who bought before ``as_of``), each scorer picks ``n``
customers who had not bought the item in the ``exclude_days`` before ``as_of``;
precision@n is the share of them who bought it in the horizon, averaged over
the items. Scorers: kizuna (affinity × P(order), :mod:`models.audience`), the
recommender's affinity alone, P(order) alone, and the base rate (the share of
eligible customers who bought: what a random audience gets).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.pipeline import TIME_SCALERS, btyd_columns
from kizuna.features.recent_buyers import recent_item_lines
from kizuna.models.audience import scaled_scores, top_audience
from kizuna.models.next_order import probability_of_order

CHUNK = 1_000


def evaluate_audiences(
    model: Any,
    holdout: Any,
    transactions: pd.DataFrame,
    X: pd.DataFrame,
    bgnbd: Any,
    *,
    horizon_days: int,
    btyd_unit: str,
    n: int = 100,
    n_targets: int = 20,
    exclude_days: float = 30.0,
) -> dict[str, float]:
    """``audience_*`` metrics (module docstring) for MLflow.

    Parameters
    ----------
    model
        The served recommender, fitted on ``holdout.train`` (codes of the holdout).
    holdout
        :class:`training.recommender_eval.RecommenderHoldout`.
    X, bgnbd
        The test snapshot's inputs (the active population) and its BG/NBD.
    transactions
        Validated lines, shape (n, k).
    horizon_days
        The holdout window, in days.
    btyd_unit
        ``"W"`` or ``"D"``.
    n
        Audience size.
    n_targets
        How many target items are evaluated.
    exclude_days
        Customers who bought the target this many days before are left out.

    Returns
    -------
    dict of str -> float
        Metric name -> value.
    """
    if bgnbd is None or model is None:
        return {}
    user_ids = holdout.train.user_ids
    item_ids = holdout.train.item_ids
    population = X.index.astype(str)
    users = user_ids.get_indexer(population)
    keep = users >= 0
    users, population = users[keep], population[keep]
    if len(users) < 2 * n:
        return {}
    freq, rec, big_t, _ = btyd_columns()
    part = X.loc[population]
    p_order = probability_of_order(
        bgnbd, horizon_days / TIME_SCALERS[btyd_unit], part[freq], part[rec], part[big_t]
    )
    # Who bought what in the horizon: truth rows are the evaluated users.
    truth = holdout.truth["all"][:, : holdout.n_items].tocsc()
    pos_of_user = pd.Series(np.arange(len(users)), index=users)
    eval_rows = pos_of_user.reindex(holdout.user_codes).to_numpy()
    buyers_per_item = np.zeros(holdout.n_items)
    valid = ~np.isnan(eval_rows)
    counts = np.asarray((truth[valid] > 0).sum(axis=0)).ravel()
    buyers_per_item[: len(counts)] = counts
    targets = np.argsort(-buyers_per_item, kind="stable")[:n_targets]
    targets = targets[buyers_per_item[targets] > 0]
    recent = _recent_buyers(
        transactions, holdout.as_of, exclude_days, population, item_ids[targets]
    )
    history = holdout.train.matrix[users]
    aff = np.full((len(targets), len(users)), np.nan)

    def fill(lo: int) -> None:
        sl = slice(lo, lo + CHUNK)
        # The affinity for one item is its column of the rescaled scores.
        aff[:, sl] = scaled_scores(model.score_items(users[sl], history[sl]))[:, targets].T

    # It runs after training, when the second core is free: chunks are independent and each
    # is scored the same on either thread (fixed threads inside), so the values do not change.
    with ThreadPoolExecutor(2, thread_name_prefix="kizuna-audience") as pool:
        list(pool.map(fill, range(0, len(users), CHUNK)))
    precision: dict[str, list[float]] = {
        "kizuna": [],
        "affinity": [],
        "p_order": [],
        "base_rate": [],
    }
    for t, item in enumerate(targets):
        did_buy = np.zeros(len(users), bool)
        col = truth[:, item]
        buyer_eval_rows = col.indices[col.data > 0]
        rows = eval_rows[buyer_eval_rows]
        did_buy[rows[~np.isnan(rows)].astype(int)] = True
        excluded = recent[:, t]
        precision["base_rate"].append(float(did_buy[~excluded].mean()))
        for name, (a, p) in {
            "kizuna": (aff[t], p_order),
            "affinity": (aff[t], np.ones(len(users))),
            "p_order": (np.ones(len(users)), p_order),
        }.items():
            picked = top_audience(population, a, p, excluded, n)
            chosen = population.get_indexer(picked[s.CUSTOMER_ID])
            precision[name].append(float(did_buy[chosen].mean()))
    out = {f"audience_precision_at_{n}_{k}": float(np.mean(v)) for k, v in precision.items()}
    out["audience_targets"] = float(len(targets))
    out["audience_population"] = float(len(users))
    return out


def _recent_buyers(
    tx: pd.DataFrame, as_of: pd.Timestamp, days: float, population: pd.Index, items: pd.Index
) -> np.ndarray:
    """Bool (n_population, n_items): bought the item in the ``days`` before ``as_of``."""
    window = tx[recent_item_lines(tx, as_of, days)]
    out = np.zeros((len(population), len(items)), bool)
    rows = population.get_indexer(window[s.CUSTOMER_ID].astype(str))
    cols = items.get_indexer(window[s.ITEM_ID].astype(str))
    ok = (rows >= 0) & (cols >= 0)
    out[rows[ok], cols[ok]] = True
    return out
