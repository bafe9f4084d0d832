"""Benchmark: rfm_summary on 1M and 10M synthetic lines, kizuna against its peers.

Times kizuna's ``features.rfm.rfm_summary`` (daily periods), pymc-marketing's
``pymc_marketing.clv.utils.rfm_summary`` with the same arguments, and a plain
pandas groupby written the obvious way, on the purchase lines of
``features.synthetic.generate_shop`` (a simple NumPy generator if that is not
importable; ``--data numpy`` asks for uniform random rows in random order,
the worst case for pymc-marketing's sort). Median of 5 runs at 1M lines and
3 at 10M, round-robin over the peers, after one warm-up at the smallest
size, all in one process.
A peer whose first run at a size
takes longer than ``--slow-seconds`` is not run again there; the table
says so. The timed outputs are checked: frequency, recency and T must be
identical, and monetary value equal to 1e-14 relative for pymc-marketing
(a period of three or more rows is summed in another order) and 1e-12 for
the groupby; the count of bit-identical monetary values is printed.

pymc-marketing stays out of the project venv; run this from a venv that has
it, with kizuna's needs (numpy, pandas, pyarrow) and the repo on the path::

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install pymc-marketing pyarrow
    PYTHONPATH=. /tmp/refenv/bin/python benchmarks/bench_rfm.py

Without pymc-marketing it says so and times kizuna and pandas only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.rfm import SUMMARY_COLUMNS, rfm_summary

try:
    from importlib.metadata import version

    from pymc_marketing.clv.utils import rfm_summary as pymc_rfm_summary

    PYMC = f"pymc-marketing {version('pymc-marketing')}"
except ImportError:  # the project venv does not carry pymc-marketing
    pymc_rfm_summary = None
    PYMC = "pymc-marketing"

COLUMNS = list(SUMMARY_COLUMNS)


def purchases(
    n_lines: int, data: str = "shop", seed: int = 0
) -> tuple[pd.DataFrame, pd.Timestamp, str]:
    """About ``n_lines`` purchase lines: customer_id, timestamp, revenue; as_of; source."""
    if data == "numpy":
        return _numpy_purchases(n_lines, seed) + ("NumPy generator, rows in random order",)
    try:
        from kizuna.simulators.synthetic import ShopConfig, config_for_transactions, generate_shop
    except ImportError as err:  # e.g. no pyarrow in this venv
        return _numpy_purchases(n_lines, seed) + (f"NumPy generator ({err})",)
    cfg = config_for_transactions(n_lines, ShopConfig(seed=seed))
    tx = generate_shop(cfg).transactions
    tx = tx[tx[s.QUANTITY] > 0]  # returns are negative lines
    df = pd.DataFrame(
        {
            s.CUSTOMER_ID: tx[s.CUSTOMER_ID],
            s.TIMESTAMP: tx[s.TIMESTAMP],
            s.REVENUE: tx[s.QUANTITY] * tx[s.UNIT_PRICE],
        }
    ).reset_index(drop=True)
    return df, pd.Timestamp(cfg.end), "generate_shop: chronological, multi-line orders"


def _numpy_purchases(n_lines: int, seed: int) -> tuple[pd.DataFrame, pd.Timestamp]:
    rng = np.random.default_rng(seed)
    n_customers = max(1, n_lines // 10)
    customer = rng.integers(0, n_customers, n_lines)
    seconds = rng.integers(0, 2 * 365 * 86400, n_lines)
    df = pd.DataFrame(
        {
            s.CUSTOMER_ID: pd.array(np.char.add("C", customer.astype(str)), dtype="str"),
            s.TIMESTAMP: pd.Timestamp("2023-01-01") + pd.to_timedelta(seconds, unit="s"),
            s.REVENUE: np.round(rng.gamma(2.0, 15.0, n_lines), 2),
        }
    )
    return df, pd.Timestamp("2025-01-01")


def kizuna(df: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return rfm_summary(df, as_of, time_unit="D")


def pymc(df: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    # as_of is a midnight, so its exclusive cutoff is the inclusive end of the day before.
    out = pymc_rfm_summary(
        df,
        s.CUSTOMER_ID,
        s.TIMESTAMP,
        monetary_value_col=s.REVENUE,
        observation_period_end=as_of - pd.Timedelta(days=1),
        time_unit="D",
    )
    return out.set_index("customer_id")[COLUMNS]


def pandas_groupby(df: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The same summary with ordinary pandas groupbys, no apply."""
    df = df[df[s.TIMESTAMP] < as_of]
    day = df[s.TIMESTAMP].dt.floor("D").rename("day")
    daily = df.groupby([df[s.CUSTOMER_ID], day])[s.REVENUE].sum().reset_index()
    by_customer = daily.groupby(s.CUSTOMER_ID)
    first = by_customer["day"].transform("min")
    stats = by_customer.agg(first=("day", "min"), last=("day", "max"), n=("day", "size"))
    repeat = daily[s.REVENUE].where(daily["day"] != first)
    frequency = stats["n"] - 1
    observed = (as_of - pd.Timedelta(1, "us")).floor("D")
    return pd.DataFrame(
        {
            s.REPEAT_PERIODS: frequency.astype(float),
            s.RECENCY: (stats["last"] - stats["first"]).dt.days.astype(float),
            s.T: (observed - stats["first"]).dt.days.astype(float),
            s.MONETARY_VALUE: repeat.groupby(daily[s.CUSTOMER_ID]).mean().fillna(0.0),
        }
    )


