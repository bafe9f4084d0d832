"""Serving commands: ``kizuna serve`` (the BentoML service) and ``kizuna score`` (CRM export)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from kizuna.training.cli_common import JsonOpt, QuietOpt, console, emit_json
from kizuna.training.progress import err_console, step

SERVICE = "kizuna.serving.service:KizunaService"
#: Seconds the server gets to shut down cleanly after SIGTERM/SIGINT before it is killed.
STOP_TIMEOUT = 6.0

ModelsOpt = Annotated[
    str,
    typer.Option(
        "--models",
        "-m",
        help="'registry' (the MLflow registry at MLFLOW_TRACKING_URI) or a model folder.",
    ),
]
AliasOpt = Annotated[str, typer.Option("--alias", help="Registry alias to serve.")]
ExperimentOpt = Annotated[
    str | None,
    typer.Option(
        "--experiment",
        help="Experiment whose champions to serve from the registry (default: the only one).",
    ),
]
EventStoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--event-store", help="SQLite event store (default $KIZUNA_DATA_DIR/events.sqlite)."
    ),
]


def serve(
    models: ModelsOpt = "registry",
    alias: AliasOpt = "champion",
    experiment: ExperimentOpt = None,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 3000,
    event_store: EventStoreOpt = None,
    reload_poll: Annotated[
        float,
        typer.Option("--reload-poll", help="Check for new champions every N seconds (0 = off)."),
    ] = 0.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print where the service listens as JSON on stdout.")
    ] = False,
) -> None:
    """Start the BentoML service (recommendations, churn, LTV, profiles, events).

    The API key, body and batch limits come from KIZUNA_API_KEY,
    KIZUNA_MAX_BODY_BYTES, KIZUNA_MAX_BATCH and KIZUNA_MAX_EVENTS.
    """
    from kizuna.features.errors import KizunaInputError
    from kizuna.serving.config import Settings

    if models != "registry" and not Path(models).is_dir():
        raise KizunaInputError(
            f"--models must be 'registry' or a model folder; {models} is neither"
        )
    env = dict(os.environ)
    env["KIZUNA_MODEL_SOURCE"] = models if models == "registry" else str(Path(models).resolve())
    env["KIZUNA_MODEL_ALIAS"] = alias
    if models == "registry":
        from kizuna.serving.model_store import resolve_experiment

        env.setdefault("MLFLOW_TRACKING_URI", _tracking_uri())
        os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
        # Fail here, in one line, rather than in a server that never turns ready.
        env["KIZUNA_EXPERIMENT"] = resolve_experiment(experiment)
    env["KIZUNA_RELOAD_POLL_SECONDS"] = str(reload_poll)
    # Absolute paths: the server resolves nothing against a working directory.
    settings = Settings.from_env()
    env["KIZUNA_EVENT_STORE"] = str((event_store or settings.event_store).resolve())
    env.setdefault("MLFLOW_TRACKING_URI", _tracking_uri())
    if as_json:
        base = f"http://{host}:{port}"
        emit_json(
            {
                "url": base,
                "models": models,
                "alias": alias,
                "docs": f"{base}/docs.json",
                "ready": f"{base}/readyz",
                "event_store": env["KIZUNA_EVENT_STORE"],
            }
        )
        sys.stdout.flush()
    err_console.print(
        f"serving {models} ({alias}) on http://{host}:{port}  "
        f"[dim]API docs: http://{host}:{port}/ (OpenAPI: /docs.json), "
        f"ready: /readyz[/dim]"
    )
    command = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--host",
        host,
        "--port",
        str(port),
        # An idle keep-alive connection is closed after this many seconds.
        "--timeout-keep-alive",
        str(max(1, round(settings.header_timeout))),
    ]
    raise typer.Exit(run_until_signalled(command, env=env))


def run_until_signalled(
    command: list[str], *, env: dict[str, str], stop_timeout: float = STOP_TIMEOUT
) -> int:
    """Run the server; on SIGTERM or SIGINT stop it and every process it started.

    The server runs in a process group of its own, so a terminal's Ctrl-C
    reaches it only through here, once. On a signal the group gets the same
    signal, then ``stop_timeout`` seconds to exit, then SIGKILL, and so does
    every descendant (BentoML puts its workers in sessions of their own), so
    the port is free when this returns.

    Returns
    -------
    int
        The server's exit code; 0 after a stop requested by a signal.
    """
    import psutil

    proc = subprocess.Popen(command, env=env, start_new_session=True)
    stop_requested: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stop_requested.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while proc.poll() is None and not stop_requested:
            time.sleep(0.1)
        if not stop_requested:
            return proc.returncode
        try:
            family = [*psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        try:
            os.killpg(proc.pid, stop_requested[0])
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + stop_timeout
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            pass
        _, alive = psutil.wait_procs(family, timeout=max(0.5, deadline - time.monotonic()))
        for leftover in [*alive, *([proc] if proc.poll() is None else [])]:
            try:
                leftover.kill()
            except (psutil.NoSuchProcess, ProcessLookupError):
                pass
        proc.wait()
        psutil.wait_procs(alive, timeout=2)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def score(
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="A .csv/.csv.gz/.parquet file, or a SQLAlchemy URL "
            "(sqlite:///crm.sqlite, postgresql://user@host/db).",
        ),
    ] = "",
    table: Annotated[str, typer.Option(help="SQL table name (replaced).")] = "customer_scores",
    models: ModelsOpt = "registry",
    alias: AliasOpt = "champion",
    experiment: ExperimentOpt = None,
    k: Annotated[int, typer.Option(min=1, max=100, help="Recommendations per customer.")] = 10,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Customers scored and written at a time.")
    ] = 20_000,
    event_store: EventStoreOpt = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="pandas (default), or spark: scores the data of --config on Spark; --out is "
            "then a Parquet folder (partitioned by segment) or a jdbc: URL; churn and LTV run "
            "through mlflow.pyfunc.spark_udf.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Experiment YAML: the data, engine and spark settings."
        ),
    ] = None,
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master URL (default local[*]).")
    ] = None,
    reasons: Annotated[
        int,
        typer.Option(
            min=0, max=10, help="Churn reasons per customer (0 = none; costs TreeSHAP time)."
        ),
    ] = 0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write churn, LTV, segment and top-k recommendations of every customer (CRM export)."""
    from kizuna.training.engines.settings import resolve_engine

    engine, spark = resolve_engine(engine, config)
    if engine == "spark":
        _score_spark(out, table, models, alias, k, config, spark, spark_master, experiment, as_json)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from kizuna.serving.config import Settings
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import load_served
    from kizuna.training.batch_score import check_target, score_chunks, write_chunks
    from kizuna.training.tracking import data_dir

    settings = Settings.from_env()
    target = out or f"sqlite:///{data_dir() / 'crm.sqlite'}"
    check_target(target)
    store_path = event_store or settings.event_store
    store = EventStore(store_path) if Path(store_path).exists() else None
    if models == "registry":
        os.environ.setdefault("MLFLOW_TRACKING_URI", _tracking_uri())
    with step(f"loading models ({models}, {alias}) and customer state", quiet=quiet):
        served = load_served(models, alias=alias, store=store, live=False, experiment=experiment)
    n = served.state.n_customers
    chunks = score_chunks(
        served, k=k, chunk_size=chunk_size, bands=settings.risk_bands, reasons=reasons
    )
    if as_json:
        rows = write_chunks(chunks, target, table=table)
    else:
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err_console) as progress:
            task = progress.add_task("scoring customers", total=n)
            rows = write_chunks(
                chunks, target, table=table, on_chunk=lambda m: progress.advance(task, m)
            )
    summary = {
        "out": target,
        "table": table if "://" in target else None,
        "rows": rows,
        "model_versions": served.versions,
        "as_of": str(served.state.as_of),
    }
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"wrote [bold]{rows:,}[/bold] customers to {target}"
        + (f" (table {table})" if "://" in target else "")
    )


