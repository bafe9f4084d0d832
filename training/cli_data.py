"""Data commands: ``kizuna generate``, ``kizuna validate``, ``kizuna features``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import naive_utc
from kizuna.training.cli_common import (
    ColumnMapOpt,
    FormatOpt,
    JsonOpt,
    QuietOpt,
    console,
    emit_json,
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
        datetime | None, typer.Option("--as-of", help="Set aside rows at or after this instant.")
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
    from kizuna.training.data import config_experiment, load_transactions, resolve_source
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


def features(
    source: SourceArg = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Features use only events strictly before this instant."),
    ] = None,
    format: FormatOpt = "canonical",
    column_map: ColumnMapOpt = None,
    config: ConfigOpt = None,
    horizon: Annotated[
        int | None,
        typer.Option(min=1, help="Also build labels over [as_of, as_of + horizon days)."),
    ] = None,
    lookback: Annotated[
        int, typer.Option(help="Churn population: bought in the last N days before as_of.")
    ] = 365,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "data/features"
    ),
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Build point-in-time customer features (and labels) and write Parquet."""
    from kizuna.training.data import (
        config_experiment,
        load_tables,
        load_transactions,
        resolve_source,
    )
    from kizuna.training.data_span import check_as_of_in_data
    from kizuna.training.engines.settings import resolve_engine

    data = resolve_source(source, format=format, column_map=column_map, config=config)
    experiment = config_experiment(config)
    if as_of is None:
        raise KizunaInputError("--as-of is required: features use only events before it")
    as_of_ts = naive_utc(as_of)
    engine, spark = resolve_engine(engine, config)
    if engine == "spark":
        from kizuna.training.engines import spark_engine

        report, _, summary = spark_engine.features(
            data,
            as_of_ts,
            horizon=horizon,
            lookback=lookback,
            out=out,
            settings=spark,
            master=spark_master,
            quiet=quiet,
            experiment=experiment,
        )
        _report_features(out, as_of_ts, report, summary, as_json)
        return
    # Imported here, not above: the Spark engine imports it while its JVM starts.
    from kizuna.features.pipeline import customer_features, customer_labels
    from kizuna.features.validate import with_label_window

    window_end = as_of_ts if horizon is None else as_of_ts + pd.Timedelta(days=horizon)
    validated = load_transactions(data, as_of=window_end, quiet=quiet, experiment=experiment)
    check_as_of_in_data(validated, as_of_ts, horizon_days=horizon)
    items, customers = load_tables(data)
    with step(f"building features as of {as_of_ts}", quiet=quiet):
        frame = customer_features(validated.kept, as_of_ts, customers=customers, items=items)
    labels = None
    if horizon is not None:
        with step(f"building labels over {horizon} days", quiet=quiet):
            labels = customer_labels(
                validated.kept, as_of_ts, horizon_days=horizon, lookback_days=lookback
            )
    out.mkdir(parents=True, exist_ok=True)
    with step(f"writing {out}", quiet=quiet):
        frame.to_parquet(out / "features.parquet")
        if labels is not None:
            labels.to_parquet(out / "labels.parquet")
        write_set_aside(validated.set_aside, out / "set_aside.parquet")
        report = with_label_window(validated.report.to_dict(), as_of_ts, horizon)
        (out / "reconciliation.json").write_text(pd.Series(report).to_json(indent=2))
    _report_features(out, as_of_ts, report, feature_summary(frame, labels), as_json)


def _report_features(
    out: Path, as_of: pd.Timestamp, report: dict, summary: dict, as_json: bool
) -> None:
    if as_json:
        emit_json({"out": str(out), "as_of": as_of, "report": report, **summary})
        return
    print_reconciliation(report)
    print_feature_summary(summary)


def write_set_aside(frame: pd.DataFrame, path: Path) -> None:
    """Write set-aside rows as text columns, so mixed raw types always serialise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.astype("string").to_parquet(path)


def feature_summary(frame: pd.DataFrame, labels: pd.DataFrame | None) -> dict:
    from kizuna.features import schema as s

    summary: dict = {
        "customers": len(frame),
        "feature_columns": list(map(str, frame.columns)),
    }
    if s.SEGMENT in frame.columns:
        summary["segments"] = {str(k): int(v) for k, v in frame[s.SEGMENT].value_counts().items()}
    if labels is not None:
        summary["labelled_customers"] = int(labels[s.CHURN].notna().sum())
        summary["churn_rate"] = float(labels[s.CHURN].mean())
        summary["future_value_total"] = float(labels[s.FUTURE_VALUE].sum())
    return summary


def print_feature_summary(summary: dict) -> None:
    console.print(
        f"[bold]{summary['customers']:,}[/bold] customers × "
        f"[bold]{len(summary['feature_columns'])}[/bold] features"
    )
    if "segments" in summary:
        table = Table(title="RFM segments")
        table.add_column("segment")
        table.add_column("customers", justify="right")
        for name, count in summary["segments"].items():
            table.add_row(name, f"{count:,}")
        console.print(table)
    if "churn_rate" in summary:
        console.print(
            f"labels: {summary['labelled_customers']:,} customers in the churn population, "
            f"churn rate {summary['churn_rate']:.1%}, "
            f"future value {summary['future_value_total']:,.2f}"
        )
