"""The recommender's scores of customers of the serving state over the whole catalogue.

Scored in blocks of :data:`CHUNK` customers, which bounds the memory of one
scoring call. :mod:`serving.audience_scores` keeps these scores per snapshot;
:mod:`serving.audience` scores with them when nothing is kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Customers scored per block (bounds the memory of one scoring call).
CHUNK = 2_000


def recommender_codes(st: Any, positions: np.ndarray) -> np.ndarray:
    """The recommender's row of the customers at ``positions``, shape (n,) int64; -1 if unseen.

    Parameters
    ----------
    st
        The serving state (:class:`~serving.customer_state.CustomerState`).
    positions
        Customer positions in the state's frame, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n,), int64.
    """
    bundle = st.recommender
    if bundle is None:
        return np.full(len(positions), -1, dtype=np.int64)
    ids = st.features.index[np.asarray(positions, dtype=np.int64)]
    return bundle.user_ids.get_indexer(ids).astype(np.int64, copy=False)


def score_rows(st: Any, model: Any, positions: np.ndarray) -> np.ndarray:
    """Scores of the customers at ``positions`` over the catalogue, shape (n, n_items) float64.

    Parameters
    ----------
    st
        The serving state.
    model
        The fitted recommender.
    positions
        Customer positions in the state's frame, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n, n_items), float64.
    """
    positions = np.asarray(positions, dtype=np.int64)
    out = np.empty((len(positions), st.catalogue.n_items))
    for lo in range(0, len(positions), CHUNK):
        pos = positions[lo : lo + CHUNK]
        out[lo : lo + len(pos)] = model.score_items(
            recommender_codes(st, pos), st.history_rows(pos)
        )
    return out
