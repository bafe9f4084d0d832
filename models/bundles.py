"""What a registered kizuna model holds: plain dataclasses, no I/O.

Training writes these bundles (joblib) and serving reads them; both import
them from here, so neither depends on the other's modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

MODEL_KINDS = ("recommender", "churn", "ltv")


@dataclass(frozen=True)
class ExperimentInfo:
    """What serving needs to know about the experiment that trained a model set.

    Attributes
    ----------
    name
        The experiment's ``name``.
    offers
        Path of its offer catalogue (or None).
    """

    name: str
    offers: str | None = None


@dataclass(frozen=True)
class RecommenderBundle:
    """A fitted recommender and the id maps and settings to feed it.

    Attributes
    ----------
    model
        A fitted ``models.recommenders`` estimator working on integer codes.
    item_ids, user_ids
        Code -> id maps of the training matrix.
    interaction_params
        Keyword arguments of ``features.interactions.build_interactions`` that
        turn a purchase history into the rows ``model.recommend`` expects.
    item_categories
        Category per item code (or None), for filters and reasons.
    history
        The purchase history the model was fit on, (n_users, n_items) CSR in
        ``interaction_params`` weighting: the rows ``recommend`` takes.
    trained_until
        The model saw events strictly before this instant.
    item_prices
        Median unit price per item code, shape (n_items,), for offer values.
    purchase_rate_by_rank
        Shape (k,): on the holdout, the share of customers who bought the
        new item recommended at rank r (``new`` mode) within the horizon: a
        calibrated P(purchase) for a next-best-offer's product candidates.
    """

    model: Any
    item_ids: pd.Index
    user_ids: pd.Index
    interaction_params: dict[str, Any]
    item_categories: pd.Series | None = None
    history: Any = None
    trained_until: pd.Timestamp | None = None
    item_prices: Any = None
    purchase_rate_by_rank: Any = None


@dataclass(frozen=True)
class TabularBundle:
    """A churn or LTV model with the BTYD models that make its inputs.

    Attributes
    ----------
    model
        ``ChurnClassifier`` or ``LTVRegressor`` (or a baseline).
    feature_columns
        Input columns, in order.
    bgnbd, gamma_gamma
        BTYD models fit on the latest training snapshot, for the ``p_alive``
        and expected-value features (None in contractual mode).
    btyd_unit, horizon_days
        Time unit of the BTYD summary and the label horizon.
    mode
        ``non_contractual`` or ``contractual``.
    next_order_prior_gaps
        Weight of the population model against the customer's rhythm in the
        expected next-order date (:func:`models.next_order.next_order`), chosen
        on the validation snapshot.
    """

    model: Any
    feature_columns: list[str]
    bgnbd: Any = None
    gamma_gamma: Any = None
    btyd_unit: str = "W"
    horizon_days: int = 90
    mode: str = "non_contractual"
    trained_until: pd.Timestamp | None = None
    next_order_prior_gaps: float = 3.0


@dataclass(frozen=True)
class ChampionModels:
    """The models that the ``champion`` aliases point to, loaded once.

    ``versions`` maps ``recommender``/``churn``/``ltv`` (and ``snapshot``) to
    the registry version served. ``experiment`` describes the experiment that
    trained them: training passes its ``ExperimentConfig``; a loader passes an
    :class:`ExperimentInfo` (name and offer catalogue), so serving never needs
    the training config. ``kinds`` lists the model kinds the experiment
    trained (``/readyz`` is not ready while one of them is missing).
    """

    recommender: RecommenderBundle | None
    churn: TabularBundle | None
    ltv: TabularBundle | None
    versions: dict[str, int] = field(default_factory=dict)
    experiment: Any = None
    kinds: tuple[str, ...] = ()
    #: Kinds whose file could not be loaded -> why (naming kind, version and file); their
    #: endpoints answer 503 while the others serve (``/readyz`` reports them as degraded).
    broken: dict[str, str] = field(default_factory=dict)

    def missing_kinds(self) -> list[str]:
        """Kinds the experiment trained that this set lacks (broken ones excluded).

        Returns
        -------
        list of str
        """
        return [
            k
            for k in self.kinds
            if k in MODEL_KINDS and getattr(self, k) is None and k not in self.broken
        ]
