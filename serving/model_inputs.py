"""Model inputs of the served customers: BTYD outputs, booster matrices, RFM rescoring.

Pure transforms of the snapshot's feature frame with the served bundles;
nothing here is fitted (the population arrays come from the snapshot).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.btyd_features import with_btyd_outputs
from kizuna.models.bundles import TabularBundle

RECENCY, MONETARY = "recency_days", "monetary_total"


def tabular_frame(features: pd.DataFrame, bundle: TabularBundle) -> pd.DataFrame:
    """Feature frame plus the bundle's BTYD outputs, as :func:`training.snapshots.model_inputs` builds it.

    Parameters
    ----------
    features
        ``customer_features`` output, shape (n, p).
    bundle
        The churn or LTV bundle (its BTYD models, unit and feature columns).

    Returns
    -------
    pandas.DataFrame
        Shape (n, p'): every column of ``features`` but the non-features, with
        ``p_alive``, ``expected_purchases`` ... when the bundle has BG/NBD.
    """
    frame = with_btyd_outputs(
        features,
        bundle.bgnbd,
        bundle.gamma_gamma,
        horizon_days=bundle.horizon_days,
        btyd_unit=bundle.btyd_unit,
    )
    missing = [c for c in bundle.feature_columns if c not in frame.columns]
    if missing:
        raise KizunaInputError(
            f"the model needs columns the serving features lack: {missing[:5]}; "
            "was it trained on another data source or feature version?"
        )
    return frame


def input_matrix(bundle: TabularBundle, frame: pd.DataFrame) -> np.ndarray | None:
    """The booster's input for ``frame``'s rows, shape (n, p) float64; None without one.

    Parameters
    ----------
    bundle
        The churn or LTV bundle.
    frame
        Model-input rows, shape (n, k).

    Returns
    -------
    numpy.ndarray or None
        Shape (n, p), float64; None for a model without a booster.
    """
    pre = getattr(bundle.model, "preprocessor_", None)
    if pre is None or not hasattr(bundle.model, "booster_"):
        return None
    return pre.transform_matrix(frame[list(pre.feature_names_in_)])


def refresh_user_factors(model: Any, user_code: int, row: sp.csr_matrix) -> bool:
    """Refresh what the recommender keeps of a known customer after new purchases.

    ``user_code`` -1 (a customer the model never saw) needs nothing: models
    solve unseen users from their row on each call. Returns whether anything changed.

    Parameters
    ----------
    model
        The fitted recommender.
    user_code
        The customer's row in its training matrix, or -1.
    row
        The customer's new history, ``csr_matrix`` shape (1, n_items).

    Returns
    -------
    bool
        Whether anything changed.
    """
    if user_code < 0:
        return False
    return bool(model.update_user(user_code, row))


def model_frame(
    features: pd.DataFrame, bundle: TabularBundle, customers: pd.DataFrame | None
) -> pd.DataFrame:
    if bundle.mode != "contractual":
        return tabular_frame(features, bundle)
    # A contractual model reads the customers table, not purchase behaviour.
    if customers is None:
        raise KizunaInputError(
            "the contractual churn model needs the customers table "
            "(data.customers in the experiment)"
        )
    missing = [c for c in bundle.feature_columns if c not in customers.columns]
    if missing:
        raise KizunaInputError(f"the customers table lacks model columns {missing[:5]}")
    return customers


def set_rows(frame: pd.DataFrame, positions: np.ndarray, rows: pd.DataFrame) -> None:
    """Overwrite ``frame``'s rows at ``positions`` with ``rows`` (same order), in place.

    Numeric columns of one dtype are written in one 2-D assignment (one
    pandas call per dtype, not per column: a per-column ``iloc`` costs
    milliseconds each); other columns one by one.

    Parameters
    ----------
    frame
        The frame to change, shape (n, k).
    positions
        Rows to overwrite, shape (m,).
    rows
        The new rows, shape (m, k), same columns.
    """
    if len(positions) == 0:
        return
    positions = np.asarray(positions, dtype=np.int64)
    groups: dict[np.dtype, list[int]] = {}
    dtypes = list(frame.dtypes)
    present = set(rows.columns)
    for j, col in enumerate(frame.columns):
        if col not in present:
            continue
        dtype = dtypes[j]
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
            groups.setdefault(dtype, []).append(j)
        else:
            frame.iloc[positions, j] = rows[col].to_numpy()
    for dtype, cols in groups.items():
        values = rows[[frame.columns[j] for j in cols]].to_numpy(dtype=dtype)
        frame.iloc[positions, cols] = values


def refresh_users_factors(model: Any, user_codes: np.ndarray, rows: sp.csr_matrix) -> int:
    """:func:`refresh_user_factors` for many customers in one solve; return how many changed.

    ``user_codes`` has shape (n,) (-1 for customers the model never saw, who
    need nothing); ``rows`` shape (n, n_items).

    Parameters
    ----------
    model
        The fitted recommender.
    user_codes
        The customers' rows in its training matrix, shape (n,).
    rows
        Their new histories, ``csr_matrix`` shape (n, n_items).

    Returns
    -------
    int
        How many customers changed.
    """
    codes = np.asarray(user_codes, dtype=np.int64)
    known = np.flatnonzero(codes >= 0)
    if known.size == 0:
        return 0
    return int(model.update_users(codes[known], rows[known]))
