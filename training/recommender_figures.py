"""Figures of the evaluated recommenders: named metrics, recall curves, purchase rate by rank."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.training.metrics import hit_matrix, ranking_metrics

RECALL_KS = (1, 2, 3, 5, 10, 20, 30, 50)
REPORTED = ("precision", "recall", "ndcg", "map", "coverage", "mean_popularity")


def purchase_rate_by_rank(
    model: Any, holdout: Any, k: int, recs: np.ndarray | None = None
) -> np.ndarray:
    """Share of holdout customers who bought the new item recommended at each rank, (k,).

    ``recs`` is the model's ``new``-mode ranking of the holdout customers
    (n_eval, >= k) when the evaluation already made it, else it is made here.

    Parameters
    ----------
    model
        The fitted model.
    holdout
        The holdout split.
    k
        Number of ranks.
    recs
        The ``new``-mode ranking, shape (n_eval, >= k), or None.

    Returns
    -------
    numpy.ndarray
        Shape (k,), in [0, 1].
    """
    if recs is None:
        users = holdout.user_codes
        recs, _ = model.recommend(users, holdout.train.matrix[users], k, exclude_seen=True)
    recs = recs[:, :k]
    # Every evaluated customer counts, including those who bought nothing new: a miss.
    hits, _ = hit_matrix(recs, holdout.truth["new"], k)
    return hits.mean(axis=0)


def named_metrics(rows: pd.DataFrame, k: int) -> dict[str, float]:
    """Long evaluation rows -> ``{"ndcg_at_10": ..., "new_ndcg_at_10": ...}``.

    Parameters
    ----------
    rows
        Long evaluation rows (``mode``, ``metric``, ``value``).
    k
        The cut-off, in the names.

    Returns
    -------
    dict of str -> float
    """
    out: dict[str, float] = {}
    for _, row in rows.iterrows():
        metric = row["metric"]
        if metric not in REPORTED:
            continue
        name = f"{metric}_at_{k}" if metric in ("precision", "recall", "ndcg", "map") else metric
        out[name if row["mode"] == "all" else f"new_{name}"] = float(row["value"])
    return out


def recall_curves(
    models: dict[str, Any], holdout: Any, rankings: dict[str, np.ndarray] | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Recall@k against k in the ``all`` mode, for each fitted model.

    ``rankings`` maps a model's name to its ``all``-mode ranking of the
    holdout customers, (n_eval, >= max(RECALL_KS)), when the evaluation
    already made it (top-k lists are prefixes of longer ones: the same values).

    Parameters
    ----------
    models
        Name -> fitted model.
    holdout
        The holdout split.
    rankings
        Name -> its ``all``-mode ranking, shape (n_eval, >= max(RECALL_KS)); or None.

    Returns
    -------
    dict of str -> (numpy.ndarray, numpy.ndarray)
        Model -> ``(ks, recalls)``.
    """
    users = holdout.user_codes
    history = holdout.train.matrix[users]
    rankings = rankings or {}
    curves = {}
    for name, model in models.items():
        recs = rankings.get(name)
        if recs is None:
            recs, _ = model.recommend(users, history, max(RECALL_KS), exclude_seen=False)
        recalls = [
            ranking_metrics(recs[:, :k], holdout.truth["all"], k=k, n_items=holdout.n_items)[
                "recall"
            ]
            for k in RECALL_KS
        ]
        curves[name] = (np.array(RECALL_KS), np.array(recalls))
    return curves
