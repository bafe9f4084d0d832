"""Benchmark `generate_shop` at 1M and 10M transaction lines.

Each run happens in a fresh subprocess, so its peak RSS (``ru_maxrss``) belongs to
that run alone. Wall time is the median of ``--repeats`` runs for 1M lines and one
run for 10M. As a peer, the BG/NBD order-time step is also simulated with a
per-customer Python loop (the way lifetimes' ``beta_geometric_nbd_model`` data
generator does it) on the 1M-line config, against the vectorised step, both in this
run.

Usage::

    .venv/bin/python benchmarks/bench_generate.py            # 1M x3, 10M x1
    .venv/bin/python benchmarks/bench_generate.py --sizes 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kizuna.simulators.synthetic import (
    ShopConfig,
    config_for_transactions,
    generate_shop,
)
from kizuna.simulators.synthetic.draws import draw_catalogue, draw_customers, simulate_orders

ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_gb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e9


def worker(config_json: str, write: bool) -> dict:
    """One generation in this (fresh) process: time, size, peak RSS."""
    config = ShopConfig(**{k: tuple(v) if isinstance(v, list) else v
                           for k, v in json.loads(config_json).items()})  # fmt: skip
    rss_before = _peak_rss_gb()
    started = time.perf_counter()
    shop = generate_shop(config)
    seconds = time.perf_counter() - started
    result = {
        "lines": len(shop.transactions),
        "customers": len(shop.customers),
        "seconds": seconds,
        "rss_before_gb": rss_before,
        "peak_rss_gb": _peak_rss_gb(),
    }
    if write:
        from kizuna.training.shop_io import write_shop

        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            paths = write_shop(shop, tmp)
            result["write_seconds"] = time.perf_counter() - started
            result["parquet_mb"] = sum(p.stat().st_size for p in paths.values()) / 1e6
    return result


def run_in_subprocess(config: ShopConfig, write: bool) -> dict:
    payload = json.dumps(dataclasses.asdict(config))
    cmd = [sys.executable, __file__, "--worker", payload] + (["--write"] if write else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _traits(config: ShopConfig) -> tuple[np.random.Generator, dict]:
    rng = np.random.default_rng(config.seed)
    cat = draw_catalogue(config, rng)
    return rng, draw_customers(config, rng, cat["category_popularity"])


def loop_order_times(config: ShopConfig, rng: np.random.Generator, cust: dict) -> int:
    """Peer: per-customer Python loop over the same BG/NBD process (order times only)."""
    weeks = config.n_weeks
    n = config.n_customers
    n_orders = 0
    for lam, p, t0 in zip(cust["lam"][:n], cust["p"][:n], cust["t0"][:n], strict=True):
        times = [t0]
        t = t0 + rng.exponential(1.0 / lam)
        while t < weeks:
            times.append(t)
            if rng.random() < p:
                break
            t += rng.exponential(1.0 / lam)
        n_orders += len(times)
    return n_orders


def vector_order_times(config: ShopConfig, rng: np.random.Generator, cust: dict) -> int:
    """The generator's own step: order times, values and channels for all customers."""
    return int(simulate_orders(config, rng, cust)["cust"].size)


def _median_time(fn, config: ShopConfig, repeats: int) -> tuple[float, int]:
    """Median wall time of ``fn`` after drawing the customers' traits (not timed)."""
    times, out = [], 0
    for _ in range(repeats):
        rng, cust = _traits(config)
        started = time.perf_counter()
        out = fn(config, rng, cust)
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="runs for sizes below 5M")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.write)))
        return

    rows = []
    configs = {}
    for size in args.sizes:
        config = config_for_transactions(size)
        configs[size] = config
        runs = args.repeats if size < 5_000_000 else 1
        results = [run_in_subprocess(config, write=(i == 0)) for i in range(runs)]
        rows.append((size, config, results))

    print(f"generate_shop benchmark (python {sys.version.split()[0]}, numpy {np.__version__})")
    header = (
        f"{'target':>11} {'customers*':>10} {'lines':>11} {'runs':>4} {'wall s (median)':>16} "
        f"{'lines/s':>10} {'peak RSS GB':>11} {'import RSS GB':>13} {'write s':>8} "
        f"{'parquet MB':>10}"
    )
    print(header)
    print("-" * len(header))
    for size, _config, results in rows:
        wall = statistics.median(r["seconds"] for r in results)
        first = results[0]
        peak = max(r["peak_rss_gb"] for r in results)
        print(
            f"{size:>11,} {first['customers']:>10,} {first['lines']:>11,} {len(results):>4} "
            f"{wall:>16.2f} {first['lines'] / wall:>10,.0f} {peak:>11.2f} "
            f"{first['rss_before_gb']:>13.2f} {first['write_seconds']:>8.2f} "
            f"{first['parquet_mb']:>10.1f}"
        )

    print("* customers including cold-start customers (no purchases)")
    peer_config = configs[min(configs)]
    loop_s, loop_orders = _median_time(loop_order_times, peer_config, args.repeats)
    vec_s, vec_orders = _median_time(vector_order_times, peer_config, args.repeats)
    print()
    print(f"BG/NBD order simulation, {peer_config.n_customers:,} buying customers, same traits")
    runs = f"median of {args.repeats}"
    print(f"  per-customer Python loop : {loop_s:7.2f} s  ({loop_orders:,} orders, {runs})")
    print(f"  vectorised               : {vec_s:7.2f} s  ({vec_orders:,} orders, {runs})")
    print(f"  speed-up                 : {loop_s / vec_s:7.1f}x")


if __name__ == "__main__":
    main()
