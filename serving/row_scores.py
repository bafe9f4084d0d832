"""Per-row reads of the served state: model scores, reasons and input columns.

:mod:`serving.scoring` answers requests with them; batch scoring and the report
call :func:`predict_rows` and :func:`reasons_for_rows` on the same state, so the
numbers match the service's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.serving.customer_state import CustomerState


def column_values(frame: Any, name: str, rows: np.ndarray) -> np.ndarray:
    """``frame[name]`` at positions ``rows`` as floats; NaN when the frame lacks the column.

    Parameters
    ----------
    frame
        A model input frame of the state (e.g. ``st.frames["ltv"]``).
    name
        The column.
    rows
        Rows of the frame, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64.
    """
    if name in frame.columns:
        return _cells(frame, name, rows).astype(float)
    return np.full(len(rows), np.nan)


def _cells(frame: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    """``frame[name]`` at positions ``rows``, without taking the (string) index along."""
    column = frame[name]
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy()[rows]  # a view of the column, then a small copy
    return np.asarray(column.array[rows], dtype=object)


def predict_rows(st: CustomerState, kind: str, bundle: Any, rows: np.ndarray) -> np.ndarray:
    """Churn probability (``kind="churn"``) or horizon value (``"ltv"``) of frame rows.

    With a precomputed input matrix the rows go straight to the model's
    public ``predict_matrix`` (the DataFrame conversion is most of a one-row
    request's cost); otherwise through ``predict_proba`` / ``predict``.
    Both give the same numbers.

    Parameters
    ----------
    st
        The serving state.
    kind
        ``"churn"`` or ``"ltv"``.
    bundle
        The model bundle of that kind.
    rows
        Rows of the state's frame, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64.
    """
    model = bundle.model
    matrix = st.matrices.get(kind)
    if matrix is not None:
        return np.asarray(model.predict_matrix(matrix[rows]), dtype=float)
    X = st.frames[kind].iloc[rows][bundle.feature_columns]
    if kind == "churn":
        return model.predict_proba(X)[:, 1]
    return np.asarray(model.predict(X))


def reasons_for_rows(
    st: CustomerState, kind: str, bundle: Any, rows: np.ndarray, top_n: int
) -> list[list[dict[str, Any]]]:
    """Up to ``top_n`` reasons per row that push the score up, strongest first.

    The model's own ``reasons_matrix`` phrases them (the same call as its
    ``predict_with_reasons``), cached per customer until their features
    change (see :meth:`CustomerState.cached_rows`).

    Parameters
    ----------
    st
        The serving state.
    kind
        ``"churn"`` or ``"ltv"``.
    bundle
        The model bundle of that kind.
    rows
        Rows of the state's frame, shape (n,).
    top_n
        Most reasons per row.

    Returns
    -------
    list of list of dict
        Per row, up to ``top_n`` reasons.
    """
    model = bundle.model
    matrix = st.matrices.get(kind)
    if matrix is None:
        X = st.frames[kind].iloc[rows][bundle.feature_columns]
        return model.predict_with_reasons(X, top_n=top_n)[1]

    def compute(missing: np.ndarray) -> list[list[dict[str, Any]]]:
        return model.reasons_matrix(matrix[missing], top_n=top_n)

    return st.cached_rows(("reasons", kind, top_n), rows, compute)
