"""A seeded synthetic shop whose ground truth is known, so tests can check models.

The story, per customer (time unit: the week):

1. *Latent traits.* Purchase rate ``lambda ~ Gamma(shape=r, rate=alpha)``; dropout
   probability ``p ~ Beta(a, b)``; spend scale ``nu ~ Gamma(shape=q, rate=gamma)``
   (Fader-Hardie Gamma-Gamma; ``gamma`` is called ``v`` in lifetimes and
   pymc-marketing); return propensity ``~ Beta`` with mean ``return_share``; a
   primary channel; category preferences ``theta ~ Dirichlet`` concentrated on 1-3
   "focus" categories (focus categories are drawn in proportion to category
   popularity).
2. *Acquisition.* The first purchase happens at a uniform random time in
   ``[start, end)``; sign-up is a few days earlier.
3. *Buy till you die (BG/NBD).* Repeat purchases arrive as a Poisson process of rate
   ``lambda``; immediately after each *repeat* purchase the customer drops out with
   probability ``p`` (a customer with no repeat purchase is alive for sure, as in
   BG/NBD). ``dropout_time`` is the time of the purchase after which the customer
   dropped out, so no purchase is ever later than it.
4. *Spend.* Each order has a target value ``z ~ Gamma(shape=spend_p, rate=nu)``, so
   the customer's true mean order value is ``spend_p / nu``.
5. *Baskets.* An order draws ``1 + min(Poisson(mean_candidate_lines - 1),
   max_candidate_lines - 1)`` candidate lines. Each picks a category from
   ``theta`` and an item within it with Zipf popularity ``rank **
   -item_zipf_exponent``. The basket is then filled to the order's target value:
   candidates are taken, one unit each, in drawn order while their running cost
   fits ``z`` (the first is always taken), and the remaining budget is spread
   evenly over the taken lines as extra units of ``unit_price`` (the catalogue
   price), rounded up with probability equal to the fractional part. So ``E[order
   value | z] = z`` exactly unless the first item alone costs more than ``z``;
   with the defaults realised order values are about 1 % above ``spend_p / nu``
   on average, and expensive categories are slightly under-represented (budget
   cuts drop them more often; within about 10 % of ``theta``). The same item
   drawn twice in an order becomes one line with the summed quantity, so no order
   repeats an item. With the defaults an order has about 2.1 lines.
6. *Returns.* Each purchase line is returned with the customer's return
   propensity, all units with probability 0.7, otherwise a uniform 1..quantity.
   The returned lines of an order form one return order ``"R" + <order number>``
   (same number as the purchase ``"O" + <order number>``), ``1 + Gamma`` days after
   the purchase; returns falling at or after ``end`` are dropped.

Cold-start customers signed up but never bought (their latent traits are still in
the truth table); cold-start items are in the catalogue but never sold.

Everything is vectorised over customers, orders and lines with numpy, drawn from a
single ``np.random.default_rng(seed)`` in a fixed order, so one config always yields
identical frames.

Hooks for a later marketing-campaign simulation: the truth table carries every
latent trait per customer (rate, dropout, spend scale, return propensity, channel,
preferences, alive state), so uplift can be drawn as a function of them; and
:func:`realise_lines` turns any set of (customer, time, target value, channel)
orders into lines, so extra campaign orders can be realised the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.simulators.synthetic.config import ShopConfig
from kizuna.simulators.synthetic.draws import (
    draw_catalogue,
    draw_customers,
    draw_returns,
    realise_lines,
    simulate_orders,
)
from kizuna.simulators.synthetic.frames import (
    customers_frame,
    item_truth_frame,
    items_frame,
    transactions_frame,
    truth_frame,
)


@dataclass(frozen=True)
class Shop:
    """A generated shop: the tables a user would have, plus the ground truth.

    Attributes
    ----------
    transactions
        One row per order line, canonical columns (customer_id, order_id, item_id,
        timestamp, quantity, unit_price, channel, category); returns are lines with
        negative quantity in their own ``R...`` orders. Sorted by time.
    items
        Catalogue: item_id, name, category, price, margin, in_stock.
    customers
        customer_id, signup_date, preferred_categories ("a|b" or missing), region.
    truth
        Per customer, same row order as ``customers``: latent traits (purchase
        rate per week, dropout probability, spend scale nu, mean order value
        ``spend_p / nu``, return propensity, primary channel), realised counts
        (orders, repeat purchases), first purchase, dropout time (NaT if alive at
        end), alive_at_end, top categories ("a|b", best first) and one
        ``pref_<category>`` column per category (the latent theta, rows sum to 1).
        Cold-start customers have NaT first purchase, zero orders and are alive
        (BG/NBD customers can only drop out after a repeat purchase).
    item_truth
        Per item: is_cold_start, category and within-category popularity, rank.
    config
        The config that generated the shop.
    """

    transactions: pd.DataFrame
    items: pd.DataFrame
    customers: pd.DataFrame
    truth: pd.DataFrame
    item_truth: pd.DataFrame
    config: ShopConfig


def generate_shop(config: ShopConfig | None = None) -> Shop:
    """Generate a synthetic shop; deterministic in ``config`` (including its seed).

    Parameters
    ----------
    config
        Shop parameters; defaults to :class:`ShopConfig()` (5,000 customers,
        about 60,000 transaction lines).

    Returns
    -------
    Shop
        Frames described in :class:`Shop`. With the defaults there are about 12
        transaction lines (5 orders) per purchasing customer, so 10 million lines
        take about 830,000 customers (see :func:`config_for_transactions`).
    """
    cfg = ShopConfig() if config is None else config
    rng = np.random.default_rng(cfg.seed)
    cat = draw_catalogue(cfg, rng)
    cust = draw_customers(cfg, rng, cat["category_popularity"])
    orders = simulate_orders(cfg, rng, cust)
    lines = realise_lines(cfg, rng, cust, cat, orders)
    returns = draw_returns(cfg, rng, cust, orders, lines)
    return Shop(
        transactions=transactions_frame(cfg, cust, cat, orders, lines, returns),
        items=items_frame(cfg, cat),
        customers=customers_frame(cfg, cust),
        truth=truth_frame(cfg, cust, orders),
        item_truth=item_truth_frame(cat),
        config=cfg,
    )


def config_for_transactions(
    n_transactions: int, base: ShopConfig | None = None, *, pilot_customers: int = 20_000
) -> ShopConfig:
    """Return ``base`` with ``n_customers`` set to give about ``n_transactions`` lines.

    Lines per customer are measured on a pilot shop of ``pilot_customers`` with the
    same parameters; cold-start counts are scaled in proportion. The result is
    within a few per cent of the target for targets well above the pilot size.
    """
    base = ShopConfig() if base is None else base
    if n_transactions < 1:
        raise KizunaInputError(
            "must be at least 1", column="n_transactions", values=[n_transactions]
        )
    pilot = dataclasses.replace(
        base, n_customers=pilot_customers, n_cold_start_customers=0, n_cold_start_items=0
    )
    per_customer = len(generate_shop(pilot).transactions) / pilot_customers
    n_customers = max(1, round(n_transactions / per_customer))
    scale = n_customers / base.n_customers
    return dataclasses.replace(
        base,
        n_customers=n_customers,
        n_cold_start_customers=round(base.n_cold_start_customers * scale),
    )
