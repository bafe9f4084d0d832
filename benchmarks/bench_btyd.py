"""Benchmark: BG/NBD and Gamma-Gamma fits on CDNOW, kizuna against lifetimes.

Fits kizuna's BetaGeoModel on the CDNOW master file (23,570 customers,
weekly periods, calibration through 1997-09-30 as in the lifetimes
reference) and times it, median of ``--runs`` runs; does the same with
lifetimes' BetaGeoFitter in the same process when lifetimes is importable.
Prints markdown tables: fit times with the ratio, fitted parameters side by
side, and (with lifetimes) the largest CLV difference on the CDNOW sample.

lifetimes is archived and pins nothing new, so keep it out of the project
venv; run from a separate venv that has both::

    python3 -m venv /tmp/btydenv
    /tmp/btydenv/bin/pip install lifetimes -e /work/main
    /tmp/btydenv/bin/python benchmarks/bench_btyd.py

Without lifetimes it prints kizuna's figures only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from kizuna.features.rfm import rfm_summary
from kizuna.models.btyd import BetaGeoModel, GammaGammaModel

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cdnow"

try:
    import lifetimes
    from lifetimes import BetaGeoFitter, GammaGammaFitter
except ImportError:  # the project venv does not carry lifetimes
    lifetimes = None


def read_cdnow(path: Path) -> pd.DataFrame:
    """A CDNOW file through kizuna's adapter -> customer_id, date (datetime64), dollar_value."""
    from kizuna.features.validate import validate_transactions
    from kizuna.training.data import read_transactions

    raw = read_transactions(path, format="cdnow")
    kept = validate_transactions(raw.frame, **raw.validate_kwargs).kept
    return kept.rename(columns={"timestamp": "date", "revenue": "dollar_value"})[
        ["customer_id", "date", "dollar_value"]
    ]


def summarise(raw: pd.DataFrame, as_of: str, time_unit: str, time_scaler: float) -> pd.DataFrame:
    return rfm_summary(
        raw,
        as_of,
        time_unit=time_unit,
        time_scaler=time_scaler,
        customer_col="customer_id",
        timestamp_col="date",
        monetary_col="dollar_value",
        return_col=None,
    )


