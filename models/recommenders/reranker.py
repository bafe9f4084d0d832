"""The two-stage recommender: candidate generators, then a LightGBM LambdaRank re-ranker.

Stage one (:mod:`models.recommenders.candidates`): six generators (repurchase,
BM25 item-kNN, ALS, trending, EASE, global popularity) each propose their top
``candidates_per_generator`` items. Stage two: a LambdaRank model per mode
(``all``: any item; ``new``: only items the customer never bought) orders the
candidates from the features of :mod:`models.recommenders.rerank_features`.
Items outside the candidates follow, in popularity order.

Training is supervised, so it takes two calls: :meth:`fit` (the generators and
the purchase timing, on a snapshot's history), :meth:`ranking_data` (features
and labels of that snapshot's candidates against what the customers bought
next), repeated for each training snapshot, then :meth:`fit_rankers`. A later
:meth:`fit` refits the generators on newer history and keeps the rankers, so
the same rankers serve a model refit on all data.
"""

from __future__ import annotations

from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.features.purchase_timing import PurchaseTiming
from kizuna.models.recommenders.base import Recommender
from kizuna.models.recommenders.candidates import (
    GENERATORS,
    REASON_COMPONENT,
    generator_params,
    generator_scores,
)
from kizuna.models.recommenders.hybrid import TRENDING, Explained, HybridRecommender
from kizuna.models.recommenders.ranking import blocks
from kizuna.models.recommenders.rerank_features import ItemContext
from kizuna.models.recommenders.rerank_scoring import RerankScoring
from kizuna.models.recommenders.rerank_state import TimingState
from kizuna.models.recommenders.rerank_training import MODES, RankerTraining


