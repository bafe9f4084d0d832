"""Training the re-ranker's LambdaRank models (part of ``RerankedRecommender``).

:class:`RankerTraining` gives :class:`~models.recommenders.reranker.RerankedRecommender`
its supervised half: :meth:`~RankerTraining.ranking_data` (features and labels
of a snapshot's candidates against what the customers bought next) and
:meth:`~RankerTraining.fit_rankers` (one LambdaRank model per mode).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Self

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.candidates import GENERATORS, generator_scores
from kizuna.models.recommenders.ranking import blocks
from kizuna.models.recommenders.rerank_features import FEATURES

#: The ranking modes: ``all`` (any item) and ``new`` (items the customer never bought).
MODES = ("all", "new")


class RankerTraining:
    """Ranking data and LambdaRank fits of a fitted re-ranker (mixed into ``RerankedRecommender``)."""

    def ranking_data(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        truth: sp.csr_matrix,
        *,
        exclude_seen: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features and labels of the users' candidates, for :meth:`fit_rankers`.

        Parameters
        ----------
        user_codes, user_items
            Users (n,) and their histories (n, n_items), as for :meth:`recommend`.
        truth
            What each user bought next, ``csr_matrix`` (n, >= n_items); columns
            past ``n_items`` (items new since the fit) are ignored.
        exclude_seen
            Candidates for the ``new`` mode (never-bought items only).

        Returns
        -------
        X : (rows, len(FEATURES)) float32; y : (rows,) int 0/1; groups : (users,) sizes
            Users without a bought item among their candidates are left out.
        """
        mode = "new" if exclude_seen else "all"
        return self.ranking_data_by_mode(user_codes, user_items, {mode: truth})[mode]

    def ranking_data_by_mode(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        truths: dict[str, sp.csr_matrix],
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`ranking_data` for several modes (``{mode: truth}``), by mode.

        The generators score each block of users once for every mode (the
        same scores, so the same data as one call per mode).

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).
        truths
            Mode -> what each user bought next, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        dict of str -> (X, y, groups)
            Mode -> as :meth:`ranking_data` returns it.
        """
        codes, rows, _, _ = self._check_request(user_codes, user_items, 1, None)
        bad = [m for m in truths if m not in MODES]
        if bad:
            raise KizunaInputError(f"modes must be among {list(MODES)}", column="truths",
                                   values=bad)  # fmt: skip
        cut = {m: sp.csr_matrix(t)[:, : self.n_items_] for m, t in truths.items()}
        parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {m: [] for m in cut}
        for lo, hi in blocks(len(codes), self.n_items_ * len(GENERATORS)):
            scores = generator_scores(self.generators_, codes[lo:hi], rows[lo:hi])
            for mode, truth in cut.items():
                cols, valid, X = self._candidates(
                    codes[lo:hi], rows[lo:hi], mode == "new", scores=scores
                )
                y = np.take_along_axis(truth[lo:hi].toarray() > 0, cols, axis=1) & valid
                keep = y.any(axis=1)
                parts[mode].append(
                    (X[keep][valid[keep]], y[keep][valid[keep]], valid[keep].sum(axis=1))
                )
        return {mode: _stack(mode_parts) for mode, mode_parts in parts.items()}

    def fit_rankers(self, data: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]) -> Self:
        """Train one LambdaRank model per mode on stacked :meth:`ranking_data` outputs.

        ``data`` maps ``"all"`` and ``"new"`` to lists of ``(X, y, groups)``. A
        mode where no customer bought any candidate (a shop of one item, or where
        nobody buys anything new) gets no ranker: the blend orders it.

        Parameters
        ----------
        data
            Mode -> list of ``(X, y, groups)`` from :meth:`ranking_data`.

        Returns
        -------
        Self
            ``self``.
        """
        missing = [m for m in MODES if not data.get(m)]
        if missing:
            raise KizunaInputError("needs ranking data for every mode", column="data",
                                   values=missing)  # fmt: skip
        params = {
            "objective": "lambdarank",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambdarank_truncation_level": 20,
            "feature_fraction": 0.8,
            "feature_fraction_seed": 0 if self.random_state is None else self.random_state,
            "seed": 0 if self.random_state is None else self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
        }

        def fit_mode(mode: str) -> lgb.Booster | None:
            X = np.concatenate([d[0] for d in data[mode]])
            y = np.concatenate([d[1] for d in data[mode]])
            groups = np.concatenate([d[2] for d in data[mode]])
            if groups.size == 0:  # nobody bought a candidate (one item, nothing new): no ranker
                return None
            train = lgb.Dataset(X, y, group=groups, feature_name=list(FEATURES),
                                params={"verbosity": -1})  # fmt: skip
            return lgb.train(params, train, num_boost_round=self.n_estimators)

        # One thread per mode: each ranker is trained on its own fixed threads, so in parallel
        # they come out as they would one after the other.
        with ThreadPoolExecutor(len(MODES), thread_name_prefix="kizuna-ranker") as pool:
            fitted = dict(zip(MODES, pool.map(fit_mode, MODES), strict=True))
        self.rankers_ = {m: b for m, b in fitted.items() if b is not None}
        return self


def _stack(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated ``(X, y, groups)`` blocks, with :meth:`ranking_data`'s dtypes."""
    X = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, len(FEATURES)))
    y = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=bool)
    groups = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    return X.astype(np.float32), y.astype(np.int32), groups.astype(np.int64)
