"""Uplift meta-learners on LightGBM: how much an offer changes each customer's outcome.

Uplift (the conditional average treatment effect) is
``tau(x) = E[Y | X=x, offered] - E[Y | X=x, not offered]``. It is never observed
for one customer (each is either offered or not), so it is learned from a
randomised campaign (treated and control groups) with a meta-learner, which
turns ordinary supervised models into an effect estimate:

- :class:`TLearner` fits one outcome model per group and subtracts them:
  ``tau(x) = mu1(x) - mu0(x)``. Simple; each model sees only half the data and
  their errors do not cancel, so small effects are noisy.
- :class:`XLearner` (Kunzel et al., 2019) starts from the T-learner's models,
  imputes each customer's effect with the *other* group's model
  (treated: ``D1 = y - mu0(x)``; control: ``D0 = mu1(x) - y``), regresses those
  on x in each group, and blends the two: ``tau = g * tau0 + (1 - g) * tau1``
  with ``g`` the propensity (share treated). Better when effects are smooth
  and groups unequal.

Both follow one contract (:class:`~models.uplift_base.UpliftLearner`): ``fit(X, treatment, y)``,
``predict_uplift(X) -> (n,)``, ``predict_outcomes(X) -> (n, 2)`` (untreated,
treated). ``y`` is 0/1 (retained, purchased: uplift is a change in probability)
or a number (revenue). Features go through :class:`models.preprocessing.TabularPreprocessor`,
so any feature table works. Seeds fix the result; threads default to 1 (the
models are small, and the machine is shared).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.uplift_base import Outcome, UpliftLearner

__all__ = [
    "Outcome",
    "TLearner",
    "UpliftLearner",
    "XLearner",
    "fit_uplift_by_offer",
    "uplift_frame",
]


class TLearner(UpliftLearner):
    """Two-model learner: ``tau(x) = mu1(x) - mu0(x)``.

    Attributes
    ----------
    model_control_, model_treated_ : lightgbm.Booster
        Outcome models fitted on the control and on the treated rows.
    """

    def _fit_components(self, Xt: pd.DataFrame, t: np.ndarray, y: np.ndarray) -> None:
        objective = self._outcome_objective()
        self.model_control_ = self._train(Xt[~t], y[~t], objective, 0)
        self.model_treated_ = self._train(Xt[t], y[t], objective, 1)

    def _uplift(self, M: np.ndarray) -> np.ndarray:
        return self._predict(self.model_treated_, M) - self._predict(self.model_control_, M)


class XLearner(UpliftLearner):
    """X-learner (Kunzel et al., 2019): imputed effects regressed per group, then blended.

    Parameters
    ----------
    propensity
        Probability of treatment, the blending weight ``g``; ``None`` uses the
        share treated at fit (right for a randomised campaign).
    outcome, n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda,
    colsample_bytree, drop, categorical, random_state, n_jobs
        As in :class:`UpliftLearner`.

    Attributes
    ----------
    model_control_, model_treated_ : lightgbm.Booster
        First-stage outcome models.
    effect_control_, effect_treated_ : lightgbm.Booster
        Second-stage models of the imputed effects ``D0`` and ``D1``.
    propensity_ : float
    """

    def __init__(
        self,
        *,
        propensity: float | None = None,
        outcome: Outcome = "auto",
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        reg_lambda: float = 1.0,
        colsample_bytree: float = 1.0,
        drop: Sequence[str] = (),
        categorical: Sequence[str] = (),
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        super().__init__(
            outcome=outcome,
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            reg_lambda=reg_lambda,
            colsample_bytree=colsample_bytree,
            drop=drop,
            categorical=categorical,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        self.propensity = propensity

    def _fit_components(self, Xt: pd.DataFrame, t: np.ndarray, y: np.ndarray) -> None:
        g = self.treated_share_ if self.propensity is None else float(self.propensity)
        if not 0.0 < g < 1.0:
            raise KizunaInputError(
                "propensity must be strictly between 0 and 1",
                column="propensity",
                values=[self.propensity],
            )
        self.propensity_ = g
        objective = self._outcome_objective()
        self.model_control_ = self._train(Xt[~t], y[~t], objective, 0)
        self.model_treated_ = self._train(Xt[t], y[t], objective, 1)
        # Each group's effect is imputed with the model of the *other* group, which
        # never saw these rows: no in-sample optimism.
        d_treated = y[t] - self._predict(self.model_control_, Xt[t])
        d_control = self._predict(self.model_treated_, Xt[~t]) - y[~t]
        self.effect_treated_ = self._train(Xt[t], d_treated, "regression", 2)
        self.effect_control_ = self._train(Xt[~t], d_control, "regression", 3)

    def _uplift(self, M: np.ndarray) -> np.ndarray:
        g = self.propensity_
        return g * self._predict(self.effect_control_, M) + (1 - g) * self._predict(
            self.effect_treated_, M
        )


def fit_uplift_by_offer(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    learner: UpliftLearner,
    *,
    customer_col: str = s.CUSTOMER_ID,
    offer_col: str = "offer_id",
    treated_col: str = "treated",
    outcome_col: str = "outcome",
) -> dict[str, UpliftLearner]:
    """Fit one clone of ``learner`` per offer of a campaign's outcomes.

    Parameters
    ----------
    features
        Shape (n_customers, p), indexed by customer id (or with a
        ``customer_col`` column, which is not used as a feature).
    outcomes
        One row per customer and offer: ``customer_col``, ``offer_col``,
        ``treated_col`` (0/1) and ``outcome_col``.
    learner
        An unfitted uplift learner, cloned per offer.
    customer_col, offer_col, treated_col, outcome_col
        The columns of ``outcomes`` (and of ``features`` for the id).

    Returns
    -------
    dict
        ``offer_id -> fitted learner``, ready for
        :func:`models.next_best_offer.decide` (``uplift=``).
    """
    table = features.set_index(customer_col) if customer_col in features.columns else features
    table = table.set_axis(table.index.astype("str"), axis=0)  # a copy: the caller's stays
    if table.index.has_duplicates:
        raise KizunaInputError("features must have one row per customer", column=customer_col)
    for col in (customer_col, offer_col, treated_col, outcome_col):
        if col not in outcomes.columns:
            raise KizunaInputError("the outcomes frame lacks a column", column=col)
    fitted: dict[str, UpliftLearner] = {}
    for offer_id, rows in outcomes.groupby(offer_col, sort=True):
        pos = table.index.get_indexer(rows[customer_col].astype("str"))
        if (pos < 0).any():
            missing = rows[customer_col].to_numpy()[pos < 0]
            raise KizunaInputError(
                "outcomes name customers without features", column=customer_col, values=missing
            )
        model = clone(learner)
        model.fit(table.iloc[pos], rows[treated_col].to_numpy(), rows[outcome_col].to_numpy())
        fitted[str(offer_id)] = model
    return fitted


def uplift_frame(
    models: Mapping[str, UpliftLearner],
    features: pd.DataFrame,
    *,
    customer_col: str = s.CUSTOMER_ID,
) -> pd.DataFrame:
    """Long frame ``customer_id, offer_id, uplift`` of every model on every customer.

    Parameters
    ----------
    models
        Offer id -> fitted uplift learner.
    features
        Shape (n_customers, p), indexed by customer id (or with a ``customer_col`` column).
    customer_col
        The customer id column.

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers * n_models, 3): ``customer_col``, ``offer_id``, ``uplift``.
    """
    table = features.set_index(customer_col) if customer_col in features.columns else features
    parts = [
        pd.DataFrame(
            {
                customer_col: table.index.astype("str"),
                "offer_id": offer_id,
                "uplift": model.predict_uplift(table),
            }
        )
        for offer_id, model in models.items()
    ]
    if not parts:
        return pd.DataFrame({customer_col: [], "offer_id": [], "uplift": []})
    return pd.concat(parts, ignore_index=True)
