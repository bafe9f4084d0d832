"""Inputs of the offer decision as arrays: customers, eligibility, learned uplift, products."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.contact_log import positions
from kizuna.models.offer_loading import load_offers
from kizuna.models.offers import Offer, OfferCatalogue


class UpliftPredictor(Protocol):
    """Anything with ``predict_uplift(X) -> (n,)``, e.g. :class:`models.uplift.TLearner`."""

    def predict_uplift(self, X: Any) -> np.ndarray: ...


UpliftInput = pd.DataFrame | Mapping[str, "UpliftPredictor | float"] | None


@dataclass(frozen=True)
class CustomerArrays:
    ids: pd.Index
    segment: np.ndarray  # object, "" when missing
    churn: np.ndarray
    ltv: np.ndarray
    days: np.ndarray  # NaN when unknown
    basket: np.ndarray


@dataclass(frozen=True)
class ProductValues:
    """Kept candidates of one product offer, sorted by customer then value."""

    benefit: np.ndarray  # (n,)
    discount_cost: np.ndarray  # (n,)
    n_items: np.ndarray  # (n,)
    start: np.ndarray  # (n,) first kept row of the customer
    item_ids: np.ndarray  # (kept,) object
    p_purchase: np.ndarray  # (kept,)


def as_catalogue(offers: Any) -> OfferCatalogue:
    if isinstance(offers, OfferCatalogue):
        return offers
    if isinstance(offers, Sequence) and offers and all(isinstance(o, Offer) for o in offers):
        return OfferCatalogue(offers=tuple(offers))
    return load_offers(offers)


def _column(frame: pd.DataFrame, col: str, *, required: bool = True) -> pd.Series | None:
    if col in frame.columns:
        return frame[col]
    if frame.index.name == col:
        return frame.index.to_series(index=frame.index)
    if required:
        raise KizunaInputError(
            f"the customers frame needs a {col!r} column; it has {list(map(str, frame.columns))}",
            column=col,
        )
    return None


def finite_numbers(values: pd.Series, col: str, *, allow_nan: bool) -> np.ndarray:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isinf(arr) | (np.isnan(arr) & (values.notna().to_numpy() | (not allow_nan)))
    if bad.any():
        raise KizunaInputError(
            "expected finite numbers" + ("" if allow_nan else " (no missing values)"),
            column=col, values=values[bad].unique(),
        )  # fmt: skip
    return arr


def customer_arrays(
    customers: pd.DataFrame, *, customer_col: str, segment_col: str, churn_col: str,
    ltv_col: str, days_col: str, basket_col: str,
) -> CustomerArrays:  # fmt: skip
    if not isinstance(customers, pd.DataFrame):
        raise KizunaInputError("customers must be a DataFrame", column=customer_col)
    ids = _column(customers, customer_col)
    if ids.isna().any():
        raise KizunaInputError("customer ids must not be missing", column=customer_col)
    index = pd.Index(ids.astype("str").to_numpy(dtype=object), dtype=object)
    if index.has_duplicates:
        raise KizunaInputError(
            "each customer must appear once",
            column=customer_col,
            values=index[index.duplicated()].unique(),
        )
    churn = finite_numbers(_column(customers, churn_col), churn_col, allow_nan=False)
    outside = (churn < 0) | (churn > 1)
    if outside.any():
        raise KizunaInputError(
            "churn probabilities must be in [0, 1]", column=churn_col, values=churn[outside]
        )
    ltv = finite_numbers(_column(customers, ltv_col), ltv_col, allow_nan=False)
    days = finite_numbers(_column(customers, days_col), days_col, allow_nan=True)
    seg_values = _column(customers, segment_col, required=False)
    segment = (
        np.full(len(index), "", dtype=object)
        if seg_values is None
        else seg_values.astype("str").fillna("").to_numpy(dtype=object)
    )
    basket_values = _column(customers, basket_col, required=False)
    basket = ltv.copy()
    if basket_values is not None:
        b = finite_numbers(basket_values, basket_col, allow_nan=True)
        basket = np.where(np.isnan(b), ltv, b)
    return CustomerArrays(
        ids=index, segment=segment, churn=churn, ltv=ltv, days=days, basket=basket
    )


def eligibility(cust: CustomerArrays, catalogue: OfferCatalogue, channel: str | None) -> np.ndarray:
    """Shape (n, m): the offer's rules admit the customer (caps not yet applied).

    Parameters
    ----------
    cust
        The customers' arrays, n customers.
    catalogue
        The m offers.
    channel
        The channel asking, or None for any.

    Returns
    -------
    numpy.ndarray
        Shape (n, m), bool.
    """
    n, m = len(cust.ids), len(catalogue.offers)
    codes, uniques = pd.factorize(cust.segment)
    out = np.ones((n, m), dtype=bool)
    for j, offer in enumerate(catalogue.offers):
        e = offer.eligibility
        ok = out[:, j]
        if e.segments:
            allowed = np.isin(np.asarray(uniques, dtype=object), list(e.segments))
            ok &= allowed[codes] if len(uniques) else np.zeros(n, bool)
        lo, hi = e.churn_probability.bounds()
        ok &= (cust.churn >= lo) & (cust.churn <= hi)
        if e.min_ltv is not None:
            ok &= cust.ltv >= e.min_ltv
        lo, hi = e.days_since_last_purchase.bounds()
        if np.isfinite(lo) or np.isfinite(hi):
            ok &= (cust.days >= lo) & (cust.days <= hi)  # NaN fails both
        if channel is not None and e.channels and channel not in e.channels:
            ok[:] = False
    return out


def learned_uplift(
    uplift: UpliftInput, customers: pd.DataFrame, ids: pd.Index, catalogue: OfferCatalogue
) -> np.ndarray:
    """Shape (n, m): learned uplift, NaN where none is given.

    Parameters
    ----------
    uplift
        A frame ``customer_id, offer_id, uplift``, a mapping ``offer_id -> model or number``,
        or None (see :func:`~models.next_best_offer.decide`).
    customers
        The customers frame the models read their features from, shape (n, k).
    ids
        The customer ids, shape (n,).
    catalogue
        The m offers.

    Returns
    -------
    numpy.ndarray
        Shape (n, m), float64; NaN where none is given.
    """
    n, m = len(ids), len(catalogue.offers)
    out = np.full((n, m), np.nan)
    if uplift is None:
        return out
    column_by_offer = {oid: j for j, oid in enumerate(catalogue.offer_ids)}

    def column_of(offer_id: Any) -> int:
        if offer_id not in column_by_offer:
            raise KizunaInputError(
                "uplift given for an offer not in the catalogue",
                column=s.OFFER_ID,
                values=[offer_id],
            )
        j = column_by_offer[offer_id]
        if catalogue.offers[j].is_product:
            raise KizunaInputError(
                "learned uplift applies to retention offers; a product offer's incrementality "
                "is its incremental_share", column=s.OFFER_ID, values=[offer_id],
            )  # fmt: skip
        return j

    if isinstance(uplift, pd.DataFrame):
        for col in (s.CUSTOMER_ID, s.OFFER_ID, s.UPLIFT):
            if col not in uplift.columns:
                raise KizunaInputError(
                    "an uplift frame needs customer_id, offer_id, uplift", column=col
                )
        values = finite_numbers(uplift[s.UPLIFT], s.UPLIFT, allow_nan=True)
        rows = positions(ids, uplift[s.CUSTOMER_ID].astype("str"))
        offer_ids = uplift[s.OFFER_ID].astype("str").to_numpy(dtype=object)
        cols = np.array([column_of(o) for o in pd.unique(offer_ids)])
        lookup = dict(zip(pd.unique(offer_ids), cols, strict=True))
        cols = np.array([lookup[o] for o in offer_ids], dtype=np.int64)
        keep = rows >= 0
        out[rows[keep], cols[keep]] = values[keep]
    elif isinstance(uplift, Mapping):
        for offer_id, source in uplift.items():
            j = column_of(offer_id)
            if isinstance(source, int | float | np.floating | np.integer):
                out[:, j] = float(source)
            elif hasattr(source, "predict_uplift"):
                pred = np.asarray(source.predict_uplift(customers), dtype=float).ravel()
                if pred.size != n:
                    raise KizunaInputError(
                        f"uplift model for {offer_id!r} returned {pred.size} values for "
                        f"{n} customers",
                        column=s.UPLIFT,
                    )
                out[:, j] = pred
            else:
                raise KizunaInputError(
                    f"uplift for {offer_id!r} must be a number or have predict_uplift(X)",
                    column=s.UPLIFT,
                )
    else:
        raise KizunaInputError(
            "uplift must be a frame or a mapping offer_id -> model", column=s.UPLIFT
        )
    return np.clip(out, -1.0, 1.0)


def product_values(
    candidates: pd.DataFrame | None, ids: pd.Index, catalogue: OfferCatalogue
) -> dict[int, ProductValues]:
    """Per product offer position: value of its top items for every customer.

    Parameters
    ----------
    candidates
        Product candidates (``customer_id``, ``item_id``, ``p_purchase``, values), shape (r, k),
        or None.
    ids
        The customer ids, shape (n,).
    catalogue
        The m offers.

    Returns
    -------
    dict of int -> ProductValues
        Product offer position -> its kept candidates.
    """
    n = len(ids)
    product_offers = [(j, o) for j, o in enumerate(catalogue.offers) if o.is_product]
    if not product_offers:
        return {}
    empty = ProductValues(
        np.zeros(n),
        np.zeros(n),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        np.array([], dtype=object),
        np.array([]),
    )
    if candidates is None or len(candidates) == 0:
        return {j: empty for j, _ in product_offers}
    for col in (s.CUSTOMER_ID, s.ITEM_ID, s.P_PURCHASE):
        if col not in candidates.columns:
            raise KizunaInputError(
                f"product candidates need {[s.CUSTOMER_ID, s.ITEM_ID, s.P_PURCHASE]} and "
                f"{s.MARGIN_VALUE!r} (or price and margin)", column=col,
            )  # fmt: skip
    p = finite_numbers(candidates[s.P_PURCHASE], s.P_PURCHASE, allow_nan=False)
    if ((p < 0) | (p > 1)).any():
        raise KizunaInputError(
            "P(purchase) must be in [0, 1]", column=s.P_PURCHASE, values=p[(p < 0) | (p > 1)]
        )
    price = (
        finite_numbers(candidates[s.PRICE], s.PRICE, allow_nan=False)
        if s.PRICE in candidates.columns
        else None
    )
    if s.MARGIN_VALUE in candidates.columns:
        margin_value = finite_numbers(candidates[s.MARGIN_VALUE], s.MARGIN_VALUE, allow_nan=False)
    elif price is not None and s.MARGIN in candidates.columns:
        margin_value = price * finite_numbers(candidates[s.MARGIN], s.MARGIN, allow_nan=False)
    else:
        raise KizunaInputError(
            f"product candidates need {s.MARGIN_VALUE!r}, or {s.PRICE!r} and {s.MARGIN!r}",
            column=s.MARGIN_VALUE,
        )
    cust = positions(ids, candidates[s.CUSTOMER_ID].astype("str"))
    item = candidates[s.ITEM_ID].astype("str").to_numpy(dtype=object)
    kind = (
        candidates[s.OFFER_TYPE].astype("str").to_numpy(dtype=object)
        if s.OFFER_TYPE in candidates.columns
        else None
    )
    value = p * margin_value
    # One sort for every product offer: by customer, best value first.
    known = np.flatnonzero(cust >= 0)
    by_value = known[np.argsort(-value[known], kind="stable")]
    ranked = by_value[np.argsort(cust[by_value].astype(np.int32), kind="stable")]
    out: dict[int, ProductValues] = {}
    for j, offer in product_offers:
        if offer.cost.discount_share > 0 and price is None:
            raise KizunaInputError(
                f"offer {offer.offer_id!r} has a discount, so product candidates need {s.PRICE!r}",
                column=s.PRICE,
            )
        order = ranked if kind is None else ranked[kind[ranked] == offer.type]
        c = cust[order]
        first = np.r_[True, c[1:] != c[:-1]] if c.size else np.zeros(0, bool)
        group_start = np.maximum.accumulate(np.where(first, np.arange(c.size), 0))
        keep = order[(np.arange(c.size) - group_start) < offer.max_items]
        kc = cust[keep]
        n_items = np.bincount(kc, minlength=n)
        start = np.cumsum(n_items) - n_items
        disc = np.zeros(n)
        if price is not None:
            expected_paid = np.bincount(kc, weights=p[keep] * price[keep], minlength=n)
            disc = offer.cost.discount_share * expected_paid
        out[j] = ProductValues(
            benefit=offer.incremental_share * np.bincount(kc, weights=value[keep], minlength=n),
            discount_cost=disc, n_items=n_items, start=start, item_ids=item[keep],
            p_purchase=p[keep],
        )  # fmt: skip
    return out
