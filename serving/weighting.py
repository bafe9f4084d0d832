"""The served interaction weighting: :class:`features.interaction_weights.InteractionWeigher`
set up from a recommender's ``interaction_params``."""

from __future__ import annotations

from typing import Any

import scipy.sparse as sp

from kizuna.features.interaction_weights import InteractionWeigher

#: Keys of ``interaction_params`` that configure the weighting, not the counting.
WEIGHTING_KEYS = ("weighting", "bm25_k1", "bm25_b")


def weigher_for(params: dict[str, Any]) -> InteractionWeigher:
    """The (unfitted) weighting that a recommender's ``interaction_params`` name.

    Parameters
    ----------
    params
        The recommender's ``interaction_params``.

    Returns
    -------
    InteractionWeigher
        Unfitted.
    """
    return InteractionWeigher(
        weighting=params.get("weighting", "count"),
        k1=float(params.get("bm25_k1", 100.0)),
        b=float(params.get("bm25_b", 0.8)),
    )


def fit_weigher(counts: sp.csr_matrix, params: dict[str, Any]) -> InteractionWeigher:
    """The weighting ``params`` name, fitted on the population's counts (n_users, n_items).

    Parameters
    ----------
    counts
        Purchase counts, ``csr_matrix`` shape (n_users, n_items).
    params
        The recommender's ``interaction_params``.

    Returns
    -------
    InteractionWeigher
        Fitted.
    """
    return weigher_for(params).fit(counts)
