"""Model inputs of the served customers: BTYD outputs, booster matrices, RFM rescoring.

Pure transforms of the snapshot's feature frame with the served bundles;
nothing here is fitted (the population arrays come from the snapshot).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.segments import N_SCORES, rfm_segments
from kizuna.models.btyd_features import with_btyd_outputs
from kizuna.models.bundles import TabularBundle

RECENCY, MONETARY = "recency_days", "monetary_total"


def tabular_frame(features: pd.DataFrame, bundle: TabularBundle) -> pd.DataFrame:
    """Feature frame plus the bundle's BTYD outputs, as :func:`training.snapshots.model_inputs` builds it.

    Parameters
    ----------
    features
        ``customer_features`` output, shape (n, p).

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
    """The booster's input for ``frame``'s rows, shape (n, p) float64; None without one."""
    pre = getattr(bundle.model, "preprocessor_", None)
    if pre is None or not hasattr(bundle.model, "booster_"):
        return None
    return pre.transform_matrix(frame[list(pre.feature_names_in_)])


def refresh_user_factors(model: Any, user_code: int, row: sp.csr_matrix) -> bool:
    """Re-solve a known customer's latent factors from their new history row.

    Factor models (ALS, alone or inside the hybrid) keep one factor row per
    training customer; after new purchases that row is re-solved against the
    fixed item factors, as implicit's ``recalculate_user`` does, so the
    customer's recommendations move at once. Models without user factors
    read the history row on every call and need nothing. Returns whether a
    factor row was changed.
    """
    if user_code < 0:
        return False  # unseen at fit time: factor models solve from the row on each call
    if hasattr(model, "update_user"):
        model.update_user(user_code, row)
        return True
    changed = False
    for part in (model, getattr(model, "als_", None)):
        factors = getattr(part, "user_factors_", None)
        solve = getattr(part, "_user_factors", None)
        if factors is None or solve is None or not hasattr(part, "model_"):
            continue
        if user_code < factors.shape[0]:
            factors[user_code] = solve(np.array([-1]), row)[0]
            changed = True
    return changed


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


def rfm_population(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """Sorted R, F, M values of the population, each shape (n,): the quintile cut points.

    Computed once when the snapshot is written; events rescore single
    customers against it (:func:`rescore`), as ``features.segments.rfm_scores``
    would have scored them in the whole population.
    """
    return {
        "r": np.sort(-features[RECENCY].to_numpy(dtype=float)),
        "f": np.sort(features[s.FREQUENCY].to_numpy(dtype=float)),
        "m": np.sort(features[MONETARY].to_numpy(dtype=float)),
    }


def population_score(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Quintile score 1..5 as ``features.segments.rfm_scores`` (ties 'min') gives it."""
    n = max(len(sorted_values), 1)
    below = np.searchsorted(sorted_values, values, side="left")
    return np.minimum(1 + (N_SCORES * below.astype(np.int64)) // n, N_SCORES)


def rescore(feats: pd.DataFrame, population: dict[str, np.ndarray]) -> pd.DataFrame:
    """R, F, M scores, RFM code and segment of ``feats`` against ``population``."""
    r = population_score(population["r"], -feats[RECENCY].to_numpy(dtype=float))
    f = population_score(population["f"], feats[s.FREQUENCY].to_numpy(dtype=float))
    m = population_score(population["m"], feats[MONETARY].to_numpy(dtype=float))
    out = feats.copy()
    out[s.R_SCORE], out[s.F_SCORE], out[s.M_SCORE] = r, f, m
    out[s.RFM_SCORE] = pd.array(
        [f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)], dtype="string"
    )
    out[s.SEGMENT] = rfm_segments(out)
    return out


def set_rows(frame: pd.DataFrame, positions: np.ndarray, rows: pd.DataFrame) -> None:
    """Overwrite ``frame``'s rows at ``positions`` with ``rows`` (same order), in place.

    Numeric columns of one dtype are written in one 2-D assignment (one
    pandas call per dtype, not per column: a per-column ``iloc`` costs
    milliseconds each); other columns one by one.
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
    """
    codes = np.asarray(user_codes, dtype=np.int64)
    known = np.flatnonzero(codes >= 0)
    if known.size == 0:
        return 0
    if hasattr(model, "update_users"):
        model.update_users(codes[known], rows[known])
        return int(known.size)
    return sum(refresh_user_factors(model, int(codes[j]), rows[j]) for j in known)
