"""Collaborative filtering from ``implicit``: ALS and BPR (item-item neighbours: :mod:`.item_knn`).

``implicit`` does the fitting (its CPU classes, so it never probes for a GPU);
scoring is a batched matrix product here, so every model goes through the same
masking and top-k code in :mod:`models.recommenders.base`. BLAS is pinned to
one thread around implicit's calls: implicit's own threads already use the
cores, and a BLAS thread pool on top makes ALS about 10x slower.

Each model weighs the raw counts it is given itself (BM25 for ALS and the
BM25 item-kNN), so every model in an evaluation can be fitted on the same
count matrix.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from kizuna.features.interactions import InteractionWeigher
from kizuna.models.recommenders.base import Recommender
from kizuna.models.recommenders.item_knn import (
    ItemKNNRecommender,
    check_at_least,
    check_choice,
    check_count,
)

__all__ = ["ALSRecommender", "BPRRecommender", "ItemKNNRecommender"]


class ALSRecommender(Recommender):
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) via implicit.

    Parameters
    ----------
    factors, regularization, alpha, iterations
        implicit's ``AlternatingLeastSquares`` parameters.
    weighting
        ``"bm25"`` (default; implicit's ``bm25_weight`` with ``bm25_k1``,
        ``bm25_b``) or ``"none"`` (raw counts as confidence).
    random_state
        Seed of the factor initialisation; same seed, same model.
    num_threads
        implicit's threads (0 = all cores). ALS is deterministic for any value.

    Attributes
    ----------
    user_factors_, item_factors_
        Shapes (n_users, factors) and (n_items, factors), float32.
    """

    fit_inputs: ClassVar[tuple[str, ...]] = ("user_items",)

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        weighting: Literal["bm25", "none"] = "bm25",
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        random_state: int | None = 0,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.weighting = weighting
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        check_choice(self.weighting, ("bm25", "none"), "weighting")
        _check_factorisation(self)
        check_at_least(self.alpha, 0, "alpha", above=True)
        self.weights_ = (
            InteractionWeigher("bm25", k1=self.bm25_k1, b=self.bm25_b).fit(user_items)
            if self.weighting == "bm25"
            else None
        )
        weighted = user_items if self.weights_ is None else self.weights_.fit_transform(user_items)
        # implicit checks the BLAS thread pool when the model is built, so the
        # limit must already be in place.
        with threadpool_limits(1, "blas"):
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            self.model_.fit(weighted, show_progress=False)
        self.user_factors_ = self.model_.user_factors
        self.item_factors_ = self.model_.item_factors

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        factors = self.user_factors(user_codes, user_items)
        return factors.astype(np.float64) @ self.item_factors_.T.astype(np.float64)

    def update_user(self, user_code: int, row: sp.csr_matrix) -> bool:
        """Re-solve one known user's factors from a new raw-count history row (in place).

        As implicit's ``recalculate_user``, against the fixed item factors.
        See :meth:`Recommender.update_user`.

        Parameters
        ----------
        user_code
            The user's row in the fitted matrix.
        row
            The user's new raw-count history, ``csr_matrix`` shape (1, n_items).

        Returns
        -------
        bool
            Whether anything kept per user changed.
        """
        rows = self.check_user_row(user_code, row)
        self.user_factors_[int(user_code)] = self.user_factors(np.array([-1]), rows)[0]
        return True

    def update_users(self, user_codes: np.ndarray, rows: sp.csr_matrix) -> int:
        """Re-solve several known users' factors in one batch (in place); see :meth:`update_user`.

        Parameters
        ----------
        user_codes
            Rows of the users in the fitted matrix, shape (n,) int.
        rows
            Their new raw-count histories, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        int
            How many users changed.
        """
        codes, checked = self.check_user_rows(user_codes, rows)
        if codes.size:
            self.user_factors_[codes] = self.user_factors(np.full(codes.size, -1), checked)
        return int(codes.size)

    def _user_state(self, codes: np.ndarray) -> dict[str, Any]:
        return {"user_factors": self.user_factors_[codes]}

    def _set_user_state(self, state: dict[str, Any]) -> None:
        factors = _factor_rows(state, self.user_factors_)
        self.model_ = copy.copy(self.model_)  # implicit's model: item factors shared
        self.model_.user_factors = factors
        self.user_factors_ = factors

    def raw_scores(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Scores of every item, shape (n, n_items) float64: unmasked and unscaled.

        For blending inside a composite model (the hybrid, the candidate pool):
        ``user_codes`` and ``user_items`` as for :meth:`recommend`, not checked again.

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        numpy.ndarray
            Shape (n, n_items), float64.
        """
        return self._score(user_codes, user_items)

    def user_factors(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Latent factors of the users, shape (n, factors) float32.

        Known users' fitted factors; a user unseen at fit time (code ``-1``) is
        solved from their row of ``user_items`` against the fixed item factors.
        Inputs as for :meth:`recommend`, not checked again.

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        numpy.ndarray
            Shape (n, factors), float32.
        """
        known = (user_codes >= 0) & (user_codes < self.user_factors_.shape[0])
        out = np.zeros((len(user_codes), self.user_factors_.shape[1]), dtype=np.float32)
        out[known] = self.user_factors_[user_codes[known]]
        new = np.flatnonzero(~known)
        if new.size:
            # A user unseen at fit time is solved against the fixed item factors.
            rows = user_items[new]
            if self.weights_ is not None:
                rows = self.weights_.transform(rows)
            with threadpool_limits(1, "blas"):
                out[new] = self.model_.recalculate_user(new, sp.csr_matrix(rows, dtype=np.float32))
        return out

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        return _cosine(self.item_factors_, item_codes)


class BPRRecommender(Recommender):
    """Bayesian Personalised Ranking (Rendle et al. 2009) via implicit.

    Uses only which items a user bought, not how often. Users unseen at fit
    time get the average user factor (close to ranking by the learned item
    bias).

    Parameters
    ----------
    factors, learning_rate, regularization, iterations
        implicit's ``BayesianPersonalizedRanking`` parameters.
    random_state
        Seed of initialisation and sampling.
    num_threads
        implicit's threads; keep 1 for reproducible results (with more, the
        stochastic updates race).

    Attributes
    ----------
    user_factors_, item_factors_
        Shapes (n_users, factors + 1), (n_items, factors + 1): the last column
        holds implicit's item bias (user side fixed at 1).
    """

    fit_inputs: ClassVar[tuple[str, ...]] = ("user_items",)

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        random_state: int | None = 0,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        _check_factorisation(self)
        check_at_least(self.learning_rate, 0, "learning_rate", above=True)
        binary = user_items.copy()
        binary.data = (binary.data > 0).astype(np.float32)
        binary.eliminate_zeros()
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(binary, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)
        self.mean_user_factor_ = self.user_factors_.mean(axis=0)

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        known = (user_codes >= 0) & (user_codes < self.user_factors_.shape[0])
        factors = np.repeat(self.mean_user_factor_[None, :], len(user_codes), axis=0)
        factors[known] = self.user_factors_[user_codes[known]]
        return factors.astype(np.float64) @ self.item_factors_.T.astype(np.float64)

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        return _cosine(self.item_factors_[:, :-1], item_codes)

    def _user_state(self, codes: np.ndarray) -> dict[str, Any]:
        return {"user_factors": self.user_factors_[codes]}

    def _set_user_state(self, state: dict[str, Any]) -> None:
        self.user_factors_ = _factor_rows(state, self.user_factors_)


def _factor_rows(state: dict[str, Any], like: np.ndarray) -> np.ndarray:
    """``state``'s user factors; none (0 rows, same width and type) without them."""
    rows = state.get("user_factors")
    return np.zeros((0, like.shape[1]), dtype=like.dtype) if rows is None else rows


def _cosine(factors: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
    f = np.asarray(factors, dtype=np.float64)
    norms = np.linalg.norm(f, axis=1)
    norms[norms == 0] = 1.0
    unit = f / norms[:, None]
    return unit[item_codes] @ unit.T


def _check_factorisation(model: ALSRecommender | BPRRecommender) -> None:
    """The settings implicit would turn into a numpy or C error, named instead."""
    for name in ("factors", "iterations"):
        check_count(getattr(model, name), name)
    check_at_least(model.regularization, 0, "regularization")
