"""Benchmark: point-in-time behaviour features and the interaction matrix at scale.

For each size (default 1M and 10M transaction lines, about 100k and 1M customers)
a synthetic shop (``features.synthetic.generate_shop``, validated with
``validate_transactions``) is generated once and cached as Parquet in
``--cache``. Every step then runs in a fresh subprocess that loads the data
(not timed), and for each run resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``), times the step and reads the peak (``VmHWM``).
So "peak RSS" is the whole process during the step, input frame included;
"step extra" is that peak minus the RSS just before the step.

Steps:

- ``behaviour``: ``behaviour_vector`` with the customers table (all features);
- ``interactions``: ``build_interactions`` with BM25 and a 90-day half-life;
- ``pandas peer``: the obvious pandas groupby code for a subset of the
  behaviour features (recency, frequency, monetary, tenure, the 4 windows,
  basket lines, distinct items). Its output is checked against
  ``behaviour_vector`` on those columns, and the ratio column is
  peer time / kizuna time (kizuna computing *all* features).

Run::

    .venv/bin/python benchmarks/bench_features.py                 # 1M x3, 10M x1
    .venv/bin/python benchmarks/bench_features.py --sizes 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kizuna.features import schema as s

ROOT = Path(__file__).resolve().parents[1]

AS_OF = pd.Timestamp("2024-12-31")  # the shop covers [2023-01-01, 2025-01-01)
STEPS = ("behaviour", "interactions", "pandas peer")
PEER_COLUMNS = ("recency_days", "frequency", "monetary_total", "monetary_mean", "monetary_std",
                "tenure_days", "orders_30d", "revenue_30d", "orders_90d", "revenue_90d",
                "orders_180d", "revenue_180d", "orders_365d", "revenue_365d",
                "basket_lines_mean", "distinct_items")  # fmt: skip


# --- data ------------------------------------------------------------------------


def ensure_data(n_rows: int, cache: Path) -> tuple[Path, Path]:
    """Generate (once) and cache the validated transactions and the customers table."""
    cache.mkdir(parents=True, exist_ok=True)
    tx_path = cache / f"shop_{n_rows}_transactions.parquet"
    cust_path = cache / f"shop_{n_rows}_customers.parquet"
    if tx_path.exists() and cust_path.exists():
        return tx_path, cust_path
    from kizuna.features.validate import validate_transactions
    from kizuna.simulators.synthetic import ShopConfig, config_for_transactions, generate_shop

    t0 = time.perf_counter()
    # rate_alpha=9 gives about 10 lines per customer, so 10M lines ~ 1M customers.
    base = ShopConfig(rate_alpha=9.0, n_items=max(1_000, n_rows // 100), seed=1)
    cfg = config_for_transactions(n_rows, base)
    shop = generate_shop(cfg)
    kept = validate_transactions(shop.transactions).kept.drop(columns=[s.ROW_ID])
    kept.to_parquet(tx_path, index=False)
    shop.customers.to_parquet(cust_path, index=False)
    print(f"generated {len(kept):,} lines / {cfg.n_customers:,} customers in "
          f"{time.perf_counter() - t0:.1f} s -> {tx_path}", file=sys.stderr)  # fmt: skip
    return tx_path, cust_path


# --- the steps ---------------------------------------------------------------------


def run_behaviour(tx: pd.DataFrame, customers: pd.DataFrame) -> object:
    from kizuna.features.behaviour import behaviour_vector

    return behaviour_vector(tx, AS_OF, customers=customers)


def run_interactions(tx: pd.DataFrame, customers: pd.DataFrame) -> object:
    from kizuna.features.interactions import build_interactions

    return build_interactions(tx, AS_OF, weighting="bm25", half_life_days=90)


def run_pandas_peer(tx: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """What one would write with pandas groupby, for a subset of the features."""
    cust, order = s.CUSTOMER_ID, s.ORDER_ID
    df = tx.loc[(tx[s.TIMESTAMP] < AS_OF) & ~tx[s.IS_RETURN],
                [cust, order, s.ITEM_ID, s.TIMESTAMP, s.REVENUE]]  # fmt: skip
    orders = df.groupby([cust, order], sort=False).agg(
        ts=(s.TIMESTAMP, "min"), rev=(s.REVENUE, "sum"), lines=(s.ITEM_ID, "size")
    ).reset_index()  # fmt: skip
    day = pd.Timedelta(days=1)
    g = orders.groupby(cust)
    out = pd.DataFrame(
        {
            "recency_days": (AS_OF - g["ts"].max()) / day,
            "frequency": g.size(),
            "monetary_total": g["rev"].sum(),
            "monetary_mean": g["rev"].mean(),
            "monetary_std": g["rev"].std(ddof=0),
            "tenure_days": (AS_OF - g["ts"].min()) / day,
        }
    )
    age = AS_OF - orders["ts"]
    for w in (30, 90, 180, 365):
        inside = orders[age <= pd.Timedelta(days=w)].groupby(cust)
        out[f"orders_{w}d"] = inside.size().reindex(out.index, fill_value=0)
        out[f"revenue_{w}d"] = inside["rev"].sum().reindex(out.index, fill_value=0.0)
    out["basket_lines_mean"] = g["lines"].sum() / out["frequency"]
    out["distinct_items"] = df.groupby(cust)[s.ITEM_ID].nunique()
    return out.sort_index()


RUNNERS = {"behaviour": run_behaviour, "interactions": run_interactions,
           "pandas peer": run_pandas_peer}  # fmt: skip


# --- the worker (one fresh process per step) -----------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def worker(step: str, tx_path: str, cust_path: str, runs: int, check: bool) -> dict:
    tx = pd.read_parquet(tx_path)
    customers = pd.read_parquet(cust_path)
    times, cpus, peaks, extras = [], [], [], []
    result = None
    for _ in range(runs):
        result = None
        resettable = _reset_peak()
        before = _status_kb("VmRSS")
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        result = RUNNERS[step](tx, customers)
        times.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        peak = _status_kb("VmHWM")  # without the reset: the process peak, load included
        peaks.append(peak / 2**20)
        extras.append((peak - before) / 2**20)
    info: dict = {"times": times, "cpu": cpus, "peak_gb": peaks, "extra_gb": extras,
                  "rows": len(tx), "peak_reset": resettable}  # fmt: skip
    if step == "behaviour":
        info["customers"] = len(result)
        info["features"] = result.shape[1]
    elif step == "interactions":
        info["shape"] = list(result.shape)
        info["nnz"] = int(result.matrix.nnz)
    if step == "pandas peer" and check:
        mine = run_behaviour(tx, customers)[list(PEER_COLUMNS)]
        peer = result[list(PEER_COLUMNS)]
        peer.index = peer.index.astype(mine.index.dtype)
        pd.testing.assert_frame_equal(mine, peer, check_dtype=False, check_index_type=False,
                                      check_names=False, rtol=1e-9, atol=1e-6)  # fmt: skip
        info["peer_matches"] = True
    return info


def run_step(step: str, tx_path: Path, cust_path: Path, runs: int, check: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", step, "--tx", str(tx_path), "--customers",
           str(cust_path), "--runs", str(runs)] + (["--check"] if check else [])  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{step} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=3, help="runs per step below --large")
    parser.add_argument("--large", type=int, default=5_000_000,
                        help="sizes at or above this get --large-runs runs")  # fmt: skip
    parser.add_argument("--large-runs", type=int, default=1)
    parser.add_argument("--peer-max", type=int, default=10_000_000,
                        help="run the pandas peer only up to this size")  # fmt: skip
    parser.add_argument("--cache", type=Path, default=Path("/tmp/kizuna_bench"))
    parser.add_argument("--worker", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--tx", help=argparse.SUPPRESS)
    parser.add_argument("--customers", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.tx, args.customers, args.runs, args.check)))
        return

    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, pandas {pd.__version__}, "
          f"numpy {np.__version__}; as_of {AS_OF.date()}; load average at start "
          f"{os.getloadavg()[0]:.1f}\n")  # fmt: skip
    rows = []
    for n in args.sizes:
        tx_path, cust_path = ensure_data(n, args.cache)
        runs = args.large_runs if n >= args.large else args.runs
        results = {}
        for step in STEPS:
            if step == "pandas peer" and n > args.peer_max:
                continue
            results[step] = run_step(step, tx_path, cust_path, runs, check=step == "pandas peer")
        base = statistics.median(results["behaviour"]["times"])
        for step, r in results.items():
            med = statistics.median(r["times"])
            if step == "behaviour":
                what = f"{r['customers']:,} customers x {r['features']} features"
            elif step == "interactions":
                what = "{:,} x {:,}, nnz {:,}".format(*r["shape"], r["nnz"])
            else:
                what = f"{len(PEER_COLUMNS)} of the features" + (
                    ", equal to kizuna's" if r.get("peer_matches") else "")  # fmt: skip
            ratio = f"{med / base:.2f}x" if step == "pandas peer" else ""
            rows.append((f"{r['rows']:,}", step, f"{med:.2f}", f"{statistics.median(r['cpu']):.2f}",
                         len(r["times"]), f"{max(r['peak_gb']):.2f}", f"{max(r['extra_gb']):.2f}",
                         ratio, what))  # fmt: skip

    header = ("rows", "step", "median wall s", "median CPU s", "runs", "peak RSS GB",
              "step extra GB", "peer / behaviour", "output")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")
    # Wall time on a shared machine depends on the other processes; CPU time less so.
    print(f"\nload average at end {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
