"""Date settings of the experiment file (split.as_of, data.data_end) refuse numbers."""

from __future__ import annotations

import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.training.config import load_experiment


@pytest.mark.parametrize(("key", "value"), [("as_of", 20240131), ("data_end", 0)])
def test_an_experiment_file_with_a_number_for_a_date_is_one_clear_error(tmp_path, key, value):
    section = "split" if key == "as_of" else "data"
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\n"
        f"data: {{transactions: orders.csv{', data_end: 0' if section == 'data' else ''}}}\n"
        f"split: {{as_of: {value if section == 'split' else '2024-01-31'}}}\n"
    )
    # pydantic alone read 0 as 1970-01-01 (Unix seconds)
    with pytest.raises(KizunaInputError, match=rf"{section}\.{key}: must be a date .* {value}"):
        load_experiment(path)


def _orders(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(
        "customer_id,order_id,item_id,timestamp,quantity,unit_price\n"
        "a,1,x,2024-01-01,1,2\nb,2,y,2024-02-01,1,3\n"
    )
    return path


@pytest.mark.parametrize("value", ["20240115", "01/15/2024", "1.5"])
def test_as_of_on_the_command_line_must_be_iso_text(monkeypatch, capsys, tmp_path, value):
    from tests.training.test_cli_user_errors import assert_one_line_error, run_cli

    # Typer alone read 20240115 as Unix seconds: 1970-08-23 06:15:15
    args = ["validate", str(_orders(tmp_path)), "--as-of", value, "-q"]
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert_one_line_error(code, err, "--as-of", "ISO 8601", value)


@pytest.mark.parametrize(
    ("value", "kept"), [("2024-01-15", 1), ("2024-02-01T10:00:00+09:00", 2), ("2024-02-01", 1)]
)
def test_iso_as_of_on_the_command_line_still_works(tmp_path, value, kept):
    import json

    from typer.testing import CliRunner

    from kizuna.training.cli import app

    # +09:00 is converted to UTC: 2024-02-01 01:00, after b's order at 00:00.
    args = ["validate", str(_orders(tmp_path)), "--as-of", value, "--json", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"]["kept_rows"] == kept
