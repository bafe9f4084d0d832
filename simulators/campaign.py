"""A simulated marketing campaign on the synthetic shop, with the true uplift of every customer.

The story (one offer, e.g. a win-back coupon, sent at ``as_of``; outcome window
``(as_of, as_of + horizon]``):

1. *Who is in it.* Every customer with a purchase before ``as_of``. Their
   observable features are what kizuna computes at ``as_of``
   (:func:`features.pipeline.customer_features`): a model sees exactly these.
2. *Assignment.* Deterministic by hash of (campaign id, customer id)
   (:mod:`features.control_groups`): ``control_share`` of customers are held out.
3. *Baseline.* Without the offer, the customer buys in the window with
   probability ``p0 = alive(as_of) * (1 - exp(-lambda * horizon))``: the shop's
   own latent BG/NBD state (dropout, purchase rate per week). Nobody observes
   it; a churn model estimates ``1 - p0``. (From a plain customer frame, ``p0``
   comes from a ``p_control`` column, or ``0.85 * exp(-recency_days / 150)``.)
4. *Response to the offer*, driven by observable features, with a hidden
   per-customer factor ``eta ~ LogNormal(mean 1, sigma = noise_sigma)``:

   - persuasion ``phi+ = persuade_max * lapse(recency) * habit(frequency) * eta+``:
     ``lapse`` is a bump in log recency days peaking at ``persuade_peak_days``
     (drifting away, still reachable; too recent needs no nudge, too long ago is
     gone), ``habit = 1 - exp(-(orders - 1) / persuade_orders_scale)`` (a habit
     to rekindle; one-time buyers have none);
   - annoyance ``phi- = annoy_max * exp(-(orders - 1) / annoy_orders_scale
     - recency / annoy_days) * eta-``:
     new customers who just paid full price and are chased with a discount
     feel cheated and stay away;

   and ``p1 = p0 * (1 - phi-) + (1 - p0) * phi+``: the offer wins a share
   ``phi+`` of those who would not have bought and loses a share ``phi-`` of those
   who would. The true uplift is ``tau = p1 - p0``.
5. *Potential outcomes and archetypes.* One uniform ``u`` per customer gives
   both ``y0 = u < p0`` and ``y1 = u < p1``, so each customer has a realised
   classic type: sure thing (buys either way), persuadable (buys only if
   offered), sleeping dog (buys only if *not* offered), lost cause (never buys).
   The observed outcome is ``y1`` if treated, else ``y0``.
6. *Revenue.* A buyer spends one basket ``z ~ Gamma(spend_p, 1 / nu)`` (the
   shop's Gamma-Gamma spend, mean ``spend_p / nu``; from a frame:
   ``monetary_mean``), the same with or without the offer: the offer changes
   whether, not how much. Revenue is gross, before the coupon's discount;
   later orders in the window are not simulated.
7. *Economics* (for the truth's profit column): profit is ``margin`` of
   revenue; treating costs ``fixed_cost`` per contact plus ``discount_share`` of
   the basket when the treated customer buys. The expected incremental profit
   of treating a customer is ``(margin * tau - discount_share * p1) * E[z] - fixed_cost``:
   sure things lose the discount, lost causes the contact, sleeping dogs
   their margin too, and only persuadables (enough of them) pay.

Churn risk and uplift differ on purpose: lost causes have the highest churn
risk and no uplift, so targeting by churn alone spends on them, while uplift
targeting finds the lapsing repeat customers.

The settings and column names are in :mod:`simulators.campaign_config`, step 1
(who is in it, their baseline and spend) in :mod:`simulators.campaign_inputs`;
both are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.control_groups import in_control
from kizuna.features.errors import KizunaInputError
from kizuna.simulators.campaign_config import (
    ALIVE_AT_AS_OF,
    ARCHETYPE,
    ARCHETYPES,
    BASKET,
    EXPECTED_BASKET,
    LIKELY_ARCHETYPE,
    LOST_CAUSE,
    OUTCOME_COLUMNS,
    P_CONTROL,
    P_TREATED,
    PERSUADABLE,
    SLEEPING_DOG,
    SURE_THING,
    TRUE_PROFIT_UPLIFT,
    TRUE_REVENUE_UPLIFT,
    TRUE_UPLIFT,
    Y_CONTROL,
    Y_TREATED,
    CampaignConfig,
)
from kizuna.simulators.campaign_inputs import DEFAULT_SPEND_SHAPE, from_frame, from_shop
from kizuna.simulators.synthetic import Shop

__all__ = [
    "ALIVE_AT_AS_OF",
    "ARCHETYPE",
    "ARCHETYPES",
    "BASKET",
    "EXPECTED_BASKET",
    "LIKELY_ARCHETYPE",
    "LOST_CAUSE",
    "OUTCOME_COLUMNS",
    "PERSUADABLE",
    "P_CONTROL",
    "P_TREATED",
    "SLEEPING_DOG",
    "SURE_THING",
    "TRUE_PROFIT_UPLIFT",
    "TRUE_REVENUE_UPLIFT",
    "TRUE_UPLIFT",
    "Y_CONTROL",
    "Y_TREATED",
    "CampaignConfig",
    "SimulatedCampaign",
    "simulate_campaign",
    "true_profit_uplift",
]


@dataclass(frozen=True)
class SimulatedCampaign:
    """A simulated campaign: what a user would have, and the truth.

    Attributes
    ----------
    outcomes
        One row per customer, columns :data:`OUTCOME_COLUMNS`: ``treated``
        (bool), ``outcome`` (0/1: bought in the window), ``revenue`` (gross).
    truth
        Same rows: ``archetype`` (realised type), ``likely_archetype`` (most
        probable type), ``p_control``, ``p_treated``, ``true_uplift``,
        ``expected_basket``, ``true_revenue_uplift``, ``true_profit_uplift``
        (expected, with the config's economics), both potential outcomes
        ``y_control``/``y_treated``, the ``basket`` and (from a shop)
        ``alive_at_as_of``.
    features
        The observable customer features at ``as_of``, indexed by customer id
        (same order as the rows above).
    config
        The configuration used.
    """

    outcomes: pd.DataFrame
    truth: pd.DataFrame
    features: pd.DataFrame
    config: CampaignConfig


def simulate_campaign(
    source: Shop | pd.DataFrame,
    config: CampaignConfig | None = None,
    *,
    as_of: pd.Timestamp | str | None = None,
    seed: int = 0,
) -> SimulatedCampaign:
    """Simulate one offer sent to every customer at ``as_of``, with a control group.

    Parameters
    ----------
    source
        A :class:`~features.synthetic.Shop` (features are built from its
        transactions; the baseline and spend come from its latent truth), or a
        customer frame indexed by (or with a column) ``customer_id`` with
        ``recency_days``, ``frequency`` and ``monetary_mean``, and optionally
        ``p_control``.
    config
        Campaign parameters; :class:`CampaignConfig()` by default.
    as_of
        Send time; defaults to the shop's end (the campaign follows its
        history). Ignored for a frame.
    seed
        Seed of the outcome draws (assignment depends on the ids and campaign
        id only).

    Returns
    -------
    SimulatedCampaign
    """
    cfg = CampaignConfig() if config is None else config
    if isinstance(source, Shop):
        features, p0, expected_basket, spend_shape, alive = from_shop(source, cfg, as_of)
    elif isinstance(source, pd.DataFrame):
        features, p0, expected_basket = from_frame(source)
        spend_shape, alive = DEFAULT_SPEND_SHAPE, None
    else:
        raise KizunaInputError(f"expected a Shop or a customer frame, got {type(source).__name__}")
    n = len(features)
    if n == 0:
        raise KizunaInputError("no customers to run the campaign on", column=s.CUSTOMER_ID)
    rng = np.random.default_rng(seed)
    days = np.maximum(features[s.RECENCY_DAYS].to_numpy(dtype=float), 1.0)
    orders = features[s.FREQUENCY].to_numpy(dtype=float)
    sigma = cfg.noise_sigma
    eta_plus = rng.lognormal(-(sigma**2) / 2, sigma, n)
    eta_minus = rng.lognormal(-(sigma**2) / 2, sigma, n)
    lapse = np.exp(-(np.log(days / cfg.persuade_peak_days) ** 2) / (2 * cfg.persuade_width**2))
    habit = 1.0 - np.exp(-(orders - 1.0) / cfg.persuade_orders_scale)
    phi_plus = np.clip(cfg.persuade_max * lapse * habit * eta_plus, 0.0, 0.95)
    newness = np.exp(-(orders - 1.0) / cfg.annoy_orders_scale - days / cfg.annoy_days)
    phi_minus = np.clip(cfg.annoy_max * newness * eta_minus, 0.0, 0.95)
    p1 = p0 * (1.0 - phi_minus) + (1.0 - p0) * phi_plus
    tau = p1 - p0
    u = rng.random(n)
    y0, y1 = u < p0, u < p1
    basket = rng.gamma(spend_shape, expected_basket / spend_shape)
    ids = features.index.astype("str")
    treated = ~in_control(ids, cfg.campaign_id, cfg.control_share)
    outcome = np.where(treated, y1, y0)
    archetype = np.select(
        [y0 & y1, y1 & ~y0, y0 & ~y1], [SURE_THING, PERSUADABLE, SLEEPING_DOG], LOST_CAUSE
    )
    # Type probabilities under the shared-u coupling.
    probs = np.column_stack([
        np.maximum(p1 - p0, 0), np.minimum(p0, p1), 1 - np.maximum(p0, p1), np.maximum(p0 - p1, 0)
    ])  # fmt: skip
    likely = np.array(ARCHETYPES, dtype=object)[np.argmax(probs, axis=1)]
    outcomes = pd.DataFrame({
        s.CUSTOMER_ID: pd.array(ids, dtype="str"),
        s.CAMPAIGN_ID: pd.array([cfg.campaign_id] * n, dtype="str"),
        s.OFFER_ID: pd.array([cfg.offer_id] * n, dtype="str"),
        s.TREATED: treated,
        s.OUTCOME: outcome.astype(np.int8),
        s.REVENUE: np.where(outcome, basket, 0.0),
    })  # fmt: skip
    truth = pd.DataFrame({
        s.CUSTOMER_ID: pd.array(ids, dtype="str"),
        ARCHETYPE: pd.array(archetype, dtype="str"),
        LIKELY_ARCHETYPE: pd.array(likely, dtype="str"),
        P_CONTROL: p0,
        P_TREATED: p1,
        TRUE_UPLIFT: tau,
        EXPECTED_BASKET: expected_basket,
        TRUE_REVENUE_UPLIFT: tau * expected_basket,
        TRUE_PROFIT_UPLIFT: true_profit_uplift(
            p0, p1, expected_basket, margin=cfg.margin, discount_share=cfg.discount_share,
            fixed_cost=cfg.fixed_cost,
        ),
        Y_CONTROL: y0.astype(np.int8),
        Y_TREATED: y1.astype(np.int8),
        BASKET: basket,
    })  # fmt: skip
    if alive is not None:
        truth[ALIVE_AT_AS_OF] = alive
    return SimulatedCampaign(outcomes=outcomes, truth=truth, features=features, config=cfg)


def true_profit_uplift(
    p_control: np.ndarray, p_treated: np.ndarray, expected_basket: np.ndarray, *,
    margin: float, discount_share: float, fixed_cost: float,
) -> np.ndarray:  # fmt: skip
    """Expected incremental profit of treating, shape (n,):
    ``(margin * (p1 - p0) - discount_share * p1) * basket - fixed_cost``."""
    p0, p1 = np.asarray(p_control, float), np.asarray(p_treated, float)
    basket = np.asarray(expected_basket, float)
    return (margin * (p1 - p0) - discount_share * p1) * basket - fixed_cost
