"""Per-offer uplift models learned from a campaign, measured on a hashed holdout (Qini, AUUC)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.control_groups import hash_units
from kizuna.features.errors import KizunaInputError
from kizuna.training.campaign_outcomes import treated_flags


def learn_uplift(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    learner: str = "x",
    holdout_share: float = 0.3,
    seed: int = 0,
    customer_col: str = s.CUSTOMER_ID,
    offer_col: str = s.OFFER_ID,
    treated_col: str = s.TREATED,
    outcome_col: str = s.OUTCOME,
    holdout: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Learn per-offer uplift models and measure them on a held-out share of customers.

    The holdout is chosen by hash of the customer id (stable across runs);
    metrics come from models fitted on the rest, and the returned models are
    refitted on everything.

    Parameters
    ----------
    features
        Customer features, indexed by customer id (or with ``customer_col``).
    outcomes
        As for :func:`training.campaign_eval.evaluate_campaign`.
    learner
        ``"x"`` (:class:`~models.uplift.XLearner`) or ``"t"`` (:class:`~models.uplift.TLearner`).
    holdout
        If given, filled with ``offer_id -> (outcome, treated, score)`` on the
        held-out customers, for curves and plots.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``offer_id -> fitted model`` and one row of holdout metrics per offer:
        ``qini`` (normalised coefficient), ``auuc``, ``uplift_at_30``
        (treated minus control outcome in the top 30 %) and the row counts.
    """
    from kizuna.models.uplift import TLearner, XLearner, fit_uplift_by_offer
    from kizuna.training.metrics_uplift import auuc, qini_coefficient, uplift_at_k

    kinds = {"x": XLearner, "t": TLearner}
    if learner not in kinds:
        raise KizunaInputError("learner must be 'x' or 't'", column="learner", values=[learner])
    if not 0 < holdout_share < 1:
        raise KizunaInputError(
            "holdout share must be in (0, 1)", column="holdout_share", values=[holdout_share]
        )
    frame = outcomes.copy()
    frame[treated_col] = treated_flags(frame[treated_col], column=treated_col).astype(int)
    base = kinds[learner](random_state=seed)
    held = hash_units(frame[customer_col].astype("str"), f"uplift-holdout-{seed}") < holdout_share
    kw = dict(
        customer_col=customer_col,
        offer_col=offer_col,
        treated_col=treated_col,
        outcome_col=outcome_col,
    )
    trial = fit_uplift_by_offer(features, frame[~held], base, **kw)
    table = features.set_index(customer_col) if customer_col in features.columns else features
    table = table.set_axis(table.index.astype("str"), axis=0)
    rows = []
    for offer_id, model in trial.items():
        test = frame[held & (frame[offer_col].astype("str") == offer_id)]
        score = model.predict_uplift(table.loc[test[customer_col].astype("str")])
        y, t = test[outcome_col].to_numpy(float), test[treated_col].to_numpy()
        if holdout is not None:
            holdout[offer_id] = (y, t, np.asarray(score, dtype=float))
        ok = 0 < t.sum() < t.size
        rows.append({
            s.OFFER_ID: offer_id, "n_train": int((~held & (frame[offer_col] == offer_id)).sum()),
            "n_holdout": int(len(test)),
            "qini": qini_coefficient(y, t, score) if ok else np.nan,
            "auuc": auuc(y, t, score) if ok else np.nan,
            "uplift_at_30": uplift_at_k(y, t, score, 0.3) if ok else np.nan,
        })  # fmt: skip
    models = fit_uplift_by_offer(features, frame, base, **kw)
    return models, pd.DataFrame(rows)
