"""Learn per-offer uplift from a campaign with a control group, against churn-score targeting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.training import plots
from kizuna.training.campaign_eval import learn_uplift
from kizuna.training.config import UpliftConfig
from kizuna.training.metrics_uplift import auuc, qini_coefficient, uplift_at_k


@dataclass
class UpliftResult:
    """Holdout Qini/AUUC of the learned uplift, and of ranking by churn probability.

    ``bundle`` maps offer id to its fitted uplift model (refit on every row).
    """

    bundle: dict[str, Any]
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    figures: dict[str, Any]
    kind: str = "uplift"
    primary_metric: str = "qini"
    higher_is_better: bool = True
    search: list[dict[str, Any]] = field(default_factory=list)
    input_example: pd.DataFrame | None = None
    extra_metrics: dict[str, float] = field(default_factory=dict)


def campaign_outcomes(config: UpliftConfig, features: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """The outcomes to learn from: the configured file, or a simulated campaign.

    Parameters
    ----------
    config
        The uplift config.
    features
        Customer features, shape (n, p).
    seed
        The experiment's seed.

    Returns
    -------
    pandas.DataFrame
        One row per customer and offer.
    """
    if config.outcomes is not None:
        from kizuna.training.csv_safety import restored_from
        from kizuna.training.data import read_table

        outcomes = read_table(config.outcomes, string_columns={"customer_id", "offer_id"})
        return restored_from(outcomes, config.outcomes)  # as campaign-outcomes wrote it
    if config.simulate:
        from kizuna.simulators.campaign import simulate_campaign

        return simulate_campaign(features, seed=seed).outcomes
    raise KizunaInputError(
        "uplift.enabled needs uplift.outcomes (a campaign file) or "
        "uplift.simulate: true (synthetic data)"
    )


def train_uplift(
    features: pd.DataFrame,
    config: UpliftConfig,
    *,
    seed: int,
    churn_model: Any = None,
) -> UpliftResult:
    """Fit uplift per offer; score it and churn-probability targeting on the same holdout.

    Parameters
    ----------
    features
        Customer features at the campaign's send time, indexed by customer id.
    churn_model
        A fitted churn classifier, whose ranking is the baseline policy.
    config
        The uplift config.
    seed
        The experiment's seed.

    Returns
    -------
    UpliftResult
    """
    outcomes = campaign_outcomes(config, features, seed=seed)
    holdout: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    models, table = learn_uplift(
        features, outcomes, learner=config.learner, seed=seed, holdout=holdout
    )
    metrics: dict[str, float] = {}
    baseline: dict[str, float] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    single = len(holdout) == 1
    for offer_id, (y, t, score) in holdout.items():
        prefix = "" if single else f"{offer_id}_"
        metrics.update(_scores(y, t, score, prefix))
        curves[f"uplift {offer_id}"] = (y, t, score)
        if churn_model is not None:
            ids = _holdout_ids(outcomes, offer_id, len(y), seed)
            churn = churn_model.predict_proba(features.loc[ids])[:, 1]
            baseline.update(_scores(y, t, churn, prefix))
            curves[f"churn score {offer_id}"] = (y, t, churn)
    return UpliftResult(
        bundle=models,
        metrics=metrics,
        baselines={"churn_score": baseline} if baseline else {},
        figures={"uplift_qini.png": plots.qini_figure(curves)},
        extra_metrics={
            "uplift_rows": float(len(outcomes)),
            "uplift_holdout_rows": float(table["n_holdout"].sum()),
        },
    )


def _scores(y: np.ndarray, t: np.ndarray, score: np.ndarray, prefix: str) -> dict[str, float]:
    if not 0 < t.sum() < t.size:
        return {}
    return {
        f"{prefix}qini": qini_coefficient(y, t, score),
        f"{prefix}auuc": auuc(y, t, score),
        f"{prefix}uplift_at_30": uplift_at_k(y, t, score, 0.3),
    }


def _holdout_ids(outcomes: pd.DataFrame, offer_id: str, n: int, seed: int) -> pd.Index:
    """The held-out customers of ``learn_uplift``, in its order (same hash rule)."""
    from kizuna.features.control_groups import hash_units

    held = hash_units(outcomes["customer_id"].astype("str"), f"uplift-holdout-{seed}") < 0.3
    rows = outcomes[held & (outcomes["offer_id"].astype("str") == offer_id)]
    if len(rows) != n:  # pragma: no cover - guards the coupling to learn_uplift's split
        raise AssertionError("uplift holdout does not line up with learn_uplift's")
    return pd.Index(rows["customer_id"].astype("str"))
