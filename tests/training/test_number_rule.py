"""A European export (decimal comma, dot-grouped thousands) read end to end on pandas.

``kizuna init`` proposes the setting; the experiment's ``decimal`` and
``thousands`` read the transactions, items and customers files; stored
``/events`` lines (JSON numbers) are not re-read under the file's rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kizuna.features import schema as s
from kizuna.training.cli import app
from kizuna.training.config import DataConfig
from kizuna.training.data import load_tables, load_transactions
from tests.training.byod_fixtures import shop_transactions

GERMAN = {
    s.CUSTOMER_ID: "Kunde",
    s.ORDER_ID: "Rechnung",
    s.ITEM_ID: "Artikel",
    s.TIMESTAMP: "Datum",
    s.QUANTITY: "Menge",
    s.UNIT_PRICE: "Preis",
}


def german(value: float) -> str:
    """``1234.5`` as ``1.234,50``."""
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    out = shop_transactions(n_customers=120)
    out[s.UNIT_PRICE] = out[s.UNIT_PRICE].round(2)
    out.loc[out.index[::7], s.UNIT_PRICE] += 1000  # some prices with a thousands dot
    return out


def write_export(tx: pd.DataFrame, path: Path) -> Path:
    frame = tx[list(GERMAN)].rename(columns=GERMAN)
    frame["Datum"] = tx[s.TIMESTAMP].dt.strftime("%d.%m.%Y %H:%M:%S")
    frame["Preis"] = tx[s.UNIT_PRICE].map(german)
    frame["Menge"] = tx[s.QUANTITY].astype(int)
    frame.to_csv(path, sep=";", index=False)
    return path


def test_init_proposes_the_style_and_the_export_reads_to_the_cent(tmp_path: Path, tx):
    source = write_export(tx, tmp_path / "umsatz.csv")
    out = tmp_path / "exp.yaml"
    result = CliRunner().invoke(app, ["init", str(source), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())["data"]
    assert (data["decimal"], data["thousands"]) == (",", ".")
    assert data["column_map"]["unit_price"] == "Preis"  # named in German
    assert json.loads(result.stdout)["report"]["kept_rows"] == len(tx)
    config = DataConfig(**data).resolved(tmp_path)
    kept = load_transactions(config, with_events=False).kept
    expected = (tx[s.QUANTITY].astype(int) * tx[s.UNIT_PRICE]).sum()
    assert kept[s.REVENUE].sum() == pytest.approx(expected, rel=1e-12)


def test_thousands_alone_are_not_read_as_decimals(tmp_path: Path):
    """Every price ``1.234``: pandas would read the column as 1.234; the rule reads 1234."""
    path = tmp_path / "t.csv"
    path.write_text(
        "customer_id;order_id;item_id;timestamp;quantity;unit_price\n"
        "a;o1;i;2024-01-01;1;1.234\nb;o2;i;2024-01-02;2.000;2.500\n"
    )
    data = DataConfig(transactions=path, delimiter=";", decimal=",", thousands=".")
    kept = load_transactions(data, with_events=False).kept
    assert kept[s.REVENUE].tolist() == [1234.0, 5_000_000.0]


def test_stored_events_keep_their_numbers_under_the_files_rule(tmp_path: Path, monkeypatch):
    from kizuna.serving.event_store import EventStore

    path = tmp_path / "t.csv"
    path.write_text(
        "customer_id;order_id;item_id;timestamp;quantity;unit_price\na;o1;i;2024-01-01;1;2,50\n"
    )
    store = tmp_path / "events.sqlite"
    event = {s.CUSTOMER_ID: ["b"], s.ORDER_ID: ["e1"], s.ITEM_ID: ["i"], s.QUANTITY: [1.0]}
    event |= {s.TIMESTAMP: [pd.Timestamp("2024-01-02")], s.UNIT_PRICE: [1.25]}
    EventStore(store).append(pd.DataFrame(event))
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(store))
    data = DataConfig(transactions=path, delimiter=";", decimal=",")
    kept = load_transactions(data, experiment="any").kept
    assert kept.set_index(s.CUSTOMER_ID)[s.UNIT_PRICE].to_dict() == {"a": 2.5, "b": 1.25}


def test_items_and_customers_files_follow_the_rule(tmp_path: Path):
    items, customers = tmp_path / "items.csv", tmp_path / "customers.csv"
    items.write_text("item_id;price;margin\ni;1.000;0,3\n")
    customers.write_text("customer_id;credit;plan\na;1.500,5;gold\nb;7;basic\n")
    semicolon = {"delimiter": ";"}
    data = DataConfig(
        items=items,
        customers=customers,
        items_reading=semicolon,
        customers_reading=semicolon,
        decimal=",",
        thousands=".",
    )
    items_t, customers_t = load_tables(data)
    assert items_t.loc["i", s.PRICE] == 1000.0 and items_t.loc["i", s.MARGIN] == 0.3
    assert customers_t["credit"].tolist() == [1500.5, 7.0]


def test_init_marks_a_style_that_another_number_column_contradicts(tmp_path: Path, tx):
    source = write_export(tx, tmp_path / "umsatz.csv")
    frame = pd.read_csv(source, sep=";", dtype=str)
    frame["Menge"] = tx[s.QUANTITY].astype(float).map("{:.1f}".format)  # "2.0": a decimal dot
    frame.to_csv(source, sep=";", index=False)
    out = tmp_path / "exp.yaml"
    CliRunner().invoke(app, ["init", str(source), "--out", str(out)])
    assert "# CHECK: Menge does not read as numbers written like 1.234,5" in out.read_text()


def test_one_separator_for_both_is_refused():
    with pytest.raises(ValueError, match="decimal and thousands are both"):
        DataConfig(decimal=",", thousands=",")
