"""Benchmark: the kizuna service under load, against ``mlflow models serve`` on the same churn model.

Starts the kizuna BentoML service and ``mlflow models serve`` (one worker
each, loopback) side by side, then drives them from this process with an
aiohttp load generator:

* open loop at ``--rate`` requests/s (latency measured from each request's
  scheduled send time, so a stalled server cannot hide its queue):
  ``/recommend``, ``/churn_score`` with 1 id, and mlflow ``/invocations``
  with 1 feature row (skipped when a short probe shows it cannot keep up);
* closed loop with ``--concurrency`` clients (maximum throughput):
  the same, plus 1,000 ids / 1,000 rows per request (with and without
  reasons for kizuna; mlflow returns probabilities only);
* the floor: the model call alone, in this process, no HTTP.

Every scenario runs ``--runs`` times; tables show the median of the runs.
Models: ``--models registry`` (the champions at MLFLOW_TRACKING_URI; mlflow
serves ``models:/kizuna-<experiment>-churn@champion``) or a folder written by
``save_champions`` (mlflow serves a pyfunc saved from its churn bundle);
without ``--models`` a synthetic shop's model set is built first.

    .venv/bin/python benchmarks/bench_serving.py --models registry
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key-0123456789"


# --- servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(
    command: list[str], env: dict[str, str], ready_url: str, log: Path, timeout: float = 300
) -> subprocess.Popen:
    import httpx

    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{command[2:5]} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"{command[2:5]} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server and its workers (BentoML puts each worker in its own session)."""
    from tests.serving.conftest import stop_tree

    if proc.poll() is None:
        stop_tree(proc.pid)


def pyfunc_for_churn(folder: Path, out: Path, example: Any) -> str:
    """Save the folder's churn bundle as an MLflow pyfunc (what the registry would hold)."""
    import mlflow
    from mlflow.models import infer_signature

    from kizuna.serving.model_store import load_bundle
    from kizuna.training.pyfunc import BundleModel

    wrapper = BundleModel("churn")
    wrapper.bundle = load_bundle(folder / "churn")
    signature = infer_signature(example, wrapper.predict(None, example))
    mlflow.pyfunc.save_model(
        out,
        python_model=BundleModel("churn"),
        artifacts={"bundle": str(folder / "churn" / "bundle.joblib")},
        signature=signature,
    )
    return str(out)


# --- load generation --------------------------------------------------------------------