def median_seconds(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    fn()  # warm-up: imports, caches
    timings, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not DATASETS.exists():
        print(f"CDNOW not found at {DATASETS}: nothing to benchmark", file=sys.stderr)
        return 1

    # lifetimes' reference used freq="W" with observation_period_end=1997-09-30,
    # which keeps the whole week holding that day (through Sun 1997-10-05).
    master = summarise(read_cdnow(DATASETS / "CDNOW_master.txt"), "1997-10-06", "W", 1.0)
    x, t_x, big_t = (master[c].to_numpy() for c in ("frequency", "recency", "T"))
    patterns = len(np.unique(np.column_stack([x, t_x, big_t]), axis=0))
    print(
        f"CDNOW master: {len(master)} customers, {patterns} distinct (frequency, recency, T); "
        f"median of {args.runs} runs after one warm-up.\n"
    )

    ours_s, ours = median_seconds(lambda: BetaGeoModel().fit(x, t_x, big_t), args.runs)
    rows = [("kizuna BetaGeoModel", ours_s, ours.params_, ours.log_likelihood_, ours.n_iter_)]
    if lifetimes is not None:
        theirs_s, theirs = median_seconds(
            lambda: BetaGeoFitter().fit(master["frequency"], master["recency"], master["T"]),
            args.runs,
        )
        their_log_params = np.log(theirs.params_[["r", "alpha", "a", "b"]].to_numpy())
        their_ll = -len(x) * float(
            BetaGeoFitter._negative_log_likelihood(
                their_log_params, x, t_x, big_t, np.ones(len(x)), 0.0
            )
        )
        rows.append(
            (
                f"lifetimes {lifetimes.__version__} BetaGeoFitter",
                theirs_s,
                theirs.params_.to_dict(),
                their_ll,
                None,
            )
        )
    else:
        print("lifetimes is not importable here: kizuna figures only.\n")

    print("| BG/NBD fit, CDNOW master | median time (s) | ratio to kizuna |")
    print("|---|---|---|")
    for name, seconds, *_ in rows:
        print(f"| {name} | {seconds:.4f} | {seconds / ours_s:.1f}x |")

    print("\n| fitter | r | alpha | a | b | log-likelihood | iterations |")
    print("|---|---|---|---|---|---|---|")
    print("| lifetimes 0.11.3 reference | 0.2906 | 6.943 | 0.606 | 2.134 | | |")
    for name, _, params, ll, n_iter in rows:
        values = " | ".join(f"{params[k]:.4f}" for k in ("r", "alpha", "a", "b"))
        print(f"| {name} | {values} | {ll:.2f} | {n_iter if n_iter is not None else ''} |")

    sample_report(args.runs)
    return 0


def sample_report(runs: int) -> None:
    """FHL's CDNOW sample: BG/NBD, Gamma-Gamma and CLV against the references."""
    sample = summarise(read_cdnow(DATASETS / "CDNOW_sample.txt"), "1997-10-01", "D", 7.0)
    f, r, t, m = (sample[c] for c in ("frequency", "recency", "T", "monetary_value"))
    repeat = f > 0
    bg_s, bg = median_seconds(lambda: BetaGeoModel().fit(f, r, t), runs)
    gg_s, gg = median_seconds(lambda: GammaGammaModel().fit(f[repeat], m[repeat]), runs)
    print(f"\nCDNOW sample: {len(sample)} customers, {int(repeat.sum())} repeat customers")
    print("\n| model, CDNOW sample | fitter | parameters | log-likelihood | median time (s) |")
    print("|---|---|---|---|---|")
    print("| BG/NBD | FHL (2005) | r 0.243, alpha 4.414, a 0.793, b 2.426 | -9582.43 | |")
    print(f"| BG/NBD | kizuna | {fmt(bg.params_)} | {bg.log_likelihood_:.2f} | {bg_s:.4f} |")
    print("| Gamma-Gamma | Fader & Hardie | p 6.25, q 3.74, v 15.44 | | |")
    print(f"| Gamma-Gamma | kizuna | {fmt(gg.params_)} | {gg.log_likelihood_:.2f} | {gg_s:.4f} |")
    if lifetimes is None:
        return
    lt_bg_s, lt_bg = median_seconds(lambda: BetaGeoFitter().fit(f, r, t), runs)
    lt_gg_s, lt_gg = median_seconds(lambda: GammaGammaFitter().fit(f[repeat], m[repeat]), runs)
    print(f"| BG/NBD | lifetimes | {fmt(lt_bg.params_.to_dict())} | | {lt_bg_s:.4f} |")
    print(f"| Gamma-Gamma | lifetimes | {fmt(lt_gg.params_.to_dict())} | | {lt_gg_s:.4f} |")

    # 12 monthly periods at 1 %/month on a weekly BG/NBD: lifetimes' freq="W"
    # means 4.345 weeks a month, the same as period_length=4.345 here.
    ours = gg.customer_lifetime_value(bg, f, r, t, m, 12, 0.01, period_length=4.345)
    theirs = lt_gg.customer_lifetime_value(lt_bg, f, r, t, m, time=12, discount_rate=0.01, freq="W")
    # Same formula, each with its own fit: compare also with lifetimes' params.
    same_bg, same_gg = BetaGeoModel(), GammaGammaModel()
    same_bg.params_ = lt_bg.params_.to_dict()
    same_gg.params_ = lt_gg.params_.to_dict()
    same = same_gg.customer_lifetime_value(same_bg, f, r, t, m, 12, 0.01, period_length=4.345)
    theirs = theirs.to_numpy()
    print("\n| 12-month CLV at 1 %/month, CDNOW sample | total ($) | max abs diff ($) |")
    print("|---|---|---|")
    print(f"| lifetimes | {theirs.sum():.2f} | |")
    print(f"| kizuna, own fits | {ours.sum():.2f} | {np.abs(ours - theirs).max():.2e} |")
    print(f"| kizuna, lifetimes' params | {same.sum():.2f} | {np.abs(same - theirs).max():.2e} |")


def fmt(params: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in params.items())


if __name__ == "__main__":
    sys.exit(main())
