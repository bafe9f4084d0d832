"""The ``kizuna`` command line: one app, commands registered from small modules."""

from __future__ import annotations

import inspect
import os
import sys
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape

from kizuna.features.errors import KizunaInputError
from kizuna.serving.redact import hide_passwords
from kizuna.training import (
    cli_campaign,
    cli_data,
    cli_features,
    cli_init,
    cli_offers,
    cli_report,
    cli_score,
    cli_serve,
    cli_snapshot,
    cli_train,
)
from kizuna.training.progress import err_console

app = typer.Typer(
    help="kizuna: relationship-marketing ML from a raw order log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from kizuna.serving.version import package_version

        typer.echo(f"kizuna {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print kizuna's version and exit.",
        ),
    ] = False,
) -> None:
    """kizuna: relationship-marketing ML from a raw order log."""


def group_callback(command: Callable[..., Any]) -> Callable[..., Any]:
    """Let a command also head a group: it runs only when no subcommand is named.

    ``kizuna score --out crm.csv`` runs the CRM export itself, while
    ``kizuna score offers ...`` runs the subcommand instead.

    Parameters
    ----------
    command
        The group's own command.

    Returns
    -------
    callable
        The group's callback.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    signature = inspect.signature(command)
    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    ]
    params += [p.replace(annotation=hints[p.name]) for p in signature.parameters.values()]

    def callback(ctx: typer.Context, **kwargs: Any) -> None:
        if ctx.invoked_subcommand is None:
            command(**kwargs)

    callback.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    callback.__annotations__ = {"ctx": typer.Context, **{p.name: hints[p.name] for p in params[1:]}}
    callback.__doc__ = command.__doc__
    callback.__name__ = command.__name__
    return callback


score_app = typer.Typer(
    invoke_without_command=True, add_completion=False, pretty_exceptions_enable=False
)
score_app.callback()(group_callback(cli_score.score))
score_app.command("offers")(cli_offers.score_offers)
score_app.command("audience")(cli_report.score_audience)

app.command("init")(cli_init.init)
app.command("generate")(cli_data.generate)
app.command("validate")(cli_data.validate)
app.command("features")(cli_features.features)
app.command("train")(cli_train.train)
app.command("promote")(cli_train.promote)
app.command("demo")(cli_train.demo)
app.command("serve")(cli_serve.serve)
app.command("snapshot")(cli_snapshot.snapshot)
app.command("export")(cli_snapshot.export)
app.add_typer(cli_snapshot.events_app, name="events")
app.add_typer(score_app, name="score", help="CRM batch export; `kizuna score offers` for offers.")
app.command("evaluate-campaign")(cli_campaign.evaluate_campaign)
app.command("campaign-outcomes")(cli_campaign.campaign_outcomes)
app.command("report")(cli_report.report)
app.command("attribution")(cli_report.attribution)


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the user's input (a file, a value) is at fault, not kizuna.

    Returns
    -------
    tuple of exception types
    """
    import sqlite3

    import pandas as pd
    import pydantic
    import sqlalchemy.exc
    import yaml
    from lightgbm.basic import LightGBMError

    return (
        KizunaInputError,
        # A store file that is corrupt, read-only or locked (MLflow's, through SQLAlchemy).
        sqlite3.DatabaseError,
        sqlalchemy.exc.DatabaseError,
        LightGBMError,  # a model setting out of its range (experiment file: params)
        OSError,  # no such file, permission denied, is a directory, disk full
        UnicodeError,  # a binary or compressed file read as text
        EOFError,  # a truncated pickle or archive
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        yaml.YAMLError,
        pydantic.ValidationError,
    )


def one_line(exc: BaseException) -> str:
    """The error as one line; the type's name only when the message is empty or cryptic.

    Parameters
    ----------
    exc
        The error.

    Returns
    -------
    str
    """
    text = " ".join(str(exc).split())
    if isinstance(exc, KizunaInputError):
        return text
    cause = getattr(exc, "orig", None)  # SQLAlchemy's wrapper: the database's own words
    if type(exc).__module__.startswith("sqlalchemy") and cause is not None:
        from kizuna.serving.model_store import tracking_uri

        return (
            f"the MLflow tracking store {tracking_uri()} cannot be used: {cause} (restore it from "
            "a backup, or point MLFLOW_TRACKING_URI or KIZUNA_DATA_DIR at another)"
        )
    if isinstance(exc, UnicodeDecodeError):
        from kizuna.training.files import not_text

        return not_text(exc)
    if type(exc).__name__ == "ParserError":  # pandas' C parser: a ragged line
        from kizuna.training.files import ragged_line

        return ragged_line(text, "the file") or f"{type(exc).__name__}: {text}"
    if type(exc).__name__ == "LightGBMError":  # "Check failed: (num_leaves) > (1) at /src/..."
        return f"LightGBM refused a model setting (params): {text.split(' at /')[0]}"
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or type(exc).__name__
        return f"{reason}: {exc.filename}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main() -> None:
    """Console-script entry point: user errors become one clear line, exit code 2.

    Any exception of a :func:`user_error_types` type ends here, wherever it
    was raised, so no user error prints a traceback; so does a
    :class:`KizunaInputError` raised inside a Spark shard
    (:func:`training.engines.spark_errors.input_error_from_spark`).
    """
    from kizuna.serving.config import unknown_settings

    for line in unknown_settings(os.environ):
        err_console.print(f"warning: {escape(line)}", highlight=False, soft_wrap=True)
    try:
        app()
    except user_error_types() as exc:
        _user_error(exc)
    except Exception as exc:
        from kizuna.serving.sql_driver import missing_driver
        from kizuna.training.engines.spark_errors import input_error_from_spark

        # A store URL whose driver is missing fails wherever SQLAlchemy opens it (in MLflow).
        tracking = os.environ.get("MLFLOW_TRACKING_URI", "")
        found = missing_driver(exc, tracking if tracking.startswith("postgres") else None)
        # A user error raised inside a Spark shard comes back as Spark's error.
        found = found or input_error_from_spark(exc)
        if found is None:
            raise
        _user_error(found)


def _user_error(exc: BaseException) -> None:
    err_console.print(
        f"[bold red]error:[/bold red] {escape(hide_passwords(one_line(exc)))}",
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(2)
