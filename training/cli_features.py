"""``kizuna features``: point-in-time customer features (and labels), as Parquet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import naive_utc
from kizuna.training.atomic_write import replacing_all
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
from kizuna.training.cli_data import (
    ConfigOpt,
    EngineOpt,
    SourceArg,
    SparkMasterOpt,
    write_set_aside,
)
from kizuna.training.progress import err_console, step

#: What ``kizuna features --out DIR`` writes (labels only with ``--horizon``).
FILES = {
    "features": "features.parquet",
    "labels": "labels.parquet",
    "set_aside": "set_aside.parquet",
    "reconciliation": "reconciliation.json",
}


def features(
    source: SourceArg = None,
    as_of: Annotated[
        datetime | None,
        instant_option("--as-of", help="Features use only events strictly before this instant."),
    ] = None,
    format: FormatOpt = "canonical",
    column_map: ColumnMapOpt = None,
    config: ConfigOpt = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Also build labels over [as_of, as_of + horizon days) (without it, an "
            "earlier run's labels.parquet in --out is removed).",
        ),
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
    from kizuna.training.data import load_tables, load_transactions
    from kizuna.training.data_source import config_experiment, resolve_source
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
        if horizon is None:
            drop_stale_labels(out, quiet=quiet)
        _report_features(out, as_of_ts, report, summary, as_json)
        return
    # Imported here, not above: the Spark engine imports it while its JVM starts.
    from kizuna.features.pipeline import customer_features, customer_labels
    from kizuna.features.reconciliation import with_label_window

    window_end = as_of_ts if horizon is None else as_of_ts + pd.Timedelta(days=horizon)
    validated = load_transactions(data, as_of=window_end, quiet=quiet, experiment=experiment)
    check_as_of_in_data(validated, as_of_ts, horizon_days=horizon)
    items, customers = load_tables(data)
    with step(f"building features as of {as_of_ts}", quiet=quiet):
        frame = customer_features(validated.kept, as_of_ts, customers=customers, items=items)
    labels = None
    if horizon is not None:
        with step(f"building labels over {horizon} days", quiet=quiet):
            # kept stops at the window's end: the log's own end is the validator's span
            labels = customer_labels(
                validated.kept,
                as_of_ts,
                horizon_days=horizon,
                lookback_days=lookback,
                data_end=validated.span[1] if validated.span else None,
            )
    report = with_label_window(validated.report.to_dict(), as_of_ts, horizon)
    names = ["features", "set_aside", "reconciliation", *(["labels"] if labels is not None else [])]
    # Each file beside its old self until all are written: a failure replaces none.
    with step(f"writing {out}", quiet=quiet), replacing_all(*(out / FILES[n] for n in names)) as to:
        temp = dict(zip(names, to, strict=True))
        frame.to_parquet(temp["features"])
        write_set_aside(validated.set_aside, temp["set_aside"])
        temp["reconciliation"].write_text(pd.Series(report).to_json(indent=2))
        if labels is not None:
            labels.to_parquet(temp["labels"])
    if labels is None:
        drop_stale_labels(out, quiet=quiet)
    _report_features(out, as_of_ts, report, feature_summary(frame, labels), as_json)


def _report_features(
    out: Path, as_of: pd.Timestamp, report: dict, summary: dict, as_json: bool
) -> None:
    if as_json:
        emit_json({"out": str(out), "as_of": as_of, "report": report, **summary})
        return
    print_reconciliation(report)
    print_feature_summary(summary)


def drop_stale_labels(out: Path, *, quiet: bool) -> None:
    """Remove an earlier run's labels from ``out``: they are not this run's (no --horizon).

    Parameters
    ----------
    out
        The output folder.
    quiet
        Whether to say nothing.
    """
    import shutil

    stale = out / FILES["labels"]
    if not stale.exists():
        return
    shutil.rmtree(stale) if stale.is_dir() else stale.unlink()  # the Spark engine's: a folder
    if not quiet:
        err_console.print(
            f"removed {stale} of an earlier run: without --horizon there are no labels",
            highlight=False,
        )


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
