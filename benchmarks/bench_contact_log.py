"""Benchmark: ``/next_best_offer`` latency with a large contact log (CSV and SQLite).

Builds the serving tests' synthetic model set, writes a contact log of
``--rows`` contacts (the model set's customers among ``--log-customers``
contacted customers) as CSV and as SQLite, and times offer decisions for
known customers, one at a time:

- in process (the endpoint's work without HTTP: :class:`serving.offer_answers.OfferDesk`),
  ``before``: the log read on every request with ``read_contact_log`` (what
  the service did before the CSV index, and for SQLite before the kept
  connection), and ``after``: the service's
  :class:`serving.contact_index.ContactLog` (the CSV read once, then only
  appended lines; SQLite through its index, on a kept connection). ``load`` is the one-off read of
  the CSV into memory (at start, in the background).
- with ``--http``: also over loopback against ``bentoml serve`` started with
  this interpreter (run the script with another checkout's interpreter to
  measure that checkout's service on the same files). The two logs take turns
  (a fresh server each run), and the server's CPU per request is measured too:
  on a shared machine it moves less than wall time.

Each run asks ``--requests`` customers; the table shows the median over
``--runs`` runs of each run's median, and the CPU seconds per request.

    .venv/bin/python benchmarks/bench_contact_log.py --rows 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_logs(work: Path, known: list[str], rows: int, customers: int) -> dict[str, Path]:
    """A contact log of ``rows`` contacts as CSV and SQLite; every known customer has some."""
    import numpy as np
    import pandas as pd

    from kizuna.serving.contact_store import append_contacts

    rng = np.random.default_rng(0)
    others = np.array([f"X{i:07d}" for i in range(customers - len(known))], dtype=object)
    who = np.concatenate([np.asarray(known, dtype=object), others])
    now = pd.Timestamp.now().floor("s")
    frame = pd.DataFrame({
        "customer_id": who[rng.integers(0, len(who), rows)],
        "offer_id": rng.choice(["cross_sell_email", "upsell_premium", "winback_voucher"], rows),
        # old contacts: the caps read them but block nothing, so decisions still vary
        "contacted_at": now - pd.Timedelta(days=400)
        + pd.to_timedelta(rng.integers(0, 300 * 86_400, rows), unit="s"),
        "channel": rng.choice(["email", "app", "web"], rows),
        "campaign_id": rng.choice(["spring", "summer", None], rows),
    })  # fmt: skip
    paths = {"csv": work / "contacts.csv", "sqlite": work / "contacts.sqlite"}
    for path in paths.values():
        append_contacts(path, frame)
    return paths


def time_desk(served, live, log: Path, ids: list[str], *, before: bool) -> dict[str, float]:
    """Median wall and CPU ms of one decision per id; ``before``: the whole log read each time."""
    import anyio
    import pandas as pd
    import psutil

    from kizuna.serving.config import Settings
    from kizuna.serving.contact_store import read_contact_log
    from kizuna.serving.offer_answers import OfferDesk
    from kizuna.serving.schemas import NextBestOfferRequest

    offers = ROOT / "experiments" / "offers_demo.yaml"
    desk = OfferDesk(
        Settings.from_env({"KIZUNA_CONTACT_LOG": str(log), "KIZUNA_OFFERS": str(offers)})
    )
    rss = psutil.Process().memory_info().rss
    start = time.perf_counter()
    if before:  # the service's read before the index, as it was
        desk.contacts.read = lambda cid, since: read_contact_log(log, since=since, customer=cid)
    else:
        desk.contacts.warm()
    load = time.perf_counter() - start
    grown = psutil.Process().memory_info().rss - rss
    walls, cpus, reads = [], [], []
    since = pd.Timestamp.now() - pd.Timedelta(days=365)
    for cid in ids:
        request = NextBestOfferRequest(customer_id=cid, channel="email", k=3)
        wall, cpu = time.perf_counter(), time.process_time()
        out = anyio.run(desk.decide, served, live, request)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        assert out.decisions, out
        wall = time.perf_counter()
        desk.contacts.read(cid, since)
        reads.append(time.perf_counter() - wall)
    return {
        "load_s": load,
        "rss_mb": grown / 2**20,
        "median_ms": 1e3 * statistics.median(walls),
        "cpu_ms": 1e3 * statistics.median(cpus),
        "read_ms": 1e3 * statistics.median(reads),
    }


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a server process and its workers so far."""
    import psutil

    main = psutil.Process(pid)
    total = 0.0
    for proc in [main, *main.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def time_http(folder: Path, log: Path, ids: list[str], work: Path) -> dict[str, float]:
    """One fresh server on ``log``: time to ready, first request, median wall and server CPU."""
    import httpx

    from tests.serving.loopback import start_server

    run = Path(tempfile.mkdtemp(prefix="http-", dir=work))
    start = time.perf_counter()
    server = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder),
            "KIZUNA_EVENT_STORE": str(run / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(log),
        },
        run / "server.log",
    )
    ready = time.perf_counter() - start
    walls = []
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            for i, cid in enumerate([ids[0], *ids]):  # the first one may still wait for the log
                if i == 1:
                    cpu = server_cpu(server.process.pid)
                body = {"customer_id": cid, "channel": "email", "k": 3}
                wall = time.perf_counter()
                client.post("/next_best_offer", json=body).raise_for_status()
                walls.append(time.perf_counter() - wall)
            cpu = server_cpu(server.process.pid) - cpu
    finally:
        server.stop()
    return {
        "ready_s": ready,
        "first_ms": 1e3 * walls[0],
        "median_ms": 1e3 * statistics.median(walls[1:]),
        # all of the server's CPU while the requests ran (its background threads too)
        "server_cpu_ms": 1e3 * cpu / len(ids),
    }