async def _post(session: Any, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def open_loop(
    url: str, bodies: Callable[[int], bytes], headers: dict[str, str], rate: float, duration: float
) -> dict[str, float]:
    """Send at a fixed rate; latency counts from each request's scheduled time."""
    import aiohttp

    n = int(rate * duration)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        begin = loop.time() + 0.2

        async def one(i: int) -> None:
            nonlocal errors
            scheduled = begin + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            status = await _post(session, url, bodies(i), headers)
            if status != 200:
                errors += 1
            latencies.append((loop.time() - scheduled) * 1000)

        await asyncio.gather(*(one(i) for i in range(n)))
    lat = np.array(latencies)
    return {
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "rps": rate,
        "errors": errors,
    }


async def closed_loop(
    url: str,
    bodies: Callable[[int], bytes],
    headers: dict[str, str],
    concurrency: int,
    duration: float,
) -> dict[str, float]:
    """``concurrency`` clients each sending the next request when the last returns."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    counter = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration

        async def client() -> None:
            nonlocal errors, counter
            while loop.time() < end:
                i = counter
                counter += 1
                t0 = loop.time()
                if await _post(session, url, bodies(i), headers) != 200:
                    errors += 1
                latencies.append((loop.time() - t0) * 1000)

        start_t = loop.time()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = loop.time() - start_t
    lat = np.array(latencies)
    return {
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "rps": len(lat) / elapsed,
        "errors": errors,
    }


def floor(fn: Callable[[int], Any], n: int = 2000) -> dict[str, float]:
    for i in range(50):
        fn(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    lat = np.array(times)
    return {
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "rps": 1000 / float(lat.mean()),
        "errors": 0,
    }


# --- main --------------------------------------------------------------------------------


def median_rows(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        name: {key: statistics.median(run[name][key] for run in runs) for key in runs[0][name]}
        for name in runs[0]
    }


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n### {title}\n")
    print("| scenario | p50 ms | p99 ms | max ms | req/s | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | "
            f"{r['rps']:,.0f} | {r['errors']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", help="'registry' or a model folder (default: synthetic)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per scenario run")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--synthetic-customers", type=int, default=4000)
    args = parser.parse_args()

    import warnings

    warnings.simplefilter("ignore")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    from kizuna.serving import recommendations, scoring
    from kizuna.serving import schemas as api
    from kizuna.serving.live import load_served

    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-"))
    source = args.models
    if source is None:
        sys.path.insert(0, str(ROOT))
        from tests.serving.conftest import build_model_set

        print(
            f"building a synthetic model set ({args.synthetic_customers:,} customers) ...",
            file=sys.stderr,
        )
        source = str(
            build_model_set(
                work / "models", n_customers=args.synthetic_customers, n_items=400
            ).folder
        )
        label = f"synthetic shop, {args.synthetic_customers:,} customers"
    else:
        label = source if source == "registry" else f"model folder {source}"
    served = load_served(source)
    st = served.state
    ids = [str(c) for c in st.frames["churn"].index]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(ids))
    bundle = served.models.churn
    features = st.frames["churn"][bundle.feature_columns]

    # --- servers, side by side ---
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "BENTOML_HOME": str(work / "bentoml-home"),
        "KIZUNA_MODEL_SOURCE": source,
        "KIZUNA_API_KEY": API_KEY,
        "KIZUNA_EVENT_STORE": str(work / "events.sqlite"),
    }
    k_port, m_port = free_port(), free_port()
    if source == "registry":
        from kizuna.serving.model_store import registered_name, resolve_experiment

        experiment = resolve_experiment(os.environ.get("KIZUNA_EXPERIMENT"))
        model_uri = f"models:/{registered_name(experiment, 'churn')}@champion"
    else:
        model_uri = pyfunc_for_churn(Path(source), work / "churn-pyfunc", features.iloc[:5])
    from tests.serving.conftest import serve_command

    kizuna = start(
        serve_command(k_port),
        env,
        f"http://127.0.0.1:{k_port}/readyz",
        work / "kizuna.log",
    )
    try:
        mlflow_srv = start(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "models",
                "serve",
                "-m",
                model_uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(m_port),
                "-w",
                "1",
            ],
            env,
            f"http://127.0.0.1:{m_port}/ping",
            work / "mlflow.log",
        )
    except BaseException:
        stop(kizuna)
        raise

    kurl, murl = f"http://127.0.0.1:{k_port}", f"http://127.0.0.1:{m_port}"
    kh = {"content-type": "application/json", "X-API-Key": API_KEY}
    mh = {"content-type": "application/json"}
    batch = [ids[j] for j in order[:1000]] if len(ids) >= 1000 else (ids * 1000)[:1000]
    rows_json = json.loads(features.to_json(orient="split", index=False))

    def rec_body(i: int) -> bytes:
        return json.dumps({"customer_id": ids[order[i % len(ids)]], "k": 10}).encode()

    def churn1_body(i: int) -> bytes:
        return json.dumps({"customer_ids": [ids[order[i % len(ids)]]]}).encode()

    churn1000 = json.dumps({"customer_ids": batch}).encode()
    churn1000_bare = json.dumps({"customer_ids": batch, "top_reasons": 0}).encode()
    positions = [int(order[j % len(ids)]) for j in range(1000)]
    mlflow1000 = json.dumps(
        {
            "dataframe_split": {
                "columns": rows_json["columns"],
                "data": [rows_json["data"][p] for p in positions],
            }
        }
    ).encode()

    def mlflow1_body(i: int) -> bytes:
        row = rows_json["data"][int(order[i % len(ids)])]
        return json.dumps(
            {"dataframe_split": {"columns": rows_json["columns"], "data": [row]}}
        ).encode()

    scenarios_open = {
        "kizuna /recommend (k=10)": (f"{kurl}/recommend", rec_body, kh),
        "kizuna /churn_score, 1 id": (f"{kurl}/churn_score", churn1_body, kh),
        "mlflow /invocations, 1 row": (f"{murl}/invocations", mlflow1_body, mh),
    }
    scenarios_closed = {
        **scenarios_open,
        "kizuna /churn_score, 1,000 ids": (f"{kurl}/churn_score", lambda i: churn1000, kh),
        "kizuna /churn_score, 1,000 ids, no reasons": (
            f"{kurl}/churn_score",
            lambda i: churn1000_bare,
            kh,
        ),
        "mlflow /invocations, 1,000 rows": (f"{murl}/invocations", lambda i: mlflow1000, mh),
    }

    # --- the model call alone ---
    model = served.models.recommender.model
    mask = st.catalogue.in_stock

    def rec_model(i: int) -> Any:
        cid = ids[order[i % len(ids)]]
        pos = st.position(cid)
        return model.recommend_with_reasons(
            np.array([st.recommender_code(cid)]),
            st.history_rows(np.array([pos])),
            10,
            exclude_seen=True,
            item_mask=mask,
        )

    matrix = st.matrices["churn"]
    floors = {
        "recommender model call (1 customer, k=10)": floor(rec_model),
        "recommend, scoring function (no HTTP)": floor(
            lambda i: recommendations.recommend(
                served, api.RecommendRequest(customer_id=ids[order[i % len(ids)]])
            )
        ),
        "churn booster + calibration (1 row)": floor(
            lambda i: bundle.model._proba(matrix[[order[i % len(ids)]]])
        ),
        "churn predict_proba on a 1-row DataFrame (pyfunc path)": floor(
            lambda i: bundle.model.predict_proba(features.iloc[[order[i % len(ids)]]]), n=500
        ),
        "churn_score, scoring function, 1 id (no HTTP)": floor(
            lambda i: scoring.churn_scores(
                served,
                api.ChurnRequest(customer_ids=[ids[order[i % len(ids)]]]),
                max_batch=10_000,
                bands=(0.3, 0.6),
            )
        ),
        "churn_score, scoring function, 1,000 ids (no HTTP)": floor(
            lambda i: scoring.churn_scores(
                served, api.ChurnRequest(customer_ids=batch), max_batch=10_000, bands=(0.3, 0.6)
            ),
            n=20,
        ),
    }

    # This process holds a loaded state too: keep the collector from pausing the generator.
    import gc

    gc.collect()
    gc.freeze()
    open_runs, closed_runs = [], []
    saturated: dict[str, float] = {}
    try:
        # Open loops first: closed loops leave the server's heap full of BentoML's
        # per-request timeout timers for a minute, which would slow the next scenario.
        probe = {
            name: asyncio.run(closed_loop(url, body, h, args.concurrency, 2.0))["rps"]
            for name, (url, body, h) in scenarios_open.items()
        }
        for run in range(args.runs):
            print(f"open loop, run {run + 1}/{args.runs} ...", file=sys.stderr)
            opened = {}
            for name, (url, body, h) in scenarios_open.items():
                if probe[name] < args.rate:
                    # It cannot keep up: the queue would grow for the whole run.
                    saturated[name] = probe[name]
                    continue
                opened[name] = asyncio.run(open_loop(url, body, h, args.rate, args.duration))
            open_runs.append(opened)
        for run in range(args.runs):
            print(f"closed loop, run {run + 1}/{args.runs} ...", file=sys.stderr)
            closed_runs.append(
                {
                    name: asyncio.run(closed_loop(url, body, h, args.concurrency, args.duration))
                    for name, (url, body, h) in scenarios_closed.items()
                }
            )
    finally:
        stop(kizuna)
        stop(mlflow_srv)

    print(f"\n## kizuna serving benchmark: {label}\n")
    print(
        f"{os.cpu_count()} cores; one server worker each; load generator in the same machine; "
        f"median of {args.runs} runs of {args.duration:.0f} s; versions {served.versions}; "
        f"{len(ids):,} customers, {st.catalogue.n_items:,} items."
    )
    common = set.intersection(*(set(r) for r in open_runs)) if open_runs else set()
    print_table(
        f"Open loop at {args.rate:.0f} req/s (latency from the scheduled send time)",
        median_rows([{k: r[k] for k in r if k in common} for r in open_runs]),
    )
    for name, capacity in saturated.items():
        print(
            f"\n{name}: not run at {args.rate:.0f} req/s, its capacity in a 2 s "
            f"closed-loop probe was {capacity:,.0f} req/s"
        )
    closed = median_rows(closed_runs)
    print_table(f"Closed loop, {args.concurrency} concurrent clients (maximum throughput)", closed)
    print_table("The call alone, in process (no HTTP)", floors)
    ratio1 = (
        closed["kizuna /churn_score, 1 id"]["rps"] / closed["mlflow /invocations, 1 row"]["rps"]
    )
    ratio1000 = (
        closed["kizuna /churn_score, 1,000 ids"]["rps"]
        / closed["mlflow /invocations, 1,000 rows"]["rps"]
    )
    ratio_bare = (
        closed["kizuna /churn_score, 1,000 ids, no reasons"]["rps"]
        / closed["mlflow /invocations, 1,000 rows"]["rps"]
    )
    print(
        f"\nThroughput ratio kizuna / mlflow models serve (same churn model): "
        f"1 id {ratio1:.1f}x; 1,000 ids {ratio1000:.1f}x with reasons, "
        f"{ratio_bare:.1f}x without"
    )
    print(
        f"(kizuna answers with reasons and risk bands from a customer id; mlflow takes the "
        f"feature rows and returns probabilities.) Logs: {work}"
    )


if __name__ == "__main__":
    main()
