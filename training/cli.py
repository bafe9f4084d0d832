"""The ``kizuna`` command line: one app, commands registered from small modules."""

from __future__ import annotations

import sys

import typer

from features.errors import KizunaInputError
from training import cli_data, cli_train
from training.progress import err_console

app = typer.Typer(
    help="kizuna: relationship-marketing ML from a raw order log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("generate")(cli_data.generate)
app.command("validate")(cli_data.validate)
app.command("features")(cli_data.features)
app.command("train")(cli_train.train)
app.command("promote")(cli_train.promote)
app.command("demo")(cli_train.demo)


def main() -> None:
    """Console-script entry point: input errors become one clear line, exit code 2."""
    try:
        app()
    except KizunaInputError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
