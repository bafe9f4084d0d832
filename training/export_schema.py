"""The CRM export's columns: one schema for every engine, chunk and target.

:func:`training.batch_score.score_chunks`, the Spark engine and the contractual
export all give rows in :data:`COLUMNS` through :func:`conform`.
"""

from __future__ import annotations

import pandas as pd

from kizuna.features import schema as s

#: Between the item ids of ``recommendations``, best first.
REC_SEP = "|"
#: Between the phrases of ``churn_reasons``.
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


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Every :data:`COLUMNS` entry, in order and type (absent model outputs as nulls).

    Parameters
    ----------
    frame
        Export rows holding any of the :data:`COLUMNS` (others are dropped).

    Returns
    -------
    pandas.DataFrame
        Same index, exactly the :data:`COLUMNS`, cast to their types.
    """
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
