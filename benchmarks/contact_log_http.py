"""``/next_best_offer`` over loopback for ``bench_contact_log.py``: a fresh server per run, the
CSV and SQLite logs taking turns, wall time and the server's CPU per request."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path


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
