"""Weighing purchase-count rows the way the recommender's training matrix was weighed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class RowWeigher:
    """Weighs one customer's count row the way the whole matrix was weighed.

    BM25 and TF-IDF use population statistics (item document frequency,
    mean row length); a single row is weighed with those of the population
    it joins, as implicit's ``bm25_weight`` / ``tfidf_weight`` would.
    """

    weighting: str
    idf: np.ndarray | None = None
    average_length: float = 1.0
    k1: float = 100.0
    b: float = 0.8

    @classmethod
    def fit(cls, counts: sp.csr_matrix, params: dict[str, Any]) -> RowWeigher:
        weighting = params.get("weighting", "count")
        if weighting not in ("bm25", "tfidf"):
            return cls(weighting)
        n_users, n_items = counts.shape
        df = np.bincount(counts.indices, minlength=n_items)
        idf = np.log(max(n_users, 1)) - np.log1p(df)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        return cls(
            weighting,
            idf=idf,
            average_length=float(lengths.mean()) if n_users else 1.0,
            k1=float(params.get("bm25_k1", 100.0)),
            b=float(params.get("bm25_b", 0.8)),
        )

    def __call__(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        out = sp.csr_matrix(counts, dtype=np.float64, copy=True)
        if self.weighting == "log":
            out.data = np.log1p(out.data)
        elif self.weighting == "tfidf":
            out.data = np.sqrt(out.data) * self.idf[out.indices]
        elif self.weighting == "bm25":
            length = np.asarray(out.sum(axis=1)).ravel()
            norm = (1.0 - self.b) + self.b * length / self.average_length
            row_of = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
            out.data = (
                out.data
                * (self.k1 + 1.0)
                / (self.k1 * norm[row_of] + out.data)
                * self.idf[out.indices]
            )
        out = sp.csr_matrix(out, dtype=np.float32)
        out.sort_indices()
        return out
