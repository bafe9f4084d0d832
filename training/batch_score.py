"""CRM batch export: churn, value, segment and top-k items of every customer who has bought.

The served model set and customer state (:func:`serving.live.load_served`) are
scored in chunks of customers, and each chunk is written before the next is
made, so memory holds the state plus one chunk, whatever the customer count.
Targets: a ``.csv`` / ``.parquet`` file, or a table behind a SQLAlchemy URL
(``sqlite:///crm.sqlite``, ``postgresql://user@host/db``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.btyd_features import EXPECTED_PURCHASES, P_ALIVE
from kizuna.serving import next_order
from kizuna.serving.sql_driver import missing_driver
from kizuna.training.atomic_write import replacing
from kizuna.training.csv_safety import neutralise_formulas

DEFAULT_TABLE = "customer_scores"
REC_SEP = "|"
REASON_SEP = "; "

#: Output columns and their types: every chunk is cast to these, so file
#: schemas and SQL column types never depend on what one chunk happens to hold.
COLUMNS: dict[str, str] = {
    s.CUSTOMER_ID: "string",
    "segment": "string",
    "rfm_score": "string",
    "recency_days": "float64",
    "frequency": "Int64",
    "monetary_total": "float64",
    "churn_probability": "float64",
    "risk_band": "string",
    "churn_reasons": "string",
    "predicted_value": "float64",
    "p_alive": "float64",
    "expected_orders": "float64",
    "next_order_date": "datetime64[us]",
    "next_order_days": "float64",
    "p_order_30d": "float64",
    "p_order_60d": "float64",
    "p_order_90d": "float64",
    "recommendations": "string",
    "model_versions": "string",
    "as_of": "datetime64[us]",
}


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
    from kizuna.serving.scoring import reasons_for_rows

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


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Every :data:`COLUMNS` entry, in order and type (absent model outputs as nulls)."""
    out = pd.DataFrame(index=frame.index)
    for col, dtype in COLUMNS.items():
        values = frame[col] if col in frame.columns else pd.Series(pd.NA, index=frame.index)
        if dtype.startswith("datetime"):
            out[col] = pd.to_datetime(values).astype(dtype)
        elif dtype == "float64":
            out[col] = pd.to_numeric(values, errors="coerce").astype(dtype)
        else:
            out[col] = values.astype(dtype)
    return out


def is_sql_url(target: str) -> bool:
    return "://" in target


def check_target(target: str) -> None:
    """Refuse an output the writers cannot produce, before any scoring work."""
    name = target.lower()
    if not (is_sql_url(target) or name.endswith((".csv", ".csv.gz", ".parquet"))):
        raise KizunaInputError(
            f"cannot tell the output type of {target}: use .csv, .csv.gz, "
            ".parquet or a SQLAlchemy URL such as sqlite:///crm.sqlite"
        )


def write_chunks(
    chunks: Iterator[pd.DataFrame],
    target: str,
    *,
    table: str = DEFAULT_TABLE,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Write chunks to a CSV or Parquet file, or a SQL table (replaced); return the row count.

    Parameters
    ----------
    target
        A path ending in ``.csv`` / ``.csv.gz`` / ``.parquet``, or a SQLAlchemy URL.
    on_chunk
        Called with each chunk's row count (progress).
    """
    check_target(target)
    if is_sql_url(target):
        return _write_sql(chunks, target, table, on_chunk)
    name = Path(target).name.lower()
    # Written beside the target and renamed over it when complete: a failure or
    # a kill part-way leaves last night's file as it was, not a truncated one.
    with replacing(target) as temp:
        if name.endswith(".parquet"):
            return _write_parquet(chunks, temp, on_chunk)
        return _write_csv(chunks, temp, on_chunk, gz=name.endswith(".gz"))


def _write_csv(
    chunks: Iterator[pd.DataFrame],
    path: Path,
    on_chunk: Callable[[int], None] | None,
    *,
    gz: bool,
) -> int:
    import gzip

    total = 0
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:
        for i, chunk in enumerate(chunks):
            neutralise_formulas(chunk).to_csv(handle, index=False, header=i == 0)
            total += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
    return total


def _write_parquet(
    chunks: Iterator[pd.DataFrame], path: Path, on_chunk: Callable[[int], None] | None
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    total = 0
    writer = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            total += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no customers: still leave a readable, empty file
        pq.write_table(pa.Table.from_pandas(conform(pd.DataFrame()), preserve_index=False), path)
    return total


def _write_sql(
    chunks: Iterator[pd.DataFrame], url: str, table: str, on_chunk: Callable[[int], None] | None
) -> int:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        missing = missing_driver(exc, url)  # "pip install 'kizuna[postgres]'"
        raise missing or KizunaInputError(f"cannot use the SQL target {url!r}: {exc}") from None
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)  # as the file outputs do
    total = 0
    try:
        # One transaction: readers see the old table or the new one, never half.
        with engine.begin() as conn:
            first = True
            for chunk in chunks:
                chunk.to_sql(
                    table,
                    conn,
                    if_exists="replace" if first else "append",
                    index=False,
                    chunksize=5_000,
                )
                first = False
                total += len(chunk)
                if on_chunk:
                    on_chunk(len(chunk))
            if first:
                conform(pd.DataFrame()).to_sql(table, conn, if_exists="replace", index=False)
    except sa.exc.OperationalError as exc:  # cannot open or write the database
        raise KizunaInputError(f"cannot write to {url}: {exc.orig}") from None
    finally:
        engine.dispose()
    return total


def served_pool(model: Any, size: int) -> Any:
    """``scoring.candidate_pool`` for the served recommender (both engines), or None with a
    warning when it is not the hybrid: exact top-k, not a failure of the nightly export."""
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
