"""Next-order predictions for served customers: the BG/NBD of the loaded models on the live state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features.pipeline import TIME_SCALERS, btyd_columns
from kizuna.models.next_order import (
    DEFAULT_HORIZONS,
    NEXT_ORDER_DATE,
    NEXT_ORDER_DAYS,
    P_ORDER,
    next_order,
)

#: Response fields, in order.
FIELDS = (NEXT_ORDER_DATE, NEXT_ORDER_DAYS, *(P_ORDER.format(h) for h in DEFAULT_HORIZONS))


def bundle_with_bgnbd(served: Any) -> tuple[str, Any] | tuple[None, None]:
    """The (kind, bundle) whose BG/NBD makes the predictions: LTV's, else churn's.

    Parameters
    ----------
    served
        The loaded snapshot.

    Returns
    -------
    kind, bundle
        Both None when no bundle has a BG/NBD.
    """
    for kind in ("ltv", "churn"):
        bundle = getattr(served.models, kind, None)
        if bundle is not None and getattr(bundle, "bgnbd", None) is not None:
            return kind, bundle
    return None, None


def predict_next_order(
    bgnbd: Any, frame: pd.DataFrame, as_of: pd.Timestamp, *, btyd_unit: str, prior_gaps: float
) -> pd.DataFrame:
    """Next-order predictions from a fitted BG/NBD for the rows of a model-input ``frame``.

    The one place the feature frame's columns are wired to
    :func:`kizuna.models.next_order.next_order`: the service, the Spark export
    and the holdout evaluation all call it.

    Parameters
    ----------
    bgnbd
        A fitted BG/NBD model.
    frame
        Model-input rows, shape (n, k), with the ``btyd_*`` columns.
    as_of
        The snapshot's instant.
    btyd_unit
        The unit of the BTYD summary, ``"W"`` or ``"D"``.
    prior_gaps
        How many gaps the BG/NBD answer weighs as against the customer's rhythm.

    Returns
    -------
    pandas.DataFrame
        Shape (len(frame), n), indexed like ``frame``, with at least :data:`FIELDS`.
    """
    freq, rec, big_t, _ = btyd_columns()
    return next_order(
        bgnbd,
        frame,
        as_of,
        days_per_unit=TIME_SCALERS[btyd_unit],
        frequency_col=freq,
        recency_col=rec,
        t_col=big_t,
        prior_gaps=prior_gaps,
    )


def bundle_next_order(bundle: Any, frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """:func:`predict_next_order` with a bundle's BG/NBD, unit and fitted prior.

    Parameters
    ----------
    bundle
        A model bundle with a BG/NBD.
    frame
        Model-input rows, shape (n, k).
    as_of
        The snapshot's instant.

    Returns
    -------
    pandas.DataFrame
        As :func:`predict_next_order`.
    """
    prior = getattr(bundle, "next_order_prior_gaps", 3.0)  # older bundles: the default
    return predict_next_order(
        bundle.bgnbd, frame, as_of, btyd_unit=bundle.btyd_unit, prior_gaps=prior
    )


def next_order_rows(served: Any, rows: np.ndarray) -> pd.DataFrame | None:
    """Predictions for frame rows ``rows`` of the bundle's frame; None without a BG/NBD.

    Parameters
    ----------
    served
        The loaded snapshot.
    rows
        Rows of the BG/NBD bundle's frame, shape (n,).

    Returns
    -------
    pandas.DataFrame or None
        Shape (len(rows), len(FIELDS)), indexed by customer id.
    """
    kind, bundle = bundle_with_bgnbd(served)
    if bundle is None:
        return None
    frame = served.state.frames[kind]
    part = frame.iloc[np.asarray(rows, dtype=np.int64)]
    out = bundle_next_order(bundle, part, served.state.as_of)
    return out[list(FIELDS)]


def positions_in(served: Any, kind_ids: list[str]) -> np.ndarray:
    """Rows of ``kind_ids`` in the BG/NBD bundle's frame (-1 when absent).

    Parameters
    ----------
    served
        The loaded snapshot.
    kind_ids
        Customer ids.

    Returns
    -------
    numpy.ndarray
        Shape (len(kind_ids),), int64.
    """
    kind, bundle = bundle_with_bgnbd(served)
    if bundle is None:
        return np.full(len(kind_ids), -1)
    return served.state.frames[kind].index.get_indexer(kind_ids)


def as_fields(row: pd.Series) -> dict[str, Any]:
    """One prediction row as JSON-safe response fields.

    Parameters
    ----------
    row
        One row of :func:`predict_next_order`.

    Returns
    -------
    dict
        Field name -> JSON-safe value.
    """
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = row[name]
        if name == NEXT_ORDER_DATE:
            out[name] = None if pd.isna(value) else pd.Timestamp(value).date()
        else:
            out[name] = None if pd.isna(value) else float(value)
    return out
