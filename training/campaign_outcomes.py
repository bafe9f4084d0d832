"""A campaign's outcomes table, checked: offer ids, treated flags, 0/1 outcomes, revenue; costs per row."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import OfferCatalogue


def checked_outcomes(
    outcomes: pd.DataFrame, offer_col: str, treated_col: str, outcome_col: str, revenue_col: str
) -> pd.DataFrame:
    """A copy of ``outcomes`` with offer ids as text, treated as bool, outcome 0/1, revenue float.

    Parameters
    ----------
    outcomes
        One row per customer and offer, shape (n, k).
    offer_col, treated_col, outcome_col, revenue_col
        Its columns.

    Returns
    -------
    pandas.DataFrame
        Shape (n, k), a copy.
    """
    if not isinstance(outcomes, pd.DataFrame):
        raise KizunaInputError("outcomes must be a table", column=outcome_col)
    for col in (offer_col, treated_col, outcome_col, revenue_col):
        if col not in outcomes.columns:
            raise KizunaInputError(
                f"the outcomes need columns "
                f"{[s.CUSTOMER_ID, offer_col, treated_col, outcome_col, revenue_col]}; "
                f"they have {list(map(str, outcomes.columns))}", column=col,
            )  # fmt: skip
    frame = outcomes.copy()
    frame[offer_col] = frame[offer_col].astype("str")
    if frame[offer_col].isna().any():
        raise KizunaInputError("offer ids must not be missing", column=offer_col)
    frame[treated_col] = treated_flags(frame[treated_col], column=treated_col)
    y = pd.to_numeric(frame[outcome_col], errors="coerce")
    bad = y.isna() | ~y.isin([0, 1])
    if bad.any():
        raise KizunaInputError(
            "outcomes must be 0 or 1", column=outcome_col, values=frame[outcome_col][bad].unique()
        )
    frame[outcome_col] = y
    r = pd.to_numeric(frame[revenue_col], errors="coerce")
    bad = r.isna() | ~np.isfinite(r)
    if bad.any():
        raise KizunaInputError(
            "revenue must be numbers (0 when nothing was bought)",
            column=revenue_col,
            values=frame[revenue_col][bad].unique(),
        )
    frame[revenue_col] = r.astype(float)
    if s.CUSTOMER_ID in frame.columns:  # one outcome per customer and offer
        repeated = frame.duplicated([s.CUSTOMER_ID, offer_col], keep="first")
        if repeated.any():
            raise KizunaInputError(
                f"{int(repeated.sum())} rows repeat a customer's outcome for the same offer, "
                "which would count that customer twice; keep one row per customer and offer",
                column=s.CUSTOMER_ID,
                values=frame.loc[repeated, s.CUSTOMER_ID].unique(),
            )
    return frame


def treated_flags(values: pd.Series, *, column: str = s.TREATED) -> np.ndarray:
    """Shape (n,) bool from bool, 0/1, or the text treated/control (any case).

    Parameters
    ----------
    values
        The treated column, shape (n,).
    column
        Its name, for errors.

    Returns
    -------
    numpy.ndarray
        Shape (n,), bool.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=bool)
    text = values.astype("str").str.strip().str.lower()
    mapped = text.map(
        {
            "treated": True,
            "treatment": True,
            "control": False,
            "1": True,
            "0": False,
            "true": True,
            "false": False,
            "1.0": True,
            "0.0": False,
        }
    )
    bad = mapped.isna()
    if bad.any():
        raise KizunaInputError(
            "expected treated/control, true/false or 1/0",
            column=column,
            values=values[bad.to_numpy()].unique(),
        )
    return mapped.to_numpy(dtype=bool)


def costs_per_row(
    offers: np.ndarray,
    catalogue: OfferCatalogue | None,
    costs: Mapping[str, tuple[float, float]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shape (n,) fixed cost and discount share of each row's offer (0 for unlisted offers).

    Parameters
    ----------
    offers
        Each row's offer id, shape (n,).
    catalogue
        The offer catalogue, or None.
    costs
        Offer id -> (fixed cost, discount share), used without a catalogue; or None.

    Returns
    -------
    fixed, discount_share : numpy.ndarray
        Each shape (n,).
    """
    table: dict[str, tuple[float, float]] = {}
    if catalogue is not None:
        table = {o.offer_id: (o.cost.fixed, o.cost.discount_share) for o in catalogue.offers}
        unknown = sorted(set(offers) - set(table))
        if unknown:
            raise KizunaInputError(
                "outcomes name offers the catalogue lacks", column=s.OFFER_ID, values=unknown
            )
    elif costs is not None:
        table = {str(k): (float(v[0]), float(v[1])) for k, v in costs.items()}
    fixed = np.array([table.get(o, (0.0, 0.0))[0] for o in offers], dtype=float)
    discount = np.array([table.get(o, (0.0, 0.0))[1] for o in offers], dtype=float)
    return fixed, discount
