"""Next-best offer: one expected-value decision from churn, LTV, recommendations and costs.

For each customer and each offer that is eligible and not blocked by a cooldown
or cap, the incremental expected value (EV) of making the offer is

- product offer (cross-sell, upsell), from the top ``max_items`` recommended items::

      EV = incremental_share * sum_j P(purchase_j) * margin_j
           - fixed - discount_share * sum_j P(purchase_j) * price_j

- retention offer (discount, loyalty reward, tier upgrade, win-back, service contact)::

      uplift = churn_probability * save_rate       (assumed), or the learned uplift
      EV     = margin * predicted_ltv * uplift
               - fixed - discount_share * basket * P(purchase | offered)

  with ``P(purchase | offered) = 1 - churn_probability + uplift``: a discount is
  paid by everyone who buys with it, also by customers who would have bought
  anyway, which is why coupons for loyal customers lose money. ``uplift`` is
  the change in the probability of being retained; ``predicted_ltv`` is the
  value a retained customer brings (margin turns it into profit) or, with the
  catalogue's ``ltv_basis: expected``, an expectation that already counts the
  churn risk, turned into the value at stake as ``ltv / (1 - churn)``; and
  ``basket`` is the order a coupon applies to (``monetary_mean`` when the
  customers frame has it, else ``predicted_ltv``).

Offers are ranked by EV; up to ``k`` with EV > 0 are returned. When none is
positive the decision is ``no_offer`` (EV 0), with the reason: nothing eligible,
every eligible offer blocked by a cap, or every allowed offer losing money.

Everything is vectorised over customers ((n, m) arrays for m offers), so a
batch of 1M customers is a few seconds; :func:`decide_one` wraps the same code
for one customer (an HTTP request).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.behaviour import MONETARY_MEAN
from kizuna.features.errors import KizunaInputError
from kizuna.models.contact_log import ContactBlocks, contact_blocks, positions
from kizuna.models.offers import MIN_RETENTION, NO_OFFER, Offer, OfferCatalogue, load_offers

# Customer-score columns (what the churn, LTV and feature pipelines produce).
CHURN_PROBABILITY = "churn_probability"
PREDICTED_LTV = "predicted_ltv"
DAYS_SINCE_LAST_PURCHASE = "days_since_last_purchase"
# Product-candidate columns (what the recommender produces).
P_PURCHASE = "p_purchase"
MARGIN_VALUE = "margin_value"  # profit per purchase, in currency
CANDIDATE_OFFER_TYPE = "offer_type"  # optional: "cross_sell" / "upsell"
# Learned uplift frame.
OFFER_ID = "offer_id"
UPLIFT = "uplift"

# Decision columns.
RANK = "rank"
OFFER_TYPE = "offer_type"
EXPECTED_VALUE = "expected_value"
EXPECTED_BENEFIT = "expected_benefit"
EXPECTED_COST = "expected_cost"
RETENTION_UPLIFT = "retention_uplift"
UPLIFT_SOURCE = "uplift_source"  # "assumed", "learned", "recommender" or "" (no offer)
ITEMS = "items"
REASONS = "reasons"
DECISION_COLUMNS: tuple[str, ...] = (
    s.CUSTOMER_ID, RANK, OFFER_ID, OFFER_TYPE, EXPECTED_VALUE, EXPECTED_BENEFIT, EXPECTED_COST,
    RETENTION_UPLIFT, UPLIFT_SOURCE, ITEMS, REASONS,
)  # fmt: skip


class UpliftPredictor(Protocol):
    """Anything with ``predict_uplift(X) -> (n,)``, e.g. :class:`models.uplift.TLearner`."""

    def predict_uplift(self, X: Any) -> np.ndarray: ...


UpliftInput = pd.DataFrame | Mapping[str, "UpliftPredictor | float"] | None


@dataclass(frozen=True)
class _Customers:
    ids: pd.Index
    segment: np.ndarray  # object, "" when missing
    churn: np.ndarray
    ltv: np.ndarray
    days: np.ndarray  # NaN when unknown
    basket: np.ndarray


@dataclass(frozen=True)
class _Products:
    """Kept candidates of one product offer, sorted by customer then value."""

    benefit: np.ndarray  # (n,)
    discount_cost: np.ndarray  # (n,)
    n_items: np.ndarray  # (n,)
    start: np.ndarray  # (n,) first kept row of the customer
    item_ids: np.ndarray  # (kept,) object
    p_purchase: np.ndarray  # (kept,)


def decide(
    customers: pd.DataFrame,
    offers: OfferCatalogue | Mapping[str, Any] | Sequence[Any],
    *,
    product_candidates: pd.DataFrame | None = None,
    contact_log: pd.DataFrame | None = None,
    now: pd.Timestamp | str | None = None,
    channel: str | None = None,
    k: int = 1,
    uplift: UpliftInput = None,
    explain: bool = True,
    customer_col: str = s.CUSTOMER_ID,
    segment_col: str = s.SEGMENT,
    churn_col: str = CHURN_PROBABILITY,
    ltv_col: str = PREDICTED_LTV,
    days_col: str = DAYS_SINCE_LAST_PURCHASE,
    basket_col: str = MONETARY_MEAN,
) -> pd.DataFrame:
    """Rank the offers for every customer by incremental expected value.

    Parameters
    ----------
    customers
        Shape (n, >= 5), one row per customer: ``customer_id`` (column, or the
        index), ``segment``, ``churn_probability`` in [0, 1], ``predicted_ltv``,
        ``days_since_last_purchase`` (NaN: unknown, fails any days rule) and
        optionally ``monetary_mean`` (the basket a discount applies to). Extra
        columns are kept for uplift models, which read their features from here.
    offers
        An :class:`~models.offers.OfferCatalogue`, or what
        :func:`~models.offers.load_offers` parses.
    product_candidates
        Shape (r, >= 3): ``customer_id``, ``item_id``, ``p_purchase`` in [0, 1],
        and ``margin_value`` (profit per purchase) or ``price`` and ``margin``
        (share); ``price`` is needed for product offers with a discount. An
        optional ``offer_type`` column restricts a row to cross-sell or upsell
        offers. Customers not in ``customers`` are ignored.
    contact_log
        Past contacts (see :mod:`models.contact_log`); needs ``now``.
    now
        Decision time, for cooldowns and caps.
    channel
        The channel asking (``"email"``, ``"web"``...); offers whose
        ``eligibility.channels`` do not list it are ineligible. ``None``: any.
    k
        At most this many offers per customer, best first.
    uplift
        Learned change in P(retained) if offered, replacing ``churn x save_rate``
        for retention offers: a frame ``customer_id, offer_id, uplift`` (missing
        pairs keep the assumed rate), or a mapping ``offer_id -> model`` whose
        ``predict_uplift(customers)`` gives shape (n,), or ``offer_id -> number``.
    explain
        Build the human-readable ``reasons`` (set False to save time in bulk).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DECISION_COLUMNS`, one row per customer and rank
        (1..k, only offers with EV > 0), or one ``no_offer`` row with EV 0 for a
        customer with nothing positive; customers in input order. ``items`` is a
        list of item ids (empty unless a product offer), ``reasons`` a list of
        sentences, ``retention_uplift`` the uplift used (NaN for product offers).
    """
    catalogue = _catalogue(offers)
    if int(k) < 1:
        raise KizunaInputError("k must be at least 1", column="k", values=[k])
    cust = _customer_arrays(
        customers, customer_col=customer_col, segment_col=segment_col, churn_col=churn_col,
        ltv_col=ltv_col, days_col=days_col, basket_col=basket_col,
    )  # fmt: skip
    n, m = len(cust.ids), len(catalogue.offers)
    if contact_log is not None and len(contact_log) and now is None:
        raise KizunaInputError(
            "a contact log needs `now` to apply cooldowns and caps", column="now"
        )
    eligible = _eligibility(cust, catalogue, channel)
    blocks = contact_blocks(
        contact_log, cust.ids, catalogue, pd.Timestamp(0) if now is None else now
    )
    learned = _learned_uplift(uplift, customers, cust.ids, catalogue)
    products = _product_values(product_candidates, cust.ids, catalogue)
    benefit, cost, delta, source = _values(cust, catalogue, learned, products)
    ev = benefit - cost
    allowed = eligible & ~blocks.blocked
    masked = np.where(allowed, ev, -np.inf)
    k = min(int(k), m)
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(masked, order, axis=1)
    n_pos = (top > 0).sum(axis=1)
    count = np.maximum(n_pos, 1)
    row_cust = np.repeat(np.arange(n), count)
    row_rank = np.arange(row_cust.size) - np.repeat(np.cumsum(count) - count, count)
    has = n_pos[row_cust] > 0
    row_offer = np.where(has, order[row_cust, np.minimum(row_rank, k - 1)], -1)
    j = np.maximum(row_offer, 0)
    pick = (row_cust, j)
    types = np.array([o.type for o in catalogue.offers] + [NO_OFFER], dtype=object)
    ids_ = np.array(list(catalogue.offer_ids) + [NO_OFFER], dtype=object)
    frame = pd.DataFrame({
        s.CUSTOMER_ID: pd.array(cust.ids.to_numpy(dtype=object)[row_cust], dtype="str"),
        RANK: row_rank + 1,
        OFFER_ID: pd.array(ids_[row_offer], dtype="str"),
        OFFER_TYPE: pd.array(types[row_offer], dtype="str"),
        EXPECTED_VALUE: np.where(has, ev[pick], 0.0),
        EXPECTED_BENEFIT: np.where(has, benefit[pick], 0.0),
        EXPECTED_COST: np.where(has, cost[pick], 0.0),
        RETENTION_UPLIFT: np.where(has, delta[pick], np.nan),
        UPLIFT_SOURCE: pd.array(
            np.where(has, np.array(_SOURCES, dtype=object)[source[pick]], ""), dtype="str"
        ),
    })  # fmt: skip
    with _gc_paused():
        frame[ITEMS] = _items(row_cust, row_offer, products, n_rows=row_cust.size)
        frame[REASONS] = (
            _reasons(cust, catalogue, row_cust, row_offer, benefit, cost, delta, source,
                     products, eligible, blocks, masked, channel)
            if explain else [[] for _ in range(len(frame))]
        )  # fmt: skip
    return frame


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small lists.

    Each new list is a tracked container, so the collector runs over and over
    and walks every live one: half the batch time at 1M customers. The lists
    hold only strings, so they make no cycles for it to find.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decide_one(
    customer: Mapping[str, Any],
    offers: OfferCatalogue | Mapping[str, Any] | Sequence[Any],
    *,
    product_candidates: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    contact_log: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    now: pd.Timestamp | str | None = None,
    channel: str | None = None,
    k: int = 1,
    uplift: UpliftInput = None,
    **columns: str,
) -> list[dict[str, Any]]:
    """:func:`decide` for one customer, with plain Python in and out (for an HTTP handler).

    Parameters
    ----------
    customer
        ``{"customer_id": ..., "segment": ..., "churn_probability": ...,
        "predicted_ltv": ..., "days_since_last_purchase": ...}`` plus any
        feature values the uplift models need.
    product_candidates, contact_log
        Frames or lists of dicts; ``customer_id`` may be left out of candidates.
    uplift
        As in :func:`decide`; a mapping ``offer_id -> number`` is this
        customer's learned uplift.

    Returns
    -------
    list of dict
        One dict per decision row, JSON-ready (``expected_value`` and the other
        numbers as float, ``retention_uplift`` None when not applicable).
    """
    customer_col = columns.get("customer_col", s.CUSTOMER_ID)
    if customer_col not in customer:
        raise KizunaInputError("the customer needs an id", column=customer_col)
    frame = pd.DataFrame([dict(customer)])
    cid = str(customer[customer_col])
    frame[customer_col] = frame[customer_col].astype("str")
    cands = None
    if product_candidates is not None:
        cands = (
            product_candidates.copy()
            if isinstance(product_candidates, pd.DataFrame)
            else pd.DataFrame(list(product_candidates))
        )
        if len(cands) and customer_col not in cands.columns:
            cands[customer_col] = cid
    log = None
    if contact_log is not None:
        log = (
            contact_log
            if isinstance(contact_log, pd.DataFrame)
            else pd.DataFrame(list(contact_log))
        )
    out = decide(
        frame,
        offers,
        product_candidates=cands,
        contact_log=log,
        now=now,
        channel=channel,
        k=k,
        uplift=uplift,
        **columns,
    )
    rows = []
    for rec in out.to_dict("records"):
        rec[RANK] = int(rec[RANK])
        for key in (EXPECTED_VALUE, EXPECTED_BENEFIT, EXPECTED_COST):
            rec[key] = float(rec[key])
        u = rec[RETENTION_UPLIFT]
        rec[RETENTION_UPLIFT] = None if u is None or np.isnan(u) else float(u)
        rec[ITEMS] = [str(i) for i in rec[ITEMS]]
        rows.append(rec)
    return rows


# --- inputs ---------------------------------------------------------------------------


def _catalogue(offers: Any) -> OfferCatalogue:
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


def _numbers(values: pd.Series, col: str, *, allow_nan: bool) -> np.ndarray:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isinf(arr) | (np.isnan(arr) & (values.notna().to_numpy() | (not allow_nan)))
    if bad.any():
        raise KizunaInputError(
            "expected finite numbers" + ("" if allow_nan else " (no missing values)"),
            column=col, values=values[bad].unique(),
        )  # fmt: skip
    return arr


def _customer_arrays(
    customers: pd.DataFrame, *, customer_col: str, segment_col: str, churn_col: str,
    ltv_col: str, days_col: str, basket_col: str,
) -> _Customers:  # fmt: skip
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
    churn = _numbers(_column(customers, churn_col), churn_col, allow_nan=False)
    outside = (churn < 0) | (churn > 1)
    if outside.any():
        raise KizunaInputError(
            "churn probabilities must be in [0, 1]", column=churn_col, values=churn[outside]
        )
    ltv = _numbers(_column(customers, ltv_col), ltv_col, allow_nan=False)
    days = _numbers(_column(customers, days_col), days_col, allow_nan=True)
    seg_values = _column(customers, segment_col, required=False)
    segment = (
        np.full(len(index), "", dtype=object)
        if seg_values is None
        else seg_values.astype("str").fillna("").to_numpy(dtype=object)
    )
    basket_values = _column(customers, basket_col, required=False)
    basket = ltv.copy()
    if basket_values is not None:
        b = _numbers(basket_values, basket_col, allow_nan=True)
        basket = np.where(np.isnan(b), ltv, b)
    return _Customers(ids=index, segment=segment, churn=churn, ltv=ltv, days=days, basket=basket)


def _eligibility(cust: _Customers, catalogue: OfferCatalogue, channel: str | None) -> np.ndarray:
    """Shape (n, m): the offer's rules admit the customer (caps not yet applied)."""
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


def _learned_uplift(
    uplift: UpliftInput, customers: pd.DataFrame, ids: pd.Index, catalogue: OfferCatalogue
) -> np.ndarray:
    """Shape (n, m): learned uplift, NaN where none is given."""
    n, m = len(ids), len(catalogue.offers)
    out = np.full((n, m), np.nan)
    if uplift is None:
        return out
    column_by_offer = {oid: j for j, oid in enumerate(catalogue.offer_ids)}

    def column_of(offer_id: Any) -> int:
        if offer_id not in column_by_offer:
            raise KizunaInputError(
                "uplift given for an offer not in the catalogue", column=OFFER_ID, values=[offer_id]
            )
        j = column_by_offer[offer_id]
        if catalogue.offers[j].is_product:
            raise KizunaInputError(
                "learned uplift applies to retention offers; a product offer's incrementality "
                "is its incremental_share", column=OFFER_ID, values=[offer_id],
            )  # fmt: skip
        return j

    if isinstance(uplift, pd.DataFrame):
        for col in (s.CUSTOMER_ID, OFFER_ID, UPLIFT):
            if col not in uplift.columns:
                raise KizunaInputError(
                    "an uplift frame needs customer_id, offer_id, uplift", column=col
                )
        values = _numbers(uplift[UPLIFT], UPLIFT, allow_nan=True)
        rows = positions(ids, uplift[s.CUSTOMER_ID].astype("str"))
        offer_ids = uplift[OFFER_ID].astype("str").to_numpy(dtype=object)
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
                        column=UPLIFT,
                    )
                out[:, j] = pred
            else:
                raise KizunaInputError(
                    f"uplift for {offer_id!r} must be a number or have predict_uplift(X)",
                    column=UPLIFT,
                )
    else:
        raise KizunaInputError(
            "uplift must be a frame or a mapping offer_id -> model", column=UPLIFT
        )
    return np.clip(out, -1.0, 1.0)


def _product_values(
    candidates: pd.DataFrame | None, ids: pd.Index, catalogue: OfferCatalogue
) -> dict[int, _Products]:
    """Per product offer position: value of its top items for every customer."""
    n = len(ids)
    product_offers = [(j, o) for j, o in enumerate(catalogue.offers) if o.is_product]
    if not product_offers:
        return {}
    empty = _Products(
        np.zeros(n),
        np.zeros(n),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        np.array([], dtype=object),
        np.array([]),
    )
    if candidates is None or len(candidates) == 0:
        return {j: empty for j, _ in product_offers}
    for col in (s.CUSTOMER_ID, s.ITEM_ID, P_PURCHASE):
        if col not in candidates.columns:
            raise KizunaInputError(
                f"product candidates need {[s.CUSTOMER_ID, s.ITEM_ID, P_PURCHASE]} and "
                f"{MARGIN_VALUE!r} (or price and margin)", column=col,
            )  # fmt: skip
    p = _numbers(candidates[P_PURCHASE], P_PURCHASE, allow_nan=False)
    if ((p < 0) | (p > 1)).any():
        raise KizunaInputError(
            "P(purchase) must be in [0, 1]", column=P_PURCHASE, values=p[(p < 0) | (p > 1)]
        )
    price = (
        _numbers(candidates[s.PRICE], s.PRICE, allow_nan=False)
        if s.PRICE in candidates.columns
        else None
    )
    if MARGIN_VALUE in candidates.columns:
        margin_value = _numbers(candidates[MARGIN_VALUE], MARGIN_VALUE, allow_nan=False)
    elif price is not None and s.MARGIN in candidates.columns:
        margin_value = price * _numbers(candidates[s.MARGIN], s.MARGIN, allow_nan=False)
    else:
        raise KizunaInputError(
            f"product candidates need {MARGIN_VALUE!r}, or {s.PRICE!r} and {s.MARGIN!r}",
            column=MARGIN_VALUE,
        )
    cust = positions(ids, candidates[s.CUSTOMER_ID].astype("str"))
    item = candidates[s.ITEM_ID].astype("str").to_numpy(dtype=object)
    kind = (
        candidates[CANDIDATE_OFFER_TYPE].astype("str").to_numpy(dtype=object)
        if CANDIDATE_OFFER_TYPE in candidates.columns
        else None
    )
    value = p * margin_value
    # One sort for every product offer: by customer, best value first.
    known = np.flatnonzero(cust >= 0)
    by_value = known[np.argsort(-value[known], kind="stable")]
    ranked = by_value[np.argsort(cust[by_value].astype(np.int32), kind="stable")]
    out: dict[int, _Products] = {}
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
        out[j] = _Products(
            benefit=offer.incremental_share * np.bincount(kc, weights=value[keep], minlength=n),
            discount_cost=disc, n_items=n_items, start=start, item_ids=item[keep],
            p_purchase=p[keep],
        )  # fmt: skip
    return out


# --- values ---------------------------------------------------------------------------

_SOURCES = ("assumed", "learned", "recommender")


def _values(
    cust: _Customers, catalogue: OfferCatalogue, learned: np.ndarray, products: dict[int, _Products]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Benefit, cost, retention uplift (NaN for products) and source code, each (n, m)."""
    n, m = len(cust.ids), len(catalogue.offers)
    benefit, cost = np.zeros((n, m)), np.zeros((n, m))
    delta = np.full((n, m), np.nan)
    source = np.zeros((n, m), dtype=np.int64)
    at_stake = value_at_stake(cust.ltv, cust.churn, catalogue.ltv_basis)
    for j, offer in enumerate(catalogue.offers):
        if offer.is_product:
            prod = products[j]
            benefit[:, j] = prod.benefit
            cost[:, j] = offer.cost.fixed + prod.discount_cost
            source[:, j] = 2
            continue
        assumed = cust.churn * float(offer.save_rate)
        has = ~np.isnan(learned[:, j])
        d = np.where(has, learned[:, j], assumed)
        p_buy = np.clip(1.0 - cust.churn + d, 0.0, 1.0)
        benefit[:, j] = catalogue.margin * at_stake * d
        cost[:, j] = offer.cost.fixed + offer.cost.discount_share * cust.basket * p_buy
        delta[:, j] = d
        source[:, j] = has.astype(np.int64)
    return benefit, cost, delta, source


def value_at_stake(ltv: np.ndarray, churn: np.ndarray, basis: str) -> np.ndarray:
    """Value of keeping each customer, shape (n,): LTV as is (``if_retained``), or
    ``ltv / max(1 - churn, MIN_RETENTION)`` when LTV is an expectation (``expected``)."""
    if basis == "if_retained":
        return ltv
    return ltv / np.maximum(1.0 - churn, MIN_RETENTION)


def _items(
    row_cust: np.ndarray, row_offer: np.ndarray, products: dict[int, _Products], *, n_rows: int
) -> list[list[str]]:
    items: list[list[str]] = [[] for _ in range(n_rows)]
    for j, prod in products.items():
        rows = np.flatnonzero(row_offer == j)
        starts = prod.start[row_cust[rows]].tolist()
        ends = (prod.start + prod.n_items)[row_cust[rows]].tolist()
        ids = prod.item_ids
        for r, a, b in zip(rows.tolist(), starts, ends, strict=True):
            items[r] = ids[a:b].tolist()
    return items


# --- reasons --------------------------------------------------------------------------


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _reasons(
    cust: _Customers, catalogue: OfferCatalogue, row_cust: np.ndarray, row_offer: np.ndarray,
    benefit: np.ndarray, cost: np.ndarray, delta: np.ndarray, source: np.ndarray,
    products: dict[int, _Products], eligible: np.ndarray, blocks: ContactBlocks,
    masked: np.ndarray, channel: str | None,
) -> list[list[str]]:  # fmt: skip
    """Sentences per decision row, built per offer in bulk."""
    out: list[list[str]] = [[] for _ in range(row_cust.size)]
    margin = catalogue.margin
    for j, offer in enumerate(catalogue.offers):
        rows = np.flatnonzero(row_offer == j)
        if not rows.size:
            continue
        c = row_cust[rows]
        ev = (benefit[c, j] - cost[c, j]).tolist()
        ben, cst = benefit[c, j].tolist(), cost[c, j].tolist()
        fixed, disc = offer.cost.fixed, offer.cost.discount_share
        if offer.is_product:
            prod = products[j]
            n_items = prod.n_items[c].tolist()
            exp_buy = np.bincount(  # expected purchases among the shown items
                np.repeat(np.arange(c.size), prod.n_items[c]),
                weights=_gather(prod.p_purchase, prod.start[c], prod.n_items[c]),
                minlength=c.size,
            ).tolist()
            inc = offer.incremental_share
            for r, ni, eb, b, co, e in zip(
                rows.tolist(), n_items, exp_buy, ben, cst, ev, strict=True
            ):
                out[r] = [
                    f"{offer.type.replace('_', '-')} '{offer.offer_id}': {ni} recommended "
                    f"item(s), {eb:.2f} expected purchases",
                    f"expected margin {_money(b)} ({inc:.0%} of the purchases credited to "
                    "the offer)",
                    _cost_text(co, fixed, disc) + f"; expected value {_money(e)}",
                ]
            continue
        seg = cust.segment[c].tolist()
        churn = cust.churn[c].tolist()
        ltv = value_at_stake(cust.ltv[c], cust.churn[c], catalogue.ltv_basis).tolist()
        d = delta[c, j].tolist()
        learned = (source[c, j] == 1).tolist()
        rate = float(offer.save_rate)
        for r, sg, ch, lv, dd, le, b, co, e in zip(
            rows.tolist(), seg, churn, ltv, d, learned, ben, cst, ev, strict=True
        ):
            how = (
                f"learned uplift {dd:+.1%} in retention (replaces the assumed {rate:.0%} save rate)"
                if le
                else f"assumed save rate {rate:.0%} of the churn risk: retention {dd:+.1%}"
            )
            out[r] = [
                f"{offer.type.replace('_', '-')} '{offer.offer_id}': segment "
                f"'{sg or 'unknown'}', churn risk {ch:.0%}, value if retained {_money(lv)}",
                f"{how}, worth {_money(b)} at a {margin:.0%} margin",
                _cost_text(co, fixed, disc) + f"; expected value {_money(e)}",
            ]
    none_rows = np.flatnonzero(row_offer < 0)
    if none_rows.size:
        texts = _no_offer_reasons(
            cust, catalogue, row_cust[none_rows], eligible, blocks, masked, benefit, cost, channel
        )
        for r, t in zip(none_rows.tolist(), texts, strict=True):
            out[r] = t
    return out


def _gather(values: np.ndarray, start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenate ``values[start_i : start_i + count_i]`` for every i, without a loop."""
    total = int(count.sum())
    if total == 0:
        return np.zeros(0)
    offsets = np.repeat(start - (np.cumsum(count) - count), count)
    return values[offsets + np.arange(total)]


def _cost_text(cost: float, fixed: float, discount: float) -> str:
    if discount > 0:
        return (
            f"expected cost {_money(cost)}: {_money(fixed)} per contact + {discount:.0%} "
            "discount on the expected purchase"
        )
    return f"cost {_money(cost)} per contact"


def _no_offer_reasons(
    cust: _Customers, catalogue: OfferCatalogue, c: np.ndarray, eligible: np.ndarray,
    blocks: ContactBlocks, masked: np.ndarray, benefit: np.ndarray, cost: np.ndarray,
    channel: str | None,
) -> list[list[str]]:  # fmt: skip
    ids = catalogue.offer_ids
    policy = catalogue.contact_policy
    elig = eligible[c]
    any_eligible = elig.any(axis=1)
    allowed_any = np.isfinite(masked[c]).any(axis=1)
    best = np.argmax(masked[c], axis=1)
    blocked = elig & blocks.blocked[c]
    first_blocked = np.argmax(blocked, axis=1)
    recent = blocks.recent_contacts[c]
    texts: list[list[str]] = []
    for i, ci in enumerate(c.tolist()):
        if not any_eligible[i]:
            days = cust.days[ci]
            where = f", channel '{channel}'" if channel else ""
            texts.append(
                [
                    "no offer: none is eligible (segment "
                    f"'{cust.segment[ci] or 'unknown'}', churn risk {cust.churn[ci]:.0%}, "
                    f"predicted value {_money(cust.ltv[ci])}, "
                    f"{'unknown' if np.isnan(days) else f'{days:.0f}'} days since the last "
                    f"purchase{where})"
                ]
            )
            continue
        reasons = []
        if blocks.policy[ci]:
            gap = (
                f", at least {policy.min_days_between:g} days between contacts"
                if policy.min_days_between
                else ""
            )
            reasons.append(
                f"contact policy: {int(recent[i])} contact(s) in the last "
                f"{policy.period_days:g} days (max {policy.max_contacts or 'unlimited'}{gap})"
            )
        elif blocked[i].any():
            j = first_blocked[i]
            offer = catalogue.offers[j]
            ago = blocks.last_contact[ci, j]
            if blocks.cooldown[ci, j]:
                reasons.append(
                    f"'{ids[j]}' is in its cooldown: made {ago:.0f} day(s) ago, "
                    f"cooldown {offer.caps.cooldown_days:g} days"
                )
            else:
                reasons.append(
                    f"'{ids[j]}' reached its cap of {offer.caps.max_contacts} "
                    f"contact(s) per {offer.caps.period_days:g} days"
                )
        if allowed_any[i]:
            j = best[i]
            reasons.append(
                f"no offer pays: the best, '{ids[j]}', is worth {_money(benefit[ci, j])} "
                f"against a cost of {_money(cost[ci, j])} "
                f"(expected value {_money(benefit[ci, j] - cost[ci, j])})"
            )
        reasons.insert(
            0,
            "no offer: nothing has a positive expected value"
            if allowed_any[i]
            else "no offer: every eligible offer is blocked by a cap",
        )
        texts.append(reasons)
    return texts
