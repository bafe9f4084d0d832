"""What the CLI commands share: console, options, JSON and report printing."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# Comparison tables are wide; a pipe or CI log would otherwise wrap them at 80 columns.
console = Console(width=max(Console().width, 150))

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="canonical | online-retail | cdnow")]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Machine-readable output on stdout; progress stays on stderr."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]
ColumnMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--column-map", help="YAML file {canonical_name: your_column} for canonical CSVs."
    ),
]

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
        "--event-store",
        help="SQLite event store (default: the experiment's, "
        "$KIZUNA_DATA_DIR/events/<experiment>.sqlite).",
    ),
]


def emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def print_reconciliation(report: dict[str, Any]) -> None:
    """Print where every input row went.

    Parameters
    ----------
    report
        The reconciliation, as ``--json`` writes it.
    """
    from kizuna.features.reconciliation import REASON_TEXT

    table = Table(title="Row reconciliation", show_footer=False)
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("input", f"{report['input_rows']:,}")
    table.add_row("kept: purchases", f"{report['kept_purchases']:,}")
    table.add_row("kept: returns and cancellations (flagged)", f"{report['kept_returns']:,}")
    for reason, count in report["set_aside"].items():
        table.add_row(f"set aside: {REASON_TEXT.get(reason, reason)}", f"{count:,}")
    status = "[green]balanced[/green]" if report["balanced"] else "[red]DOES NOT BALANCE[/red]"
    table.add_row(
        "kept + set aside", f"{report['kept_rows'] + report['set_aside_rows']:,} {status}"
    )
    console.print(table)


def instant_option(*names: str, help: str) -> Any:
    """The ``typer.Option`` of every date option (``--as-of``, ``--since``, ``--now``):
    ISO 8601 text only, read by :func:`iso_instant`.

    Parameters
    ----------
    *names
        The option's names (default: from the parameter's name).
    help
        Its help text.

    Returns
    -------
    typer.models.OptionInfo
    """
    # The text passes through the parser untouched and is read in the callback, which knows
    # the option's name: a parser's error would be Typer's boxed usage error instead.
    return typer.Option(*names, parser=str, callback=iso_instant, help=help)


def iso_instant(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> Any:
    """The callback of :func:`instant_option`: ISO 8601 text as a ``datetime``.

    Typer alone reads a number as Unix seconds (``--as-of 20240115`` was
    1970-08-23). A zone is kept for :func:`features.timestamps.naive_utc` to
    convert. Other text raises a :class:`KizunaInputError` naming the option and
    the value, which the CLI prints as its one-line ``error:`` (exit code 2) like
    every other input error.

    Parameters
    ----------
    ctx
        The command's context.
    param
        The option.
    value
        Its text, or None when not given.

    Returns
    -------
    datetime.datetime or None
    """
    from kizuna.features.as_of import iso_text_timestamp
    from kizuna.features.errors import KizunaInputError

    if value is None or ctx.resilient_parsing or isinstance(value, datetime):
        return value
    option = max(param.opts, key=len) if param.opts else str(param.name)
    try:
        return iso_text_timestamp(value, name=None).to_pydatetime()
    except KizunaInputError as exc:
        raise KizunaInputError(f"{option}: {exc}") from None  # exc quotes the value
