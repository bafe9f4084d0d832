"""``--json`` puts JSON alone on stdout and keeps progress on stderr; ``--quiet`` silences it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kizuna.training.cli import app

CSV = (
    "customer_id,order_id,item_id,timestamp,quantity,unit_price\n"
    "1,A,x,2024-01-01,1,2.0\n2,B,y,2024-01-02,1,3.0\n2,B,y,2024-01-02,1,3.0\n"
)


@pytest.mark.parametrize(
    ("flags", "progress"), [(["--json"], True), (["--json", "--quiet"], False)]
)
def test_validate_json_and_progress(tmp_path: Path, flags: list[str], progress: bool):
    (tmp_path / "orders.csv").write_text(CSV)
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "orders.csv"), *flags])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["report"]
    assert report["kept_rows"] == 2 and report["set_aside"] == {"duplicate_row": 1}
    assert ("✓ validating 3 rows" in result.stderr) is progress
    assert (result.stderr == "") is not progress


def _commands() -> list[list[str]]:
    import typer

    group = typer.main.get_command(app)
    out = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", {})
        if not subcommands or getattr(command, "invoke_without_command", False):
            out.append([name])  # a command, or a group that also runs by itself
        out += [[name, sub] for sub in subcommands]
    return out


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_takes_json(command: list[str]):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "--json" in result.stdout


@pytest.mark.parametrize(
    "command", [c for c in _commands() if c != ["serve"]], ids=" ".join
)  # serve's progress is the server's log
def test_every_command_takes_quiet(command: list[str]):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "--quiet" in result.stdout and "-q" in result.stdout


def test_the_spark_extra_is_named_in_the_engine_help():
    result = CliRunner().invoke(app, ["features", "--help"])
    assert "'kizuna[spark]'" in result.stdout  # not eaten as Rich markup