class RerankedRecommender(RerankScoring, RankerTraining, Recommender):
    """Candidate generators + a LambdaRank re-ranker per mode; see the module docstring.

    Parameters
    ----------
    generator_params
        :class:`HybridRecommender` parameters of the generators (kNN, ALS,
        EASE settings; blend weights are ignored).
    rankers
        Trained rankers as LightGBM model text (``{mode:
        booster.model_to_string()}`` of another model's ``rankers_``), used
        instead of training with :meth:`fit_rankers`.
    candidates_per_generator
        Items each generator proposes per user.
    n_estimators, learning_rate, num_leaves, min_child_samples
        LightGBM LambdaRank settings (``deterministic``, fixed threads and seed).
    rank_modes
        Modes (``"all"``, ``"new"``) whose ranker orders the candidates; in
        the others the hybrid's blend of the generators (weights from
        ``generator_params``) scores every item, as
        :class:`HybridRecommender` does. Training chooses them on validation.
    random_state, num_threads
        Seed and threads of ALS and LightGBM.

    Attributes
    ----------
    generators_
        The fitted :class:`HybridRecommender` whose unit components are the generators.
    rankers_
        ``{"all": lightgbm.Booster, "new": ...}`` after :meth:`fit_rankers` (a mode
        without ranking data has none: the blend orders it).
    timing_
        :class:`~models.recommenders.rerank_state.TimingState` of the fitted
        users, or None when ``fit`` got no timing.
    """

    # Its fit reads ``timing`` and keeps the learned rankers: never shared (its generators are).
    fit_inputs: ClassVar[tuple[str, ...] | None] = None

    def __init__(
        self,
        generator_params: dict[str, Any] | None = None,
        rankers: dict[str, str] | None = None,
        candidates_per_generator: int = 20,
        n_estimators: int = 120,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 200,
        rank_modes: tuple[str, ...] = MODES,
        random_state: int | None = 0,
        num_threads: int = 1,
    ) -> None:
        self.generator_params = generator_params
        self.rankers = rankers
        self.rank_modes = rank_modes
        self.candidates_per_generator = candidates_per_generator
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.num_threads = num_threads

    def fit(
        self,
        user_items: sp.csr_matrix,
        *,
        recent_items: sp.spmatrix | np.ndarray | None = None,
        item_categories: np.ndarray | None = None,
        timing: PurchaseTiming | None = None,
    ) -> RerankedRecommender:
        """Fit the generators (see :meth:`Recommender.fit`); learned rankers are kept.

        ``timing`` is :func:`features.purchase_timing.purchase_timing` on the
        same id maps and instant as ``user_items``; without it the timing
        features are missing (NaN).

        Parameters
        ----------
        user_items
            ``csr_matrix``, shape (n_users, n_items): purchase strengths.
        recent_items
            What sells now, shape (n_items,) or a matrix with ``n_items`` columns.
        item_categories
            Category label of each item, shape (n_items,).
        timing
            Purchase timing on the same id maps and instant, or None.

        Returns
        -------
        RerankedRecommender
            ``self``.
        """
        if timing is not None and timing.last_days.shape != user_items.shape:
            raise KizunaInputError(
                f"timing covers shape {timing.last_days.shape}, the matrix is {user_items.shape}",
                column="timing",
            )
        self._timing_input = timing
        try:
            return super().fit(
                user_items, recent_items=recent_items, item_categories=item_categories
            )
        finally:
            del self._timing_input

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        seed, threads = self.random_state, self.num_threads
        if self.rankers is not None:
            self.rankers_ = {m: lgb.Booster(model_str=s) for m, s in self.rankers.items()}
        self.generators_ = HybridRecommender(
            **generator_params(self.generator_params, seed, threads)
        ).fit(user_items, recent_items=recent)
        timing = self._timing_input
        self.timing_ = None if timing is None else TimingState.from_timing(timing, user_items)
        n_items = user_items.shape[1]
        nan = np.full(n_items, np.nan)
        codes = np.full(n_items, -1, dtype=np.int64)
        if categories is not None:
            labels = np.asarray(categories, dtype=object)
            known = ~pd.isna(labels)  # None, NaN and pd.NA (an item the catalogue lacks)
            if known.any():
                _, inverse = np.unique(labels[known].astype(str), return_inverse=True)
                codes[known] = inverse
        age = nan if timing is None else timing.item_age_days
        self.items_ = ItemContext(
            history_days=float(np.nanmax(age)) if np.isfinite(age).any() else np.nan,
            popularity=self.item_popularity_,
            trend=self.generators_.trend_,
            age_days=nan if timing is None else timing.item_age_days,
            interval=nan if timing is None else timing.item_interval,
            price=nan if timing is None else timing.item_price,
            category=codes,
        )

    # --- scoring (candidates and rankers: RerankScoring) ---------------------------------

    def drops_seen(self, exclude_seen: bool) -> bool:
        """``exclude_seen``; in a mode the generators' blend orders (no ranker), as the hybrid.

        Parameters
        ----------
        exclude_seen
            Whether the request asks for new items only.

        Returns
        -------
        bool
        """
        mode = "new" if exclude_seen else "all"
        if mode in self.rank_modes and mode in getattr(self, "rankers_", {}):
            return bool(exclude_seen)  # the ranker learned what repeats are worth
        # As blend_weights reads the blend: from generator_params.
        return HybridRecommender(**(self.generator_params or {})).drops_seen(exclude_seen)

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        # "Also bought": the generators' co-purchase blend, as in the hybrid.
        return self.generators_.item_similarity(item_codes)

    def recommend_with_reasons(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        *,
        exclude_seen: bool = False,
        item_mask: np.ndarray | None = None,
    ) -> Explained:
        """:meth:`recommend`, with the generator that ranks each pick highest as its reason.

        ``component`` indexes :data:`models.recommenders.hybrid.COMPONENTS`
        (global popularity borrows ``trending``); an item no generator
        proposed counts as ``trending``. Anchors as in the hybrid.

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).
        k
            Number of items per user.
        exclude_seen
            Recommend only items not in the user's row.
        item_mask
            Boolean, shape (n_items,): True = allowed.

        Returns
        -------
        Explained
            ``item_codes`` and ``scores`` as :meth:`recommend` gives them, with the
            reason of each pick (see :class:`Explained`).
        """
        codes, rows, k, mask = self._check_request(user_codes, user_items, k, item_mask)
        items, scores = self.recommend(
            codes, rows, k, exclude_seen=exclude_seen, item_mask=item_mask
        )
        component = np.full(items.shape, -1, dtype=np.int8)
        for lo, hi in blocks(len(codes), self.n_items_ * len(GENERATORS)):
            gen = generator_scores(self.generators_, codes[lo:hi], rows[lo:hi])
            picks = np.maximum(items[lo:hi], 0)
            at = np.take_along_axis(gen, np.broadcast_to(picks, (len(gen), *picks.shape)), axis=2)
            best = REASON_COMPONENT[at.argmax(axis=0)]
            best[at.max(axis=0) <= 0] = TRENDING
            component[lo:hi] = np.where(items[lo:hi] >= 0, best, -1)
        anchor = self.generators_.anchor_items(rows, items, component)
        return Explained(items, scores, component, anchor)

    # --- per-user state -------------------------------------------------------------------

    def _user_state(self, codes: np.ndarray) -> dict[str, Any]:
        timing = None if self.timing_ is None else self.timing_.subset(codes)
        return {"generators": self.generators_.user_state(codes), "timing": timing}

    def _set_user_state(self, state: dict[str, Any]) -> None:
        self.generators_ = self.generators_.for_users(state.get("generators"))
        if self.timing_ is not None:
            timing = state.get("timing")
            empty = np.zeros(0, dtype=np.int64)
            self.timing_ = timing if timing is not None else self.timing_.subset(empty)

    # --- live updates ---------------------------------------------------------------------

    def update_user(self, user_code: int, row: sp.csr_matrix) -> bool:
        """Refresh a known user's ALS factors and purchase timing from a new history row.

        Items whose count went up were bought at the fit's instant (0 days ago).

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
        changed = bool(self.generators_.update_user(user_code, rows))
        if self.timing_ is not None:
            changed = self.timing_.update(np.array([user_code]), rows) > 0 or changed
        return changed

    def update_users(self, user_codes: np.ndarray, rows: sp.csr_matrix) -> int:
        """:meth:`update_user` for several known users at once; return how many changed.

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
        n = self.generators_.update_users(codes, checked)
        if self.timing_ is not None:
            n = max(n, self.timing_.update(codes, checked))
        return int(n)
