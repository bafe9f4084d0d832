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
  on a shared machine it moves less than wall time (``contact_log_http.py``).

``--reads-only``: just one customer's contacts read three ways, interleaved
(the CSV index, SQLite with a connection per read, SQLite on a kept connection).

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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from contact_log_http import over_loopback  # noqa: E402


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


def read_paths(logs: dict[str, Path], customers: int = 300, rounds: int = 3) -> None:
    """One customer's contacts read three ways, interleaved per customer (drift reaches all
    alike): the CSV index, SQLite with a connection per read (``read_contact_log``, what the
    service did before) and SQLite on the service's kept connection. Wall and CPU ms per read."""
    import sqlite3

    import pandas as pd

    from kizuna.serving.contact_index import ContactLog
    from kizuna.serving.contact_store import read_contact_log

    with sqlite3.connect(logs["sqlite"]) as conn:
        rows = conn.execute("SELECT customer_id FROM contacts LIMIT ?", (200 * customers,))
        ids = [r[0] for r in rows][::200]
    since = pd.Timestamp.now() - pd.Timedelta(days=365)
    csv, kept = ContactLog(logs["csv"]), ContactLog(logs["sqlite"])
    csv.warm()
    ways = {
        "csv: ContactLog (index in memory)": lambda c: csv.read(c, since),
        "sqlite: read_contact_log (a connection per read)": lambda c: read_contact_log(
            logs["sqlite"], since=since, customer=c
        ),
        "sqlite: ContactLog (kept connection)": lambda c: kept.read(c, since),
    }
    walls: dict[str, list[float]] = {k: [] for k in ways}
    cpus: dict[str, list[float]] = {k: [] for k in ways}
    load = os.getloadavg()[0]
    for _ in range(rounds):
        for cid in ids:
            for name, read in ways.items():
                wall, cpu = time.perf_counter(), time.process_time()
                read(cid)
                walls[name].append(time.perf_counter() - wall)
                cpus[name].append(time.process_time() - cpu)
    print(f"\nOne customer's contacts, {len(ids)} customers x {rounds} rounds, the three reads "
          f"interleaved; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")  # fmt: skip
    print("| read | median wall ms | median CPU ms |")
    print("|---|---:|---:|")
    for name in ways:
        print(f"| {name} | {1e3 * statistics.median(walls[name]):.2f} "
              f"| {1e3 * statistics.median(cpus[name]):.2f} |")  # fmt: skip


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
    parser.add_argument(
        "--reads-only", action="store_true", help="only the three contact reads, interleaved"
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
    if args.reads_only:
        read_paths(logs)
        return
    if not args.http_only:
        in_process(served, live, logs, ids, n_log, args)
        print(index_memory(logs["csv"]))
        read_paths(logs)
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