def _score_spark(
    out: str,
    table: str,
    models: str,
    alias: str,
    k: int,
    config: Path | None,
    spark: dict,
    spark_master: str | None,
    experiment: str | None,
    as_json: bool,
) -> None:
    from kizuna.features.errors import KizunaInputError
    from kizuna.serving.config import Settings
    from kizuna.training.config import load_experiment
    from kizuna.training.engines.spark_score import score as score_spark

    if not out:
        raise KizunaInputError("--engine spark needs --out: a Parquet folder or a jdbc: URL")
    if models == "registry":
        os.environ.setdefault("MLFLOW_TRACKING_URI", _tracking_uri())
    if config is not None:
        experiment_config = load_experiment(config)
    else:
        experiment_config = recorded_experiment(models, alias, experiment)
        spark = spark or experiment_config.spark.model_dump()
    summary = score_spark(
        models,
        alias=alias,
        out=out,
        k=k,
        bands=Settings.from_env().risk_bands,
        data=experiment_config.data,
        settings=spark,
        master=spark_master,
        experiment=experiment or (experiment_config.name if models == "registry" else None),
        jdbc_table=table,
        quiet=as_json,
    )
    if as_json:
        emit_json(summary)
        return
    console.print(f"wrote [bold]{summary['rows']:,}[/bold] customers to {out}")


def recorded_experiment(models: str, alias: str, experiment: str | None) -> Any:
    """The experiment that trained the model set (its ``experiment.json``), for its data."""
    import json

    from kizuna.features.errors import KizunaInputError
    from kizuna.serving import model_store
    from kizuna.serving.live import model_folder
    from kizuna.training.config import ExperimentConfig, parse_model

    path = model_folder(models, alias=alias, experiment=experiment) / model_store.EXPERIMENT_FILE
    raw = json.loads(path.read_text()) if path.exists() else {}
    if not (raw.get("data") or {}).get("transactions"):
        raise KizunaInputError(
            f"--engine spark scores the data of an experiment, and the model set {models!r} "
            f"records none ({path.name} names no data.transactions): give the experiment "
            "file with -c FILE"
        )
    return parse_model(ExperimentConfig, raw, source=str(path))


def _tracking_uri() -> str:
    from kizuna.serving.model_store import tracking_uri

    return tracking_uri()
