"""``kizuna score``: churn, LTV, segment and top-k recommendations of every customer (CRM export).

The pandas engine scores the served snapshot in chunks (:mod:`training.batch_score`);
``--engine spark`` scores an experiment's data on Spark (:mod:`training.engines.spark_score`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from kizuna.serving.redact import hide_passwords
from kizuna.training.cli_common import (
    AliasOpt,
    EventStoreOpt,
    ExperimentOpt,
    JsonOpt,
    ModelsOpt,
    QuietOpt,
    console,
    emit_json,
)
from kizuna.training.cli_data import SparkMasterOpt
from kizuna.training.progress import err_console, step


def score(
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="A .csv/.csv.gz/.parquet file, or a SQLAlchemy URL "
            "(sqlite:///crm.sqlite, postgresql://user@host/db); default: "
            "sqlite:///$KIZUNA_DATA_DIR/crm.sqlite.",
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
            "--config", "-c", help="Experiment YAML: the data, engine, spark and scoring settings."
        ),
    ] = None,
    spark_master: SparkMasterOpt = None,
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
    experiment_config = None
    if config is not None:
        from kizuna.training.config import load_experiment
        from kizuna.training.contractual_score import is_contractual_only

        experiment_config = load_experiment(config)
        if is_contractual_only(experiment_config):  # one table, scored on the driver
            from kizuna.training.tracking import data_dir

            target = out or f"sqlite:///{data_dir() / 'crm.sqlite'}"
            _score_contractual(experiment_config, target, table, alias, chunk_size, as_json, quiet)
            return
    if engine == "spark":
        if reasons:
            from kizuna.features.errors import KizunaInputError

            raise KizunaInputError(
                "--reasons is computed by the pandas engine only (TreeSHAP per customer): "
                "drop --engine spark, or --reasons"
            )
        _score_spark(
            out, table, models, alias, k, config, spark, spark_master, experiment, as_json, quiet
        )
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from kizuna.serving.config import Settings
    from kizuna.serving.live import load_served
    from kizuna.serving.model_registry import served_experiment
    from kizuna.serving.model_store import tracking_uri
    from kizuna.training.batch_score import score_chunks
    from kizuna.training.export_writers import check_target, write_chunks
    from kizuna.training.stored_events import served_event_store
    from kizuna.training.tracking import data_dir

    settings = Settings.from_env()
    target = out or f"sqlite:///{data_dir() / 'crm.sqlite'}"
    check_target(target)
    if models == "registry":
        os.environ.setdefault("MLFLOW_TRACKING_URI", tracking_uri())
    source = models if models == "registry" else str(Path(models).resolve())
    experiment = served_experiment(source, experiment)
    store = served_event_store(experiment, event_store)
    with step(f"loading models ({models}, {alias}) and customer state", quiet=quiet):
        served = load_served(models, alias=alias, store=store, live=False, experiment=experiment)
    _warn_missing_kinds(served, alias, experiment)
    n = served.state.n_customers
    pool = None if experiment_config is None else experiment_config.scoring.candidate_pool
    chunks = score_chunks(
        served, k=k, chunk_size=chunk_size, bands=settings.risk_bands, reasons=reasons,
        candidate_pool=pool,
    )  # fmt: skip
    if as_json:
        rows = write_chunks(chunks, target, table=table)
    else:
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err_console, disable=quiet) as progress:
            task = progress.add_task("scoring customers", total=n)
            rows = write_chunks(
                chunks, target, table=table, on_chunk=lambda m: progress.advance(task, m)
            )
    summary = {
        "out": hide_passwords(target),
        "table": table if "://" in target else None,
        "rows": rows,
        "model_versions": served.versions,
        "as_of": str(served.state.as_of),
    }
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"wrote [bold]{rows:,}[/bold] customers to {hide_passwords(target)}"
        + (f" (table {table})" if "://" in target else "")
    )


def _score_contractual(
    config: Any, target: str, table: str, alias: str, chunk_size: int, as_json: bool, quiet: bool
) -> None:
    from kizuna.serving.config import Settings
    from kizuna.training.contractual_score import contractual_chunks
    from kizuna.training.export_writers import write_chunks
    from kizuna.training.tracking import setup_mlflow_uri

    setup_mlflow_uri()
    with step(f"scoring the customers table of {config.name} (contractual churn)", quiet=quiet):
        chunks, _, versions = contractual_chunks(
            config, alias=alias, bands=Settings.from_env().risk_bands, chunk_size=chunk_size
        )
        rows = write_chunks(chunks, target, table=table)
    summary = {
        "out": hide_passwords(target),
        "table": table if "://" in target else None,
        "rows": rows,
        "model_versions": versions,
        "as_of": None,
    }
    if as_json:
        emit_json(summary)
        return
    console.print(f"wrote [bold]{rows:,}[/bold] customers to {hide_passwords(target)}")


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
    quiet: bool,
) -> None:
    from kizuna.features.errors import KizunaInputError
    from kizuna.serving.config import Settings
    from kizuna.serving.model_store import tracking_uri
    from kizuna.training.config import load_experiment
    from kizuna.training.engines.spark_outputs import check_spark_target
    from kizuna.training.engines.spark_score import score as score_spark

    if not out:
        raise KizunaInputError("--engine spark needs --out: a Parquet folder or a jdbc: URL")
    check_spark_target(out)
    if models == "registry":
        os.environ.setdefault("MLFLOW_TRACKING_URI", tracking_uri())
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
        quiet=as_json or quiet,
        candidate_pool=experiment_config.scoring.candidate_pool,
    )
    if as_json:
        emit_json(summary)
        return
    console.print(f"wrote [bold]{summary['rows']:,}[/bold] customers to {out}")


def recorded_experiment(models: str, alias: str, experiment: str | None) -> Any:
    """The experiment that trained the model set (its ``experiment.json``), for its data.

    Parameters
    ----------
    models
        ``registry`` or a model folder.
    alias
        The registry alias.
    experiment
        The experiment's name, or None.

    Returns
    -------
    ExperimentConfig or None
    """
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


def _warn_missing_kinds(served: Any, alias: str, experiment: str) -> None:
    """A warning per model kind the export leaves empty (trained, but nothing at the alias,
    or failed to load), as the service's ``degraded`` names them: a nightly job exits 0."""
    from rich.markup import escape

    from kizuna.training.progress import err_console

    causes = dict(served.models.broken)
    for kind in served.missing_kinds:
        causes[kind] = (
            f"no {kind} version is @{alias} (one that did not beat its baseline stays "
            f"@challenger; `kizuna promote {kind} VERSION --experiment {experiment}` serves it)"
        )
    for kind, cause in causes.items():
        line = f"warning: the {kind} columns are left empty: {cause}"
        err_console.print(escape(line), highlight=False, soft_wrap=True)
