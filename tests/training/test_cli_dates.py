"""A bad ``--as-of``, ``--since`` or ``--now`` is the CLI's one-line error naming the option and
the value (exit code 2), like every other input error; not Typer's boxed usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.test_cli_user_errors import assert_one_line_error, run_cli

ORDERS = (
    "customer_id,order_id,item_id,timestamp,quantity,unit_price\n"
    "a,1,x,2024-01-01,1,2\nb,2,y,2024-02-01,1,3\n"
)


def _command(tmp_path: Path, option: str, value: str) -> list[str]:
    orders = tmp_path / "o.csv"
    orders.write_text(ORDERS)
    return {
        "validate": ["validate", str(orders), "--as-of", value, "-q"],
        "features": ["features", str(orders), "--as-of", value, "--out", str(tmp_path / "f")],
        "report": ["report", str(tmp_path / "exp.yaml"), "--since", value, "--models", "none"],
        "attribution": ["attribution", "--since", value, "--contact-log", str(tmp_path / "c")],
        "score offers": ["score", "offers", str(orders), "--now", value],
    }[option]


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("validate", "--as-of"),
        ("features", "--as-of"),
        ("report", "--since"),
        ("attribution", "--since"),
        ("score offers", "--now"),
    ],
)
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2024-13-40", "month must be in 1..12"),  # ISO-shaped, an impossible date
        ("yesterday", "ISO 8601"),
        ("20240115", "ISO 8601"),  # Typer alone read it as Unix seconds: 1970-08-23
        ("01/15/2024", "ISO 8601"),
    ],
)
def test_a_bad_date_option_is_one_line_naming_it(
    monkeypatch, capsys, tmp_path, command, option, value, why
):
    code, out, err = run_cli(monkeypatch, capsys, *_command(tmp_path, command, value))
    assert_one_line_error(code, err, f"error: {option}: ", why, repr(value))
    assert "Usage:" not in err + out and "╭" not in err + out


def test_a_good_date_option_still_reads_iso_text_with_a_zone(monkeypatch, capsys, tmp_path):
    import json

    # +09:00 is converted to UTC: 2024-02-01 01:00, after b's order at 00:00: both kept.
    args = _command(tmp_path, "validate", "2024-02-01T10:00:00+09:00")
    code, out, err = run_cli(monkeypatch, capsys, *args, "--json")
    assert code in (0, None), err
    assert json.loads(out)["report"]["kept_rows"] == 2
