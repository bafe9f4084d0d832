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
    holdout_share
        Share of customers held out (when ``holdout`` is not given).
    seed
        Seed of the split and the learners.
    customer_col, offer_col, treated_col, outcome_col
        Column names (the canonical ones by default).

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
    small, skipped = _too_small(frame[~held], offer_col, treated_col)
    keep = ~frame[offer_col].astype("str").isin(small).to_numpy()
    frame, held = frame[keep], np.asarray(held)[keep]
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
            "uplift_at_30": uplift_at_k(y, t, score, 0.3) if ok else np.nan, "skipped": None,
        })  # fmt: skip
    models = fit_uplift_by_offer(features, frame, base, **kw)
    return models, pd.DataFrame([*rows, *skipped]).sort_values(s.OFFER_ID, ignore_index=True)


def _too_small(
    train: pd.DataFrame, offer_col: str, treated_col: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """The offers of ``train`` too small to learn from, and a result row for each.

    An offer needs :data:`models.uplift_base.MIN_GROUP_ROWS` treated and as many
    control customers outside the holdout; one small offer does not stop the
    others from being learned. None learnable is an error naming each offer's counts.
    """
    from kizuna.models.uplift_base import MIN_GROUP_ROWS

    offers = train[offer_col].astype("str")
    treated = train.groupby(offers)[treated_col].agg(["sum", "count"])
    small = treated[
        (treated["sum"] < MIN_GROUP_ROWS) | (treated["count"] - treated["sum"] < MIN_GROUP_ROWS)
    ]
    counts = {
        str(o): f"{int(r['sum'])} treated and {int(r['count'] - r['sum'])} control"
        for o, r in small.iterrows()
    }
    need = f"uplift needs at least {MIN_GROUP_ROWS} of each outside the holdout"
    if len(small) == len(treated):
        shown = "; ".join(f"{o}: {c}" for o, c in counts.items())
        raise KizunaInputError(f"no offer can be learned ({need}): {shown}", column=treated_col)
    skipped = [
        {s.OFFER_ID: o, "n_train": int(treated.loc[o, "count"]), "n_holdout": 0,
         "qini": np.nan, "auuc": np.nan, "uplift_at_30": np.nan, "skipped": f"{c}; {need}"}
        for o, c in counts.items()
    ]  # fmt: skip
    return list(counts), skipped
