"""Item-item nearest neighbours from ``implicit`` (cosine, TF-IDF or BM25 similarity).

Scoring is a sparse product of the user's counts with the kept similarities,
batched, so it goes through the same masking and top-k code as every model in
:mod:`models.recommenders.base`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight, normalize, tfidf_weight
from threadpoolctl import threadpool_limits

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.base import Recommender


class ItemKNNRecommender(Recommender):
    """Item-item nearest neighbours: score = sum over the user's items of count x similarity.

    Parameters
    ----------
    neighbours
        Similar items kept per item (implicit's ``K``).
    similarity
        ``"bm25"`` (implicit's ``BM25Recommender``: items as documents
        weighted by BM25, then dot products), ``"cosine"`` or ``"tfidf"``.
    bm25_k1, bm25_b
        BM25 parameters (implicit's ``BM25Recommender`` defaults).
    num_threads
        implicit's threads for the similarity computation.

    Attributes
    ----------
    similarity_
        ``csr_matrix`` (n_items, n_items): row ``i`` holds item ``i``'s
        ``neighbours`` most similar items (including itself).
    """

    fit_inputs: ClassVar[tuple[str, ...]] = ("user_items",)

    def __init__(
        self,
        neighbours: int = 100,
        similarity: Literal["bm25", "cosine", "tfidf"] = "bm25",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        num_threads: int = 1,
    ) -> None:
        self.neighbours = neighbours
        self.similarity = similarity
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.num_threads = num_threads

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        check_choice(self.similarity, ("bm25", "cosine", "tfidf"), "similarity")
        check_count(self.neighbours, "neighbours")
        check_at_least(self.bm25_k1, 0, "bm25_k1")
        check_at_least(self.bm25_b, 0, "bm25_b")
        # The same item-side weightings as implicit's CosineRecommender,
        # TFIDFRecommender and BM25Recommender, made CSR here because
        # all_pairs_knn warns on (and converts) anything else.
        item_users = user_items.T
        if self.similarity == "bm25":
            weighted = bm25_weight(item_users, self.bm25_k1, self.bm25_b).T
        elif self.similarity == "tfidf":
            weighted = normalize(tfidf_weight(item_users)).T
        else:
            weighted = normalize(item_users).T
        knn = ItemItemRecommender(K=self.neighbours, num_threads=self.num_threads)
        with threadpool_limits(1, "blas"):
            knn.fit(sp.csr_matrix(weighted, dtype=np.float64), show_progress=False)
        self.similarity_ = sp.csr_matrix(knn.similarity, dtype=np.float64)
        self.similarity_.eliminate_zeros()

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self.sparse_scores(user_items).toarray()

    def sparse_scores(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """Scores as ``csr_matrix`` (n, n_items) float64: zero off the neighbours of the rows' items.

        implicit's NearestNeighboursScorer, batched: row . similarity.

        Parameters
        ----------
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape (n, n_items), float64.
        """
        return sp.csr_matrix(sp.csr_matrix(user_items, dtype=np.float64) @ self.similarity_)

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        return self.similarity_[item_codes].toarray()


def check_at_least(value: object, low: float, name: str, *, above: bool = False) -> None:
    """Raise a :class:`KizunaInputError` naming ``name`` unless ``value`` is a number at
    least ``low`` (greater than it with ``above``).

    Parameters
    ----------
    value
        The setting's value.
    low
        The bound.
    name
        The setting named in the error.
    above
        Whether ``low`` itself is refused.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or (value <= low if above else value < low):
        bound = f"greater than {low}" if above else f"at least {low}"
        raise KizunaInputError(f"must be a number {bound}", column=name, values=[value])


def check_count(value: object, name: str) -> None:
    """Raise a :class:`KizunaInputError` naming ``name`` unless ``value`` is an integer of at
    least 1 (``implicit`` crashes the process on ``K=0``).

    Parameters
    ----------
    value
        The setting's value.
    name
        The setting named in the error.
    """
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < 1:
        raise KizunaInputError("must be a whole number of at least 1", column=name, values=[value])


def check_choice(value: object, allowed: tuple[str, ...], name: str) -> None:
    """Raise a :class:`KizunaInputError` naming ``name`` unless ``value`` is in ``allowed``.

    Parameters
    ----------
    value
        The setting's value.
    allowed
        The values it may take.
    name
        The setting named in the error.
    """
    if value not in allowed:
        raise KizunaInputError(f"must be one of {list(allowed)}", column=name, values=[value])
