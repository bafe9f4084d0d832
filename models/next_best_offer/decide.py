"""Next-best offer: one expected-value decision from churn, LTV, recommendations and costs.

For each customer and each offer that is eligible and not blocked by a cooldown
or cap, the incremental expected value (EV) of making the offer is

- product offer (cross-sell, upsell), from the top ``max_items`` recommended items::

      EV = incremental_share * sum_j P(purchase_j) * margin_j
           - fixed - discount_share * sum_j P(purchase_j) * price_j

- retention offer (discount, loyalty reward, tier upgrade, win-back, service contact)::

      uplift = churn_probability * save_rate       (assumed), or the learned uplift
      EV     = margin * predicted_value * uplift
               - fixed - discount_share * basket * P(purchase | offered)

  with ``P(purchase | offered) = 1 - churn_probability + uplift``: a discount is
  paid by everyone who buys with it, also by customers who would have bought
  anyway, which is why coupons for loyal customers lose money. ``uplift`` is
  the change in the probability of being retained; ``predicted_value`` is the
  value a retained customer brings (margin turns it into profit) or, with the
  catalogue's ``ltv_basis: expected``, an expectation that already counts the
  churn risk, turned into the value at stake as ``ltv / (1 - churn)``; and
  ``basket`` is the order a coupon applies to (``monetary_mean`` when the
  customers frame has it, else ``predicted_value``).

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
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.contact_log import contact_blocks
from kizuna.models.next_best_offer.inputs import (
    UpliftInput,
    as_catalogue,
    customer_arrays,
    eligibility,
    learned_uplift,
    product_values,
)
from kizuna.models.next_best_offer.reasons import decision_reasons
from kizuna.models.next_best_offer.values import UPLIFT_SOURCES, decision_items, offer_values
from kizuna.models.offers import NO_OFFER, OfferCatalogue

DECISION_COLUMNS: tuple[str, ...] = (
    s.CUSTOMER_ID, s.RANK, s.OFFER_ID, s.OFFER_TYPE, s.EXPECTED_VALUE, s.EXPECTED_BENEFIT,
    s.EXPECTED_COST, s.RETENTION_UPLIFT, s.UPLIFT_SOURCE, s.ITEMS, s.REASONS,
)  # fmt: skip


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
    churn_col: str = s.CHURN_PROBABILITY,
    ltv_col: str = s.PREDICTED_VALUE,
    days_col: str = s.DAYS_SINCE_LAST_PURCHASE,
    basket_col: str = s.MONETARY_MEAN,
) -> pd.DataFrame:
    """Rank the offers for every customer by incremental expected value.

    Parameters
    ----------
    customers
        Shape (n, >= 5), one row per customer: ``customer_id`` (column, or the
        index), ``segment``, ``churn_probability`` in [0, 1], ``predicted_value``,
        ``days_since_last_purchase`` (NaN: unknown, fails any days rule) and
        optionally ``monetary_mean`` (the basket a discount applies to). Extra
        columns are kept for uplift models, which read their features from here.
    offers
        An :class:`~models.offers.OfferCatalogue`, or what
        :func:`~models.offer_loading.load_offers` parses.
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
    customer_col, segment_col, churn_col, ltv_col, days_col, basket_col
        Column names of ``customers`` (the canonical ones by default).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DECISION_COLUMNS`, one row per customer and rank
        (1..k, only offers with EV > 0), or one ``no_offer`` row with EV 0 for a
        customer with nothing positive; customers in input order. ``items`` is a
        list of item ids (empty unless a product offer), ``reasons`` a list of
        sentences, ``retention_uplift`` the uplift used (NaN for product offers).
    """
    catalogue = as_catalogue(offers)
    if int(k) < 1:
        raise KizunaInputError("k must be at least 1", column="k", values=[k])
    cust = customer_arrays(
        customers, customer_col=customer_col, segment_col=segment_col, churn_col=churn_col,
        ltv_col=ltv_col, days_col=days_col, basket_col=basket_col,
    )  # fmt: skip
    n, m = len(cust.ids), len(catalogue.offers)
    if contact_log is not None and len(contact_log) and now is None:
        raise KizunaInputError(
            "a contact log needs `now` to apply cooldowns and caps", column="now"
        )
    eligible = eligibility(cust, catalogue, channel)
    blocks = contact_blocks(
        contact_log, cust.ids, catalogue, pd.Timestamp(0) if now is None else now
    )
    learned = learned_uplift(uplift, customers, cust.ids, catalogue)
    products = product_values(product_candidates, cust.ids, catalogue)
    benefit, cost, delta, source = offer_values(cust, catalogue, learned, products)
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
        s.RANK: row_rank + 1,
        s.OFFER_ID: pd.array(ids_[row_offer], dtype="str"),
        s.OFFER_TYPE: pd.array(types[row_offer], dtype="str"),
        s.EXPECTED_VALUE: np.where(has, ev[pick], 0.0),
        s.EXPECTED_BENEFIT: np.where(has, benefit[pick], 0.0),
        s.EXPECTED_COST: np.where(has, cost[pick], 0.0),
        s.RETENTION_UPLIFT: np.where(has, delta[pick], np.nan),
        s.UPLIFT_SOURCE: pd.array(
            np.where(has, np.array(UPLIFT_SOURCES, dtype=object)[source[pick]], ""), dtype="str"
        ),
    })  # fmt: skip
    with _gc_paused():
        frame[s.ITEMS] = decision_items(row_cust, row_offer, products, n_rows=row_cust.size)
        frame[s.REASONS] = (
            decision_reasons(cust, catalogue, row_cust, row_offer, benefit, cost, delta, source,
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
        "predicted_value": ..., "days_since_last_purchase": ...}`` plus any
        feature values the uplift models need.
    product_candidates, contact_log
        Frames or lists of dicts; ``customer_id`` may be left out of candidates.
    uplift
        As in :func:`decide`; a mapping ``offer_id -> number`` is this
        customer's learned uplift.
    offers, now, channel, k
        As in :func:`decide`.
    **columns
        Column names, as the ``*_col`` arguments of :func:`decide`.

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
        rec[s.RANK] = int(rec[s.RANK])
        for key in (s.EXPECTED_VALUE, s.EXPECTED_BENEFIT, s.EXPECTED_COST):
            rec[key] = float(rec[key])
        u = rec[s.RETENTION_UPLIFT]
        rec[s.RETENTION_UPLIFT] = None if u is None or np.isnan(u) else float(u)
        rec[s.ITEMS] = [str(i) for i in rec[s.ITEMS]]
        rows.append(rec)
    return rows
