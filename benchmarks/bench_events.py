"""Benchmark: a 1,000-line ``/events`` batch for known customers (target: under 1 s).

Builds a synthetic model set and snapshot (``tests.serving.conftest.build_model_set``),
starts the real service on loopback, and posts ``--runs`` batches of
``--lines`` purchase lines, each for ``--lines`` distinct known customers
(fresh order ids, so nothing is a duplicate). Prints the median, min and max
answer time over the runs, and the same batch applied in-process (validation,
store append and feature update, no HTTP) for comparison.

    .venv/bin/python benchmarks/bench_events.py --customers 20000 --runs 5
    .venv/bin/python benchmarks/bench_events.py --models DIR   # an existing model folder
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def batch(ids: list[str], items: list[str], as_of: pd.Timestamp, tag: str) -> list[dict]:
    when = as_of - pd.Timedelta(hours=2)
    return [
        {
            "customer_id": cid,
            "order_id": f"{tag}-{i}",
            "item_id": items[i % len(items)],
            "timestamp": when.isoformat(),
            "quantity": 1 + i % 3,
            "unit_price": 2.5,
        }
        for i, cid in enumerate(ids)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--models", type=Path, default=None, help="A model folder with snapshot (else built)."
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import warnings

    warnings.simplefilter("ignore")
    import httpx
    from threadpoolctl import threadpool_limits

    from kizuna.serving.event_checks import check_events
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import Live
    from tests.serving.conftest import build_model_set, start_server

    threadpool_limits(1)
    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-events-"))
    if args.models is None:
        print(f"building a model set of {args.customers:,} customers ...", file=sys.stderr)
        folder = build_model_set(work / "models", n_customers=args.customers, n_items=400).folder
    else:
        folder = args.models

    live = Live(str(folder), store=EventStore(work / "inproc.sqlite"))
    assert live.load().reloaded, live.last_error
    st = live.served.state
    ids = [str(c) for c in st.features.index]
    items = [str(i) for i in st.catalogue.item_ids]
    inproc = []
    for run in range(args.runs):
        chosen = ids[run * args.lines : (run + 1) * args.lines]
        lines = pd.DataFrame(batch(chosen, items, st.as_of, f"IN{run}"))
        start = time.perf_counter()
        live.ingest(check_events(lines))
        inproc.append(time.perf_counter() - start)

    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder),
            "KIZUNA_EVENT_STORE": str(work / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(work / "contacts.sqlite"),
            "OMP_NUM_THREADS": "1",
        },
        work / "server.log",
    )
    http = []
    try:
        with httpx.Client(base_url=srv.url, timeout=120) as c:
            for run in range(args.runs):
                chosen = ids[run * args.lines : (run + 1) * args.lines]
                body = {"events": batch(chosen, items, st.as_of, f"HTTP{run}")}
                start = time.perf_counter()
                resp = c.post("/events", json=body)
                http.append(time.perf_counter() - start)
                assert resp.status_code == 200, resp.text
                assert resp.json()["stored"] == args.lines
    finally:
        srv.stop()

    def row(name: str, xs: list[float]) -> str:
        return (
            f"| {name} | {statistics.median(xs):.3f} | {min(xs):.3f} | {max(xs):.3f} | {len(xs)} |"
        )

    print(
        f"\n{args.lines:,}-line event batches for known customers, "
        f"synthetic shop of {st.n_customers:,} customers, {st.catalogue.n_items:,} items "
        f"({os.cpu_count()} cores)\n"
    )
    print("| path | median s | min s | max s | runs |")
    print("|---|---|---|---|---|")
    print(row("POST /events (real server, loopback)", http))
    print(row("in-process: check_events + Live.ingest", inproc))


if __name__ == "__main__":
    main()
