"""CRM batch export: churn, value, segment and top-k items of every customer who has bought.

The served model set and customer state (:func:`serving.live.load_served`) are
scored in chunks of customers, and each chunk is written before the next is
made, so memory holds the state plus one chunk, whatever the customer count.
Targets: a ``.csv`` / ``.parquet`` file, or a table behind a SQLAlchemy URL
(``sqlite:///crm.sqlite``, ``postgresql://user@host/db``).

The columns are :mod:`training.export_schema`'s; :mod:`training.export_writers`
writes the chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.btyd_features import EXPECTED_PURCHASES, P_ALIVE
from kizuna.serving import next_order
from kizuna.training.export_schema import REASON_SEP, REC_SEP, conform


def score_chunks(
    served: Any,
    *,
    k: int = 10,
    chunk_size: int = 20_000,
    bands: tuple[float, float] = (0.3, 0.6),
    in_stock_only: bool = True,
    reasons: int = 0,
    candidate_pool: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Score every customer with a purchase history, ``chunk_size`` at a time.

    Parameters
    ----------
    served
        A :class:`serving.live.Served` snapshot.
    k
        Recommendations per customer (new items only: purchased ones excluded).
    chunk_size
        Customers per chunk.
    bands
        The churn risk thresholds, low then high (:func:`serving.scoring.risk_band`).
    in_stock_only
        Recommend only items the catalogue has in stock.
    reasons
        Churn reasons per customer (0 = none): the phrases of the model's own
        ``reasons_matrix``, as ``/churn_score`` gives them, joined by ``"; "``.
    candidate_pool
        ``None``: exact top-k; else the size of the hybrid's candidate pool
        (``scoring.candidate_pool`` of the experiment file; see
        :class:`models.recommenders.pooled.CandidatePool`).

    Yields
    ------
    pandas.DataFrame
        Up to ``chunk_size`` rows with the :data:`COLUMNS`; ``recommendations``
        holds item ids joined by ``|``, best first.
    """
    from kizuna.serving.scoring import risk_band

    if chunk_size < 1 or k < 1 or reasons < 0:
        raise KizunaInputError("chunk_size and k must be positive, reasons not negative")
    st = served.state
    models = served.models
    versions = ",".join(f"{kind}={v}" for kind, v in served.versions.items() if v is not None)
    mask = st.catalogue.in_stock.copy() if in_stock_only else None
    pool = None
    if candidate_pool is not None and models.recommender is not None:
        pool = served_pool(models.recommender.model, candidate_pool)
    ids = st.features.index
    for lo in range(0, len(ids), chunk_size):
        chunk = ids[lo : lo + chunk_size]
        feats = st.features.iloc[lo : lo + chunk_size]
        out = pd.DataFrame(
            {
                s.CUSTOMER_ID: chunk.astype(str),
                "segment": feats[s.SEGMENT].astype("string").to_numpy(),
                "rfm_score": feats[s.RFM_SCORE].astype("string").to_numpy(),
                "recency_days": feats["recency_days"].to_numpy(dtype=float),
                "frequency": feats[s.FREQUENCY].to_numpy(),
                "monetary_total": feats["monetary_total"].to_numpy(dtype=float),
            }
        )
        if models.churn is not None:
            proba = _predict(
                st.frames["churn"], chunk, models.churn, lambda m, X: m.predict_proba(X)[:, 1]
            )
            out["churn_probability"] = proba
            out["risk_band"] = [None if np.isnan(p) else risk_band(p, bands) for p in proba]
            if reasons:
                out["churn_reasons"] = _reason_texts(st, models.churn, chunk, reasons)
        if models.ltv is not None:
            frame = st.frames["ltv"]
            out["predicted_value"] = _predict(frame, chunk, models.ltv, lambda m, X: m.predict(X))
            pos = frame.index.get_indexer(chunk)
            for name, col in (("p_alive", P_ALIVE), ("expected_orders", EXPECTED_PURCHASES)):
                if col in frame.columns:
                    values = frame[col].to_numpy(dtype=float)
                    out[name] = np.where(pos >= 0, values[np.maximum(pos, 0)], np.nan)
        rows = next_order.positions_in(served, list(chunk))
        if (rows >= 0).any():
            predicted = next_order.next_order_rows(served, rows[rows >= 0])
            for col in next_order.FIELDS:
                values = pd.Series(pd.NA, index=range(len(chunk)), dtype=object)
                values[np.flatnonzero(rows >= 0)] = predicted[col].to_numpy(dtype=object)
                out[col] = values.to_numpy()
        if models.recommender is not None:
            out["recommendations"] = _recommendations(st, chunk, lo, k, mask, pool)
        out["model_versions"] = versions
        out["as_of"] = st.as_of
        yield conform(out)


def _predict(
    frame: pd.DataFrame,
    ids: pd.Index,
    bundle: Any,
    predict: Callable[[Any, pd.DataFrame], np.ndarray],
) -> np.ndarray:
    pos = frame.index.get_indexer(ids)
    out = np.full(len(ids), np.nan)
    known = pos >= 0
    if known.any():
        X = frame.iloc[pos[known]][bundle.feature_columns]
        out[known] = predict(bundle.model, X)
    return out


def _reason_texts(st: Any, bundle: Any, ids: pd.Index, top_n: int) -> list[str | None]:
    """The churn reasons of ``ids`` as text, shape (n,); None for customers not scored."""
    from kizuna.serving.row_scores import reasons_for_rows

    pos = st.frames["churn"].index.get_indexer(ids)
    out: list[str | None] = [None] * len(ids)
    known = np.flatnonzero(pos >= 0)
    if known.size:
        rows = reasons_for_rows(st, "churn", bundle, pos[known], top_n)
        for j, row in zip(known, rows, strict=True):
            out[j] = REASON_SEP.join(r["phrase"] for r in row)
    return out


def _recommendations(
    st: Any, chunk: pd.Index, lo: int, k: int, mask: np.ndarray | None, pool: Any = None
) -> list[str]:
    from kizuna.models.recommenders.pooled import pooled_recommend

    positions = np.arange(lo, lo + len(chunk))
    rows = st.history_rows(positions)
    codes = np.array([st.recommender_code(c) for c in chunk], dtype=np.int64)
    model = st.recommender.model
    items, _ = pooled_recommend(model, pool, codes, rows, k, exclude_seen=True, item_mask=mask)
    names = st.catalogue.item_ids.to_numpy(dtype=object)
    return [REC_SEP.join(names[row[row >= 0]]) for row in items]


def served_pool(model: Any, size: int) -> Any:
    """``scoring.candidate_pool`` for the served recommender (both engines).

    A recommender other than the hybrid ranks exactly, with a warning: not a
    failure of the nightly export.

    Parameters
    ----------
    model
        The served recommender.
    size
        Candidates per user.

    Returns
    -------
    CandidatePool or None
        None when ``model`` is not the hybrid.
    """
    from kizuna.models.recommenders.pooled import pool_for
    from kizuna.training.progress import err_console

    pool = pool_for(model, size)
    if pool is None:
        err_console.print(
            f"warning: scoring.candidate_pool applies to the hybrid recommender; the served one "
            f"is {type(model).__name__}, so every item is ranked exactly",
            highlight=False,
            soft_wrap=True,
        )
    return pool
