"""Can the LTV level be learned before as_of? Rolling windows and a backtest of level rules.

Usage (the README's LTV discussion quotes these tables)::

    OMP_NUM_THREADS=1 python benchmarks/ltv_level.py experiments/online_retail.yaml

Prints three Markdown tables for the experiment's population (customers active
in the lookback before each cutoff):

1. at cutoffs every ``--step-days`` whose horizon ended by ``as_of`` (from one
   horizon after the first purchase on), and at ``as_of`` itself (the holdout),
   the actual horizon revenue against the BG/NBD x Gamma-Gamma forecast fit
   before the cutoff;
2. rules that forecast that ratio from finished windows only
   (:mod:`kizuna.training.ltv_level`), backtested on the earlier cutoffs
   and applied at ``as_of``;
3. the LTV model's total-level factor (``LTVRegressor.total_scale_``) learned
   on each validation snapshot of the experiment's snapshot chain against the
   factor that the next snapshot needed, and the mean absolute error of the
   LTV rescaled to the BG/NBD x Gamma-Gamma total against that of BG/NBD x
   Gamma-Gamma (the shape of the forecast without its level).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:+.1f}%".replace("-", "−")


def _ratio(x: float) -> str:
    return "— (degenerate BTYD fit)" if not np.isfinite(x) else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument("--step-days", type=int, default=14)
    args = parser.parse_args(argv)
    from kizuna.models.btyd_features import EXPECTED_VALUE
    from kizuna.models.ltv import LTVRegressor
    from kizuna.training.config import load_experiment
    from kizuna.training.data import load_tables, load_transactions_and_events
    from kizuna.training.ltv_level import LEVEL_METHODS, backtest_levels, rolling_levels
    from kizuna.training.snapshots import build_snapshot, snapshot_dates, stack

    warnings.simplefilter("ignore")
    config = load_experiment(args.experiment)
    split, unit = config.split, config.btyd.time_unit
    tx = load_transactions_and_events(config.data, as_of=None, quiet=True)[0].kept
    items, customers = load_tables(config.data)
    as_of, horizon = pd.Timestamp(split.as_of), pd.Timedelta(days=split.horizon_days)
    # BTYD fit on less than one horizon of history is noise (and on CDNOW, the
    # first quarter is the cohort's acquisition): start one horizon in.
    first = tx["timestamp"].min() + horizon
    cutoffs, cutoff = [as_of], as_of - horizon
    while cutoff >= first:
        cutoffs.append(cutoff)
        cutoff -= pd.Timedelta(days=args.step_days)
    common = {"horizon_days": split.horizon_days, "lookback_days": split.lookback_days,
              "btyd_unit": unit, "items": items, "customers": customers}  # fmt: skip
    levels = rolling_levels(tx, cutoffs, **common)
    out = [f"**{config.name}**: actual horizon revenue / BG/NBD x Gamma-Gamma forecast", ""]
    out += [
        "| cutoff | customers | actual | forecast | actual / forecast |",
        "|---|---|---|---|---|",
    ]
    for row in levels.itertuples():
        mark = " (holdout)" if row.cutoff == as_of else ""
        out.append(
            f"| {row.cutoff.date()}{mark} | {row.customers:,} | {row.actual:,.0f} "
            f"| {row.forecast:,.0f} | {_ratio(row.ratio)} |"
        )
    earlier = levels[levels["cutoff"] < as_of]["ratio"].dropna()
    out += ["", f"Earlier cutoffs ({len(earlier)}): actual / forecast from {earlier.min():.3f} "
            f"to {earlier.max():.3f}, median {earlier.median():.3f}"]  # fmt: skip
    backtest = backtest_levels(levels, horizon_days=split.horizon_days)
    past = backtest[backtest["cutoff"] < as_of]
    holdout = backtest[backtest["cutoff"] == as_of]
    out += ["", "Level rules: total error of BG/NBD x Gamma-Gamma scaled by each rule's ratio", ""]
    out += ["| rule | earlier cutoffs: mean abs. error (n) | holdout |", "|---|---|---|"]
    for method in LEVEL_METHODS:
        at = holdout[method].iloc[0] if len(holdout) else float("nan")
        errors = past[method].dropna().abs()
        mean = f"{100 * errors.mean():.1f}% ({len(errors)})" if len(errors) else "— (0)"
        out.append(f"| {method} | {mean} | {_pct(at)} |")
    train_dates, val_date, _ = snapshot_dates(as_of, split.horizon_days, split.train_snapshots)
    snaps = [build_snapshot(tx, d, **common) for d in [*train_dates, val_date, as_of]]
    snaps = [s for s in snaps if len(s.X)]
    out += ["", "LTV total-level factor: learned on validation, needed on the next snapshot", ""]
    out += ["| validation | target | factor learned | factor needed | total error "
            "| MAE at BG/NBD x GG's total: LTV / BG/NBD x GG |", "|---|---|---|---|---|---|"]  # fmt: skip
    for j in range(2, len(snaps)):
        X, _, y = stack(snaps[: j - 1])
        val, target = snaps[j - 1], snaps[j]
        params = {"random_state": config.seed, "n_jobs": 1, **config.ltv.params}
        model = LTVRegressor(**params).fit(X, y, X_val=val.X, y_val=val.value)
        predicted = model.predict(target.X)
        unscaled = float(predicted.sum()) / model.total_scale_
        actual = float(target.value.sum())
        # the shape alone: the LTV rescaled to the BTYD total, so the level does not count
        btyd = target.X[EXPECTED_VALUE].to_numpy()
        same_total = predicted * btyd.sum() / predicted.sum()
        mae = [float(np.mean(np.abs(target.value.to_numpy() - p))) for p in (same_total, btyd)]
        out.append(
            f"| {val.as_of.date()} | {target.as_of.date()} | {model.total_scale_:.3f} "
            f"| {actual / unscaled:.3f} | {_pct(model.total_scale_ * unscaled / actual - 1)} "
            f"| {mae[0]:,.2f} / {mae[1]:,.2f} |"
        )
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
