"""Stage one of the re-ranked recommender: candidate generators and their union.

Six generators score every item for a user, each scaled to [0, 1]: the
hybrid's five components (repurchase, BM25 item-kNN, ALS, trending, EASE; see
:mod:`models.recommenders.hybrid`) and all-time global popularity. A user's
candidates are the union of each generator's top ``per_generator`` items.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kizuna.models.recommenders.hybrid import COMPONENTS, TRENDING, HybridRecommender

#: Generator ids: the hybrid's components (same order, same indices), then popularity.
GENERATORS: tuple[str, ...] = (*COMPONENTS, "popularity")
POPULARITY = len(COMPONENTS)
#: The hybrid component whose customer-facing reason each generator borrows.
REASON_COMPONENT = np.array([*range(len(COMPONENTS)), TRENDING], dtype=np.int8)


def generator_params(params: dict | None, seed: int | None, num_threads: int) -> dict:
    """Hybrid parameters with every component switched on (its weights are not used).

    Parameters
    ----------
    params
        Hybrid parameters, or None for the defaults.
    seed
        Random seed.
    num_threads
        Threads for fitting.

    Returns
    -------
    dict
        Keyword arguments of :class:`HybridRecommender`.
    """
    weights = {
        name: 1.0
        for name in (
            "repurchase_weight", "item_knn_weight", "als_weight", "trending_weight",
            "ease_weight", "new_item_knn_weight", "new_als_weight", "new_trending_weight",
            "new_ease_weight",
        )
    }  # fmt: skip
    return {"random_state": seed, "num_threads": num_threads, **(params or {}), **weights}


def blend_weights(params: dict | None, *, exclude_seen: bool) -> np.ndarray:
    """The hybrid's blend weights for a mode, in COMPONENTS order, shape (len(COMPONENTS),).

    Parameters
    ----------
    params
        Hybrid parameters, or None for the defaults.
    exclude_seen
        Whether the mode recommends new items only (the ``new_*`` weights).

    Returns
    -------
    numpy.ndarray
        Shape (len(COMPONENTS),), float32.
    """
    p = HybridRecommender(**(params or {})).get_params()
    prefix = "new_" if exclude_seen else ""
    names = ["item_knn", "als", "trending", "ease"]
    return np.array(
        [p["repurchase_weight"], *(p[f"{prefix}{name}_weight"] for name in names)],
        dtype=np.float32,
    )


def generator_scores(
    generators: HybridRecommender, user_codes: np.ndarray, rows: sp.csr_matrix
) -> np.ndarray:
    """Each generator's scores, shape (len(GENERATORS), n, n_items) float32, in [0, 1].

    Parameters
    ----------
    generators
        The fitted generators (a hybrid with every component on).
    user_codes
        Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
    rows
        The users' histories, ``csr_matrix`` shape (n, n_items).

    Returns
    -------
    numpy.ndarray
        Shape (len(GENERATORS), n, n_items), float32, in [0, 1].
    """
    out = np.zeros((len(GENERATORS), *rows.shape), dtype=np.float32)
    generators.unit_component_scores(user_codes, rows, out=out[:POPULARITY])
    pop = generators.item_popularity_
    out[POPULARITY] = (pop / pop.max() if pop.max() > 0 else pop)[None, :]
    return out


def union_candidates(
    scores: np.ndarray, per_generator: int, exclude: np.ndarray | None, *, min_width: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Union of each generator's top ``per_generator`` items per user, padded.

    An item a generator scores 0 is not its candidate. Trending and
    popularity score every user alike: their top ``2 * per_generator`` items
    are taken once, before the exclusion.

    Parameters
    ----------
    scores
        Generator scores, shape (len(GENERATORS), n, n_items).
    exclude
        Boolean (n, n_items): items never to propose (seen items in the new mode).
    min_width
        At least this many columns (e.g. ``k``), padding included.
    per_generator
        Items taken from each generator per user.

    Returns
    -------
    cols : (n, m) int64 item codes, candidates first (ascending codes)
    valid : (n, m) bool, False on padding
    """
    _, n, n_items = scores.shape
    chosen = np.zeros((n, n_items), dtype=bool)
    for g, part in enumerate(scores):
        if g in (TRENDING, POPULARITY):
            top = np.argsort(-part[0], kind="stable")[: 2 * per_generator] if n else []
            chosen[:, top] |= part[0, top] > 0
            continue
        ranked = part if exclude is None else np.where(exclude, -np.inf, part)
        mine = ranked > 0
        crowded = np.flatnonzero(mine.sum(axis=1) > per_generator)
        # Rows with few positive scores keep them all; only crowded rows need a partition.
        if crowded.size:
            sub = ranked[crowded]
            top = np.argpartition(-sub, per_generator - 1, axis=1)[:, :per_generator]
            keep = np.zeros(sub.shape, dtype=bool)
            np.put_along_axis(keep, top, True, axis=1)
            mine[crowded] &= keep
        chosen |= mine
    if exclude is not None:
        chosen &= ~exclude
    m = min(max(int(chosen.sum(axis=1).max(initial=0)), min_width), n_items)
    cols = np.argsort(~chosen, axis=1, kind="stable")[:, :m]
    return cols, np.take_along_axis(chosen, cols, axis=1)
