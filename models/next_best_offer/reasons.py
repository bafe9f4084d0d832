"""The sentences that explain each offer decision (and each ``no_offer``)."""

from __future__ import annotations

import numpy as np

from kizuna.models.contact_log import ContactBlocks
from kizuna.models.next_best_offer.inputs import CustomerArrays, ProductValues
from kizuna.models.next_best_offer.values import value_at_stake
from kizuna.models.offers import OfferCatalogue


def _money(x: float) -> str:
    return f"{x:,.2f}"


def decision_reasons(
    cust: CustomerArrays, catalogue: OfferCatalogue, row_cust: np.ndarray, row_offer: np.ndarray,
    benefit: np.ndarray, cost: np.ndarray, delta: np.ndarray, source: np.ndarray,
    products: dict[int, ProductValues], eligible: np.ndarray, blocks: ContactBlocks,
    masked: np.ndarray, channel: str | None,
) -> list[list[str]]:  # fmt: skip
    """Sentences per decision row, built per offer in bulk.

    Parameters
    ----------
    cust
        The customers' arrays, n customers.
    catalogue
        The m offers.
    row_cust, row_offer
        Customer and offer position of each decision row, shape (r,); offer -1 for ``no_offer``.
    benefit, cost, delta, source
        Per (customer, offer), shape (n, m): from :func:`~models.next_best_offer.values.offer_values`.
    products
        Product offer position -> its candidates' values.
    eligible
        Shape (n, m): the offer's rules admit the customer.
    blocks
        What the contact log forbids now.
    masked
        Expected value per (customer, offer), ``-inf`` where not allowed, shape (n, m).
    channel
        The channel asking, or None.

    Returns
    -------
    list of list of str
        Per decision row (r of them), its sentences.
    """
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
    cust: CustomerArrays, catalogue: OfferCatalogue, c: np.ndarray, eligible: np.ndarray,
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
