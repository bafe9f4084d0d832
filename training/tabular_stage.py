"""The tabular stage of ``kizuna train``: feature snapshots, next-order dates, churn, LTV, uplift.

It shares nothing with the recommender but the data, so the pipeline runs it
in a child process beside the recommender (:mod:`training.tabular_process`;
each model on its own fixed threads, so the results are those of one process).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import replace
from typing import Any

import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.training import plots
from kizuna.training.config import ExperimentConfig
from kizuna.training.next_order_eval import choose_prior_gaps, evaluate_next_order
from kizuna.training.snapshots import Snapshot, build_snapshot, snapshot_dates
from kizuna.training.train_tabular import train_churn, train_ltv


def train_tabular_stage(
    config: ExperimentConfig,
    tx: pd.DataFrame,
    items: pd.DataFrame | None,
    customers: pd.DataFrame | None,
    tabular_kinds: list[str],
) -> tuple[Snapshot, dict[str, Any], dict[str, float]]:
    """Snapshots, next-order evaluation, churn, LTV and uplift.

    Parameters
    ----------
    config
        The experiment config.
    tx
        Validated lines, shape (n, k).
    items, customers
        The validated items and customers tables, or None.
    tabular_kinds
        The kinds to train.

    Returns
    -------
    (test snapshot, results by kind, next-order metrics)
    """
    split = config.split
    train_dates, val_date, test_date = snapshot_dates(
        pd.Timestamp(split.as_of), split.horizon_days, split.train_snapshots
    )
    snaps = [
        build_snapshot(
            tx,
            date,
            horizon_days=split.horizon_days,
            lookback_days=split.lookback_days,
            btyd_unit=config.btyd.time_unit,
            customers=customers,
            items=items,
        )
        for date in [*train_dates, val_date, test_date]
    ]
    train, val, test = [s for s in snaps[:-2] if len(s.X)], snaps[-2], snaps[-1]
    if not train or val.X.empty or test.X.empty:
        raise KizunaInputError(
            f"not enough history for snapshots {[str(d.date()) for d in train_dates]}, "
            f"validation {val_date.date()} and test {test_date.date()}: move split.as_of later "
            "or reduce split.train_snapshots / split.horizon_days"
        )
    unit = config.btyd.time_unit
    # the blend weight is chosen on the validation snapshot, judged on the test one
    prior_gaps = choose_prior_gaps(
        tx, val.X, val.bgnbd, val.as_of, horizon_days=split.horizon_days, btyd_unit=unit
    )
    next_order = evaluate_next_order(
        tx, test.X, test.bgnbd, test.as_of,
        horizon_days=split.horizon_days, btyd_unit=unit, prior_gaps=prior_gaps,
    )  # fmt: skip
    common = {
        "seed": config.seed,
        "btyd_unit": config.btyd.time_unit,
        "horizon_days": split.horizon_days,
    }
    results: dict[str, Any] = {}
    # LTV trains on a thread of its own beside churn (each LightGBM model on one thread).
    with ThreadPoolExecutor(1, thread_name_prefix="kizuna-ltv") as pool:
        ltv = None
        if "ltv" in tabular_kinds:
            ltv = pool.submit(copy_context().run, train_ltv, train, val, test, config.ltv, **common)
        if "churn" in tabular_kinds:
            results["churn"] = train_churn(train, val, test, config.churn, **common)
        if ltv is not None:
            results["ltv"] = ltv.result()
    for kind in ("churn", "ltv"):  # the served next-order dates use the chosen blend
        if kind in tabular_kinds and hasattr(results[kind].bundle, "next_order_prior_gaps"):
            outcome = results[kind]
            outcome.bundle = replace(outcome.bundle, next_order_prior_gaps=prior_gaps)
    if config.uplift.enabled:
        from kizuna.training.train_uplift import train_uplift

        churn = results.get("churn")
        results["uplift"] = train_uplift(
            test.X,
            config.uplift,
            seed=config.seed,
            churn_model=None if churn is None else churn.bundle.model,
        )
    for outcome in results.values():  # drawn on this thread, while the recommender trains
        outcome.figures = plots.to_png(outcome.figures)
    return test, results, next_order
