"""Benchmark: ``/audience`` over HTTP on loopback, one request at a time.

Builds the serving tests' synthetic model set (``--customers`` customers,
``--items`` items), starts ``bentoml serve`` on a free loopback port and sends
``--requests`` audience requests in a loop, alternating an item and a
category, each answered before the next is sent. Prints the first request's
latency (it builds anything kept per snapshot) and the median and 90th
percentile of the rest, per run; the table shows the median over ``--runs``
runs (a fresh server each).

    .venv/bin/python benchmarks/bench_audience.py --customers 4000 --items 400

Run it with another checkout's interpreter (``/other/.venv/bin/python
benchmarks/bench_audience.py``) to measure that checkout's service on the same
model set: the server is started with ``sys.executable``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(folder: Path, work: Path, asks: list[dict], requests: int) -> dict[str, float]:
    import httpx

    from tests.serving.conftest import start_server

    run = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    server = start_server(
        {"KIZUNA_MODEL_SOURCE": str(folder), "KIZUNA_EVENT_STORE": str(run / "events.sqlite")},
        run / "server.log",
    )
    times = []
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            for i in range(requests):
                start = time.perf_counter()
                resp = client.post("/audience", json=asks[i % len(asks)])
                times.append(time.perf_counter() - start)
                resp.raise_for_status()
    finally:
        server.stop()
    rest = sorted(times[1:])
    return {
        "first_ms": 1e3 * times[0],
        "median_ms": 1e3 * statistics.median(rest),
        "p90_ms": 1e3 * rest[int(0.9 * (len(rest) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--requests", type=int, default=21)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=100, help="audience size asked for")
    parser.add_argument("--models", type=Path, help="reuse a model folder built before")
    args = parser.parse_args()

    import warnings

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-audience-"))
    folder = args.models
    if folder is None:
        from tests.serving.conftest import build_model_set

        print(f"building a model set ({args.customers:,} customers) in {work} ...", file=sys.stderr)
        folder = build_model_set(
            work / "models", n_customers=args.customers, n_items=args.items
        ).folder
    items = pd.read_parquet(Path(f"{folder}-shop") / "items.parquet")
    item = str(items["item_id"].iloc[0])
    category = str(items["category"].dropna().iloc[0])
    asks = [{"item_id": item, "n": args.n}, {"category": category, "n": args.n}]
    runs = [one_run(folder, work, asks, args.requests) for _ in range(args.runs)]
    for i, r in enumerate(runs, 1):
        print(f"run {i}: " + ", ".join(f"{k} {v:,.1f}" for k, v in r.items()), file=sys.stderr)
    print(f"\n/audience, {args.customers:,} customers x {args.items} items, n={args.n}, "
          f"{args.requests} requests per run, median of {args.runs} runs ({sys.executable})")  # fmt: skip
    print("| first request (ms) | median (ms) | p90 (ms) |\n|---:|---:|---:|")
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"| {med['first_ms']:,.1f} | {med['median_ms']:,.1f} | {med['p90_ms']:,.1f} |")


if __name__ == "__main__":
    main()
