"""Data commands: ``kizuna generate``, ``kizuna validate`` (``kizuna features``: cli_features)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from kizuna.features.timestamps import naive_utc
from kizuna.training.cli_common import (
    ColumnMapOpt,
    FormatOpt,
    JsonOpt,
    QuietOpt,
    console,
    emit_json,
    instant_option,
    print_reconciliation,
)
from kizuna.training.progress import step

SourceArg = Annotated[
    Path | None, typer.Argument(help="Transactions file (.csv, .csv.gz, .txt, .parquet).")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Experiment YAML whose `data:` section names the source."),
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="pandas (default) or spark (pip install 'kizuna\\[spark]'; Java 17+). "
        "Default: the experiment's `engine:`, else pandas.",
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL (default: the experiment's spark.master, an active "
        "session, else local[*]).",
    ),
]


def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the Parquet files.")] = Path(
        "data/shop"
    ),
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same shop.")] = 0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Generate a seeded synthetic shop with known ground truth."""
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.shop_io import write_shop

    config = ShopConfig(n_customers=customers, seed=seed)
    with step(f"generating a shop of {customers:,} customers (seed {seed})", quiet=quiet):
        shop = generate_shop(config)
    with step(f"writing Parquet to {out}", quiet=quiet):
        paths = write_shop(shop, out)
    summary = {
        "out": str(out),
        "seed": seed,
        "files": {k: str(v) for k, v in paths.items()},
        "transactions": len(shop.transactions),
        "customers": len(shop.customers),
        "items": len(shop.items),
    }
    if as_json:
        emit_json(summary)
        return
    table = Table(title="Synthetic shop")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name in ("transactions", "customers", "items", "truth"):
        table.add_row(name, f"{len(getattr(shop, name)):,}", str(paths[name]))
    console.print(table)


def validate(
    source: SourceArg = None,
    format: FormatOpt = "canonical",
    column_map: ColumnMapOpt = None,
    config: ConfigOpt = None,
    as_of: Annotated[
        datetime | None,
        instant_option("--as-of", help="Set aside rows at or after this instant."),
    ] = None,
    set_aside_out: Annotated[
        Path | None, typer.Option("--set-aside-out", help="Write the set-aside rows (Parquet).")
    ] = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Validate a transactions file and account for every row."""
    from kizuna.training.data import load_transactions
    from kizuna.training.data_source import config_experiment, resolve_source
    from kizuna.training.data_span import check_as_of_in_data, check_as_of_in_span
    from kizuna.training.engines.settings import resolve_engine
    from kizuna.training.stored_events import stored_events_summary

    as_of = naive_utc(as_of)
    data = resolve_source(source, format=format, column_map=column_map, config=config)
    experiment = config_experiment(config)
    engine, spark = resolve_engine(engine, config)
    # Read just before the validation's own read of the store, for the report.
    events = stored_events_summary(data, experiment)
    if engine == "spark":
        from kizuna.training.engines import spark_engine
        from kizuna.training.engines.spark_outputs import check_spark_target

        if set_aside_out is not None:  # before Spark starts, not after the work
            check_spark_target(str(set_aside_out), option="--set-aside-out", jdbc=False)
        validated = spark_engine.validate(
            data,
            as_of=as_of,
            settings=spark,
            master=spark_master,
            quiet=quiet,
            experiment=experiment,
        )
        if as_of is not None:
            check_as_of_in_span(validated.span, as_of)
        if set_aside_out is not None:
            spark_engine.write_set_aside(validated.set_aside, set_aside_out)
        _report_validation(data, validated.report.to_dict(), events, as_json)
        return
    validated = load_transactions(data, as_of=as_of, quiet=quiet, experiment=experiment)
    if as_of is not None:
        check_as_of_in_data(validated, as_of)
    report = validated.report.to_dict()
    if set_aside_out is not None:
        write_set_aside(validated.set_aside, set_aside_out)
    _report_validation(data, report, events, as_json)


def _report_validation(data: object, report: dict, events: dict | None, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "source": str(data.transactions),
                "format": data.format,
                "stored_events": events,
                "report": report,
            }
        )
        return
    print_reconciliation(report)
    if events is not None and events["lines"]:
        console.print(
            f"input includes {events['lines']:,} stored purchase events from {events['store']} "
            f"(up to seq {events['last_seq']})",
            highlight=False,
        )


def write_set_aside(frame: pd.DataFrame, path: Path) -> None:
    """Write set-aside rows as text columns, so mixed raw types always serialise.

    Parameters
    ----------
    frame
        The set-aside rows, shape (n, k).
    path
        The Parquet file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.astype("string").to_parquet(path)
