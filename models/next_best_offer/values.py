"""Expected benefit and cost of every offer for every customer, shapes (n, m)."""

from __future__ import annotations

import numpy as np

from kizuna.models.next_best_offer.inputs import CustomerArrays, ProductValues
from kizuna.models.offers import MIN_RETENTION, OfferCatalogue

UPLIFT_SOURCES = ("assumed", "learned", "recommender")


def offer_values(
    cust: CustomerArrays,
    catalogue: OfferCatalogue,
    learned: np.ndarray,
    products: dict[int, ProductValues],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Benefit, cost, retention uplift (NaN for products) and source code, each (n, m).

    Parameters
    ----------
    cust
        The customers' arrays, n customers.
    catalogue
        The m offers.
    learned
        Learned retention uplift, shape (n, m), NaN where none.
    products
        Product offer position -> its candidates' values.

    Returns
    -------
    benefit, cost, delta, source : numpy.ndarray
        Each shape (n, m): expected benefit, cost, retention uplift (NaN for product
        offers) and the uplift's source code.
    """
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
    ``ltv / max(1 - churn, MIN_RETENTION)`` when LTV is an expectation (``expected``).

    Parameters
    ----------
    ltv
        Predicted value per customer, shape (n,).
    churn
        Churn probability per customer, shape (n,).
    basis
        ``"if_retained"`` or ``"expected"``: what the LTV means.

    Returns
    -------
    numpy.ndarray
        Shape (n,).
    """
    if basis == "if_retained":
        return ltv
    return ltv / np.maximum(1.0 - churn, MIN_RETENTION)


def value_at_risk(ltv: np.ndarray, churn: np.ndarray, basis: str) -> np.ndarray:
    """Value lost if each customer churns, shape (n,): :func:`value_at_stake` x churn.

    The report ranks "customers most worth keeping" by it, so that it weighs customers as
    the offer engine does (an expected LTV times churn would count churn twice).

    Parameters
    ----------
    ltv
        Predicted value per customer, shape (n,).
    churn
        Churn probability per customer, shape (n,).
    basis
        ``"if_retained"`` or ``"expected"``: what the LTV means.

    Returns
    -------
    numpy.ndarray
        Shape (n,); NaN where ``ltv`` or ``churn`` is.
    """
    return value_at_stake(ltv, churn, basis) * churn


def decision_items(
    row_cust: np.ndarray, row_offer: np.ndarray, products: dict[int, ProductValues], *, n_rows: int
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
