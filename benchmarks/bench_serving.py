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

Load generation and tables: ``serving_load.py``; starting and stopping the
servers: ``serving_servers.py``; the requests and in-process calls:
``serving_scenarios.py`` (beside this script).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving_load import closed_loop, median_rows, open_loop, print_table  # noqa: E402
from serving_scenarios import API_KEY, Scenarios, model_floors, scenarios  # noqa: E402
from serving_servers import pyfunc_for_churn, start, stop  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load_source(args: argparse.Namespace, work: Path) -> tuple[str, str]:
    """(model source, its label): ``--models``, or a synthetic shop's model set built in ``work``."""
    if args.models is not None:
        label = args.models if args.models == "registry" else f"model folder {args.models}"
        return args.models, label
    sys.path.insert(0, str(ROOT))
    from tests.serving.model_set import build_model_set

    print(
        f"building a synthetic model set ({args.synthetic_customers:,} customers) ...",
        file=sys.stderr,
    )
    folder = build_model_set(work / "models", n_customers=args.synthetic_customers, n_items=400)
    return str(folder.folder), f"synthetic shop, {args.synthetic_customers:,} customers"


def start_servers(source: str, work: Path, example: Any) -> tuple[Any, Any, str, str]:
    """kizuna and ``mlflow models serve`` on the same churn model: (processes..., urls...)."""
    from tests.serving.loopback import free_port, serve_command

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
        from kizuna.serving.model_registry import resolve_experiment
        from kizuna.serving.model_store import registered_name

        experiment = resolve_experiment(os.environ.get("KIZUNA_EXPERIMENT"))
        model_uri = f"models:/{registered_name(experiment, 'churn')}@champion"
    else:
        model_uri = pyfunc_for_churn(Path(source), work / "churn-pyfunc", example)
    kizuna = start(
        serve_command(k_port), env, f"http://127.0.0.1:{k_port}/readyz", work / "kizuna.log"
    )
    mlflow_serve = [
        str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model_uri,
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(m_port), "-w", "1",
    ]  # fmt: skip
    try:
        mlflow_srv = start(
            mlflow_serve, env, f"http://127.0.0.1:{m_port}/ping", work / "mlflow.log"
        )
    except BaseException:
        stop(kizuna)
        raise
    return kizuna, mlflow_srv, f"http://127.0.0.1:{k_port}", f"http://127.0.0.1:{m_port}"


def run_loops(
    args: argparse.Namespace, opened: Scenarios, closed: Scenarios
) -> tuple[list[dict], list[dict], dict[str, float]]:
    """(open-loop runs, closed-loop runs, open scenarios too slow for ``--rate`` -> capacity)."""
    # Open loops first: closed loops leave the server's heap full of BentoML's
    # per-request timeout timers for a minute, which would slow the next scenario.
    probe = {
        name: asyncio.run(closed_loop(url, body, h, args.concurrency, 2.0))["rps"]
        for name, (url, body, h) in opened.items()
    }
    open_runs, closed_runs = [], []
    saturated: dict[str, float] = {}
    for run in range(args.runs):
        print(f"open loop, run {run + 1}/{args.runs} ...", file=sys.stderr)
        runs = {}
        for name, (url, body, h) in opened.items():
            if probe[name] < args.rate:
                # It cannot keep up: the queue would grow for the whole run.
                saturated[name] = probe[name]
                continue
            runs[name] = asyncio.run(open_loop(url, body, h, args.rate, args.duration))
        open_runs.append(runs)
    for run in range(args.runs):
        print(f"closed loop, run {run + 1}/{args.runs} ...", file=sys.stderr)
        closed_runs.append(
            {
                name: asyncio.run(closed_loop(url, body, h, args.concurrency, args.duration))
                for name, (url, body, h) in closed.items()
            }
        )
    return open_runs, closed_runs, saturated


def report(
    args: argparse.Namespace,
    header: str,
    open_runs: list[dict],
    closed_runs: list[dict],
    saturated: dict[str, float],
    floors: dict[str, dict[str, float]],
) -> dict[str, dict[str, float]]:
    """Print the three tables; return the closed-loop medians."""
    print(header)
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
    return closed


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
    from kizuna.serving.live import load_served

    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-"))
    source, label = load_source(args, work)
    served = load_served(source)
    st = served.state
    ids = [str(c) for c in st.frames["churn"].index]
    order = np.random.default_rng(0).permutation(len(ids))
    features = st.frames["churn"][served.models.churn.feature_columns]
    batch = [ids[j] for j in order[:1000]] if len(ids) >= 1000 else (ids * 1000)[:1000]

    kizuna, mlflow_srv, kurl, murl = start_servers(source, work, features.iloc[:5])
    opened, closed_scenarios = scenarios(kurl, murl, ids, order, features, batch)
    try:
        floors = model_floors(served, ids, order, features, batch)
        # This process holds a loaded state too: keep the collector from pausing the generator.
        import gc

        gc.collect()
        gc.freeze()
        open_runs, closed_runs, saturated = run_loops(args, opened, closed_scenarios)
    finally:
        stop(kizuna)
        stop(mlflow_srv)

    header = (
        f"\n## kizuna serving benchmark: {label}\n\n"
        f"{os.cpu_count()} cores; one server worker each; load generator in the same machine; "
        f"median of {args.runs} runs of {args.duration:.0f} s; versions {served.versions}; "
        f"{len(ids):,} customers, {st.catalogue.n_items:,} items."
    )
    closed = report(args, header, open_runs, closed_runs, saturated, floors)
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
