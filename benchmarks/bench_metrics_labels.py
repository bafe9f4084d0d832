"""Benchmark: /metrics size and scrape time after requests to random unknown paths.

Starts the service on loopback (a synthetic model set, the API key set or
not), sends ``--requests`` GETs to random unknown paths, then scrapes
``/metrics`` ``--runs`` times and prints its size, its number of series with
an ``endpoint`` label, and the median scrape time. Every unknown path shares
the label ``/{unknown}``, so the size does not grow with the number of paths.

    .venv/bin/python benchmarks/bench_metrics_labels.py --requests 10000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from tests.serving.conftest import API_KEY, build_model_set, start_server

    print("| API key | unknown paths | /metrics bytes | endpoint labels | scrape ms (median) |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model_set(Path(tmp) / "models").folder
        for key in (API_KEY, None):
            env = {
                "KIZUNA_MODEL_SOURCE": str(folder),
                "KIZUNA_EVENT_STORE": str(Path(tmp) / "events.sqlite"),
                "KIZUNA_CONTACT_LOG": str(Path(tmp) / "contacts.sqlite"),
            }
            if key:
                env["KIZUNA_API_KEY"] = key
            srv = start_server(env, Path(tmp) / f"server-{bool(key)}.log")
            headers = {"X-API-Key": key} if key else {}
            try:
                with httpx.Client(base_url=srv.url, timeout=30) as c:
                    for _ in range(args.requests):
                        c.get(f"/{uuid.uuid4().hex}")
                    times, body = [], b""
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        body = c.get("/metrics", headers=headers).content
                        times.append((time.perf_counter() - started) * 1000)
            finally:
                srv.stop()
            labels = {
                line.split('endpoint="', 1)[1].split('"', 1)[0]
                for line in body.decode().splitlines()
                if 'endpoint="' in line
            }
            print(
                f"| {'set' if key else 'unset'} | {args.requests:,} | {len(body):,} | "
                f"{len(labels)} | {statistics.median(times):.1f} |"
            )


if __name__ == "__main__":
    main()