def check(name: str, got: pd.DataFrame, expected: pd.DataFrame, *, rtol: float) -> int:
    """Assert equal summaries; return how many monetary values are not bit-identical."""
    got = got.set_axis(got.index.astype(str)).rename_axis(s.CUSTOMER_ID)
    expected = expected.set_axis(expected.index.astype(str)).rename_axis(s.CUSTOMER_ID)
    pd.testing.assert_frame_equal(
        got[COLUMNS[:3]], expected[COLUMNS[:3]], check_exact=True, check_index_type=False, obj=name
    )
    a, b = got[s.MONETARY_VALUE].to_numpy(), expected[s.MONETARY_VALUE].to_numpy()
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=name)
    return int((a != b).sum())


def timed(
    peers: dict[str, Callable[[], pd.DataFrame]], runs: int, slow_seconds: float
) -> tuple[dict[str, tuple[float, int]], dict[str, pd.DataFrame]]:
    """Median seconds and run count per peer, and each peer's last output.

    Runs go round-robin over the peers, so that a burst of load from other
    processes on this shared machine falls on all of them alike. A peer whose
    first run is slower than ``slow_seconds`` is not run again.
    """
    seconds: dict[str, list[float]] = {name: [] for name in peers}
    outputs: dict[str, pd.DataFrame] = {}
    for _ in range(runs):
        for name, fn in peers.items():
            if seconds[name] and seconds[name][0] > slow_seconds:
                continue
            start = time.perf_counter()
            outputs[name] = fn()
            seconds[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), len(t)) for name, t in seconds.items()}, outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1000000,10000000",
        help="comma-separated line counts (default: 1M and 10M)",
    )
    parser.add_argument("--runs", default="5,3", help="runs per size (default: 5 at 1M, 3 at 10M)")
    parser.add_argument(
        "--data",
        choices=("shop", "numpy"),
        default="shop",
        help="generate_shop lines (default) or uniform random NumPy rows",
    )
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=60.0,
        help="a peer slower than this in one run is not run again",
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    runs = [int(x) for x in args.runs.split(",")]
    runs += [runs[-1]] * (len(sizes) - len(runs))
    if pymc_rfm_summary is None:
        print(
            "pymc-marketing is not importable here (ImportError): timing kizuna and pandas "
            "only. See the module docstring for a venv that has it.\n"
        )

    rows, checks = [], []
    for i, (n_lines, n_runs) in enumerate(zip(sizes, runs, strict=True)):
        df, as_of, source = purchases(n_lines, args.data)
        peers = {
            "kizuna rfm_summary": lambda df=df, as_of=as_of: kizuna(df, as_of),
            "pandas groupby": lambda df=df, as_of=as_of: pandas_groupby(df, as_of),
        }
        if pymc_rfm_summary is not None:
            peers[f"{PYMC} rfm_summary"] = lambda df=df, as_of=as_of: pymc(df, as_of)
        if i == 0:  # warm-up: imports and caches
            for fn in peers.values():
                fn()
        print(f"{len(df):,} purchase lines ({source}); median of {n_runs} runs", flush=True)
        timings, outputs = timed(peers, n_runs, args.slow_seconds)
        for name, (seconds, n) in timings.items():
            print(f"  {name}: {seconds:.3f} s ({n} runs)", flush=True)
        ours = outputs.pop("kizuna rfm_summary")
        for name, out in outputs.items():
            differ = check(name, out, ours, rtol=1e-12 if name == "pandas groupby" else 1e-14)
            checks.append(
                f"{len(df):,} lines, {name}: frequency, recency, T identical; "
                f"monetary_value bit-identical for {len(ours) - differ:,} of "
                f"{len(ours):,} customers, the rest within "
                f"{'1e-12' if name == 'pandas groupby' else '1e-14'} relative"
            )
        rows.append((len(df), len(ours), n_runs, timings))
        del df, ours, outputs

    print("\n| lines | customers | implementation | median time (s) | runs | ratio to kizuna |")
    print("|---|---|---|---|---|---|")
    for n_rows, n_customers, n_runs, timings in rows:
        base = timings["kizuna rfm_summary"][0]
        for name, (seconds, n) in timings.items():
            note = f"1 (one run took > {args.slow_seconds:.0f} s)" if n < n_runs else str(n)
            print(
                f"| {n_rows:,} | {n_customers:,} | {name} | {seconds:.3f} | {note} | "
                f"{seconds / base:.1f}x |"
            )
        if pymc_rfm_summary is None:
            print(f"| {n_rows:,} | {n_customers:,} | {PYMC} | not importable | | |")
    print("\nOutputs checked against kizuna's:")
    for line in checks:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