def over_loopback(folder: Path, logs: dict[str, Path], ids: list[str], work: Path, runs: int):
    """Print the loopback table; the two logs take turns (csv, sqlite, csv, ...) so drift in
    the machine's load reaches both alike."""
    results: dict[str, list[dict[str, float]]] = {"csv": [], "sqlite": []}
    for run in range(runs):
        kinds = ("csv", "sqlite") if run % 2 == 0 else ("sqlite", "csv")
        for kind in kinds:
            results[kind].append(time_http(folder, logs[kind], ids, work))
            print(kind, results[kind][-1], file=sys.stderr)
    print("| log | server ready (s) | first request (ms) | median ms / request "
          "| server CPU ms / request |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for kind, done in results.items():
        med = {k: statistics.median(r[k] for r in done) for k in done[0]}
        print(f"| {kind} | {med['ready_s']:.1f} | {med['first_ms']:,.1f} "
              f"| {med['median_ms']:,.1f} | {med['server_cpu_ms']:,.1f} |")  # fmt: skip
    ratios = [s["median_ms"] / c["median_ms"] for c, s in zip(results["csv"], results["sqlite"])]
    cpu_ratios = [
        s["server_cpu_ms"] / c["server_cpu_ms"] for c, s in zip(results["csv"], results["sqlite"])
    ]
    print(f"\nsqlite / csv per run (median ms): {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"median {statistics.median(ratios):.2f}; server CPU: "
          f"{', '.join(f'{r:.2f}' for r in cpu_ratios)}, median {statistics.median(cpu_ratios):.2f}")  # fmt: skip


def index_memory(log: Path) -> str:
    """What a CSV log's index keeps in memory, and its peak while reading (tracemalloc)."""
    import gc
    import tracemalloc

    from kizuna.serving.contact_index import CsvContactIndex

    tracemalloc.start()
    try:
        index = CsvContactIndex(log)
        index.refresh()
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (
        f"CSV index of {index.n_contacts:,} contacts of {index.n_customers:,} customers: "
        f"{kept / 2**20:,.0f} MiB kept, {peak / 2**20:,.0f} MiB at the peak while reading "
        "(tracemalloc)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--log-customers", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--http", action="store_true", help="also time the endpoint over loopback")
    parser.add_argument(
        "--http-only", action="store_true", help="only over loopback (any checkout's interpreter)"
    )
    parser.add_argument("--work", type=Path, help="reuse a folder made by an earlier run")
    args = parser.parse_args()

    import warnings

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import Live

    work = args.work or Path(tempfile.mkdtemp(prefix="kizuna-bench-contacts-"))
    folder = work / "models"
    if not folder.exists():
        from tests.serving.model_set import build_model_set

        print(f"building a model set in {work} ...", file=sys.stderr)
        build_model_set(folder)
    live = Live(str(folder), store=EventStore(work / "events.sqlite"))
    assert live.load().reloaded
    served = live.current()
    known = [str(c) for c in served.state.features.index]
    logs = {"csv": work / "contacts.csv", "sqlite": work / "contacts.sqlite"}
    if not all(p.exists() for p in logs.values()):
        print(f"writing {args.rows:,} contacts as CSV and SQLite ...", file=sys.stderr)
        logs = write_logs(work, known, args.rows, args.log_customers)
    n_log = len(pd.read_csv(logs["csv"], usecols=["customer_id"]))
    ids = known[: args.requests]
    if not args.http_only:
        in_process(served, live, logs, ids, n_log, args)
        print(index_memory(logs["csv"]))
    if args.http or args.http_only:
        print(f"\n/next_best_offer over loopback, contact log of {n_log:,} rows, "
              f"{args.requests} customers per run, median of {args.runs} runs (a fresh server "
              f"each); load average {os.getloadavg()[0]:.1f} ({sys.executable})")  # fmt: skip
        over_loopback(folder, logs, ids, work, args.runs)


def in_process(served, live, logs: dict, ids: list[str], n_log: int, args) -> None:
    rows = []
    labels = {
        ("csv", True): "before: whole log read per request",
        ("sqlite", True): "before: read_contact_log per request (a new connection)",
    }
    for kind, before in (("csv", True), ("csv", False), ("sqlite", True), ("sqlite", False)):
        runs = [time_desk(served, live, logs[kind], ids, before=before) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        label = labels.get((kind, before), "after: ContactLog")
        rows.append((kind, label, med))
        print(kind, label, med, file=sys.stderr)
    peer = rows[0][2]["median_ms"]
    print(f"\n/next_best_offer in process (no HTTP), contact log of {n_log:,} rows, "
          f"{args.requests} customers per run, median of {args.runs} runs; "
          f"load average {os.getloadavg()[0]:.1f} ({sys.executable})")  # fmt: skip
    print("| log | code | one-off load (s) | its RSS (MB) | median ms / request "
          "| CPU ms / request | contact read alone (ms) | request vs before |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for kind, label, med in rows:
        load = f"{med['load_s']:.2f} | {med['rss_mb']:,.0f}" if med["load_s"] > 0.001 else "— | —"
        print(f"| {kind} | {label} | {load} | {med['median_ms']:,.1f} | {med['cpu_ms']:,.1f} "
              f"| {med['read_ms']:,.2f} | {peer / med['median_ms']:,.0f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
