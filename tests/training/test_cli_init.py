"""``kizuna init``: sniffing exports and proposing a map that validates every row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kizuna.training.cli import app
from kizuna.training.config import load_experiment
from kizuna.training.data import load_transactions
from tests.training.byod_fixtures import (
    shop_transactions,
    write_dayfirst_export,
    write_epoch_log,
)


@pytest.fixture(scope="module")
def tx():
    return shop_transactions(n_customers=150)


def init(source: Path, out: Path) -> dict:
    result = CliRunner().invoke(app, ["init", str(source), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_reads_a_headerless_epoch_log(tmp_path: Path, tx):
    source = write_epoch_log(tx, tmp_path / "u.data")
    payload = init(source, tmp_path / "exp" / "mine.yaml")
    config = yaml.safe_load((tmp_path / "exp" / "mine.yaml").read_text())
    data = config["data"]
    assert data["file_format"] == "tsv" and data["header"] is False and data["epoch"] == "s"
    assert data["column_map"] == {
        "customer_id": "column_1",
        "order_id": "{column_1}-{column_4}",
        "item_id": "column_2",
        "timestamp": "column_4",
        "quantity": 1,
        "unit_price": 1,
    }
    report = payload["report"]
    assert report["balanced"] and report["input_rows"] == len(source.read_text().splitlines())
    assert report["kept_rows"] == report["input_rows"]
    as_of = config["split"]["as_of"]
    assert str(as_of) < str(tx["timestamp"].max().date())  # a horizon of data after as_of


def test_init_reads_day_first_dates_and_named_columns(tmp_path: Path, tx):
    source = write_dayfirst_export(tx, tmp_path / "orders.csv")
    payload = init(source, tmp_path / "mine.yaml")
    data = yaml.safe_load((tmp_path / "mine.yaml").read_text())["data"]
    assert data["dayfirst"] is True
    assert data["column_map"] == {
        "customer_id": "CustNo",
        "order_id": "Invoice",
        "item_id": "SKU",
        "timestamp": "Date",
        "quantity": "Qty",
        "unit_price": "Price",
    }
    assert payload["report"]["kept_rows"] == len(tx)
    assert payload["timestamp"] == "day first (31/12/2024)"


def test_init_on_a_file_that_is_not_text_names_it_in_one_line(tmp_path: Path):
    from kizuna.features.errors import KizunaInputError

    source = tmp_path / "orders.csv"
    source.write_bytes(b"customer,order\n" + bytes(range(128, 256)) * 8)
    result = CliRunner().invoke(app, ["init", str(source), "--out", str(tmp_path / "m.yaml")])
    assert isinstance(result.exception, KizunaInputError)
    assert str(result.exception).startswith(f"{source} is not UTF-8 text")
    assert "byte 0x80" in str(result.exception)


def test_init_on_the_demo_shop_validates_every_row(tmp_path: Path):
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.shop_io import write_shop

    paths = write_shop(generate_shop(ShopConfig(n_customers=150, seed=2)), tmp_path / "shop")
    payload = init(paths["transactions"], tmp_path / "shop.yaml")
    assert payload["report"]["balanced"]
    assert payload["column_map"]["customer_id"] == "customer_id"
    assert payload["column_map"]["timestamp"] == "timestamp"


@pytest.mark.dataset
def test_init_on_online_retail_accounts_for_every_row(tmp_path: Path, online_retail_path: Path):
    payload = init(online_retail_path, tmp_path / "retail.yaml")
    assert payload["column_map"] == {
        "customer_id": "CustomerID",
        "order_id": "InvoiceNo",
        "item_id": "StockCode",
        "timestamp": "InvoiceDate",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
    }
    report = payload["report"]
    assert report["input_rows"] == 541_909 and report["balanced"]
    assert report["set_aside"]["missing_customer_id"] == 135_080
    config = load_experiment(tmp_path / "retail.yaml")
    assert config.split.as_of is not None


def test_init_refuses_to_overwrite(tmp_path: Path, tx):
    source = write_epoch_log(tx, tmp_path / "u.data")
    (tmp_path / "mine.yaml").write_text("name: x\n")
    result = CliRunner().invoke(app, ["init", str(source), "--out", str(tmp_path / "mine.yaml")])
    assert result.exit_code != 0 and "--force" in str(result.exception)


def test_the_epoch_log_without_init_fails_with_the_setting_to_add(tmp_path: Path, tx):
    write_epoch_log(tx, tmp_path / "u.tsv")
    (tmp_path / "x.yaml").write_text(
        "name: x\ndata:\n  transactions: u.tsv\n  header: false\n  columns: [u, i, r, t]\n"
        "  column_map: {customer_id: u, item_id: i, timestamp: t, order_id: t, quantity: 1,"
        " unit_price: 1}\nsplit: {as_of: 1998-01-01}\n"
    )
    from kizuna.features.errors import KizunaInputError

    with pytest.raises(KizunaInputError, match="epoch: s"):
        load_transactions(load_experiment(tmp_path / "x.yaml").data, quiet=True)


def test_init_with_undecidable_day_month_writes_the_file_and_names_the_setting(tmp_path: Path):
    source = tmp_path / "orders.csv"
    source.write_text(
        "CustNo,Invoice,SKU,Date,Qty,Price\n"
        + "".join(
            f"C{i % 30},O{i},I{i % 40},{1 + i % 12:02d}/{1 + i % 11:02d}/2024,1,2.5\n"
            for i in range(300)
        )
    )
    out = tmp_path / "mine.yaml"
    result = CliRunner().invoke(app, ["init", str(source), "--out", str(out)])
    assert result.exit_code != 0 and "dayfirst: true" in str(result.exception)
    text = out.read_text()
    assert "CHECK: day and month cannot be told apart" in text and "\n  dayfirst:" not in text


@pytest.mark.dataset
def test_init_on_cdnow_aligns_columns_by_spaces_and_has_no_item(tmp_path: Path, cdnow_master_path):
    payload = init(cdnow_master_path, tmp_path / "cdnow.yaml")
    assert payload["column_map"]["item_id"] == {"value": "item"}
    assert (
        payload["column_map"]["timestamp"] == "date" and payload["timestamp"] == "format '%Y%m%d'"
    )
    assert payload["report"]["input_rows"] == 69_659 and payload["report"]["balanced"]
    config = load_experiment(tmp_path / "cdnow.yaml")
    assert not config.recommender.enabled


def test_init_reads_local_times_across_a_daylight_saving_change(tmp_path: Path, tx):
    local = tx[["customer_id", "order_id", "item_id", "quantity", "unit_price"]].copy()
    stamps = tx["timestamp"].dt.tz_localize("UTC").dt.tz_convert("Europe/London")
    local["ordered_at"] = stamps.map(lambda t: t.isoformat())  # +00:00 in winter, +01:00 in summer
    assert local["ordered_at"].str.endswith("+00:00").any()
    assert local["ordered_at"].str.endswith("+01:00").any()
    source = tmp_path / "orders.csv"
    local.to_csv(source, index=False)
    payload = init(source, tmp_path / "mine.yaml")
    data = yaml.safe_load((tmp_path / "mine.yaml").read_text())["data"]
    assert data["column_map"]["timestamp"] == "ordered_at"
    assert payload["report"]["kept_rows"] == len(tx)


def _named_export(tx):
    return tx[["customer_id", "order_id", "item_id", "timestamp", "quantity", "unit_price"]].copy()


@pytest.mark.parametrize("compression", ["zip", "zstd"])
def test_init_reads_a_compressed_export(tmp_path: Path, tx, compression):
    source = tmp_path / f"orders.csv.{'zip' if compression == 'zip' else 'zst'}"
    _named_export(tx).to_csv(source, index=False, compression=compression)
    payload = init(source, tmp_path / "mine.yaml")
    assert payload["report"]["kept_rows"] == len(tx)


def test_a_value_with_a_line_break_stays_inside_its_yaml_comment(tmp_path: Path, tx):
    export = _named_export(tx)
    export["note"] = "gift\nwrapped"
    source = tmp_path / "orders.csv"
    export.to_csv(source, index=False)
    init(source, tmp_path / "mine.yaml")
    assert load_experiment(tmp_path / "mine.yaml").name == "orders"  # the YAML parses
    assert "#   note: text, e.g. gift wrapped" in (tmp_path / "mine.yaml").read_text()


def test_a_price_named_like_a_line_total_is_marked_check(tmp_path: Path, tx):
    export = _named_export(tx).rename(columns={"unit_price": "dollar_value"})
    source = tmp_path / "orders.csv"
    export.to_csv(source, index=False)
    init(source, tmp_path / "mine.yaml")
    line = next(x for x in (tmp_path / "mine.yaml").read_text().splitlines() if "unit_price:" in x)
    assert '"dollar_value"' in line and "CHECK" in line and "`quantity: 1`" in line


def _yaml_line(path: Path, key: str) -> str:
    return next(x for x in path.read_text().splitlines() if x.strip().startswith(f"{key}:"))


def test_a_quantity_with_thousands_commas_in_a_few_cells_is_read_with_the_setting(
    tmp_path: Path, tx
):
    export = _named_export(tx).astype({"quantity": "string"})
    some = len(export) // 30  # thousands separators in 3% of the lines
    export.loc[: some - 1, "quantity"] = "1,200"
    source = tmp_path / "orders.csv"
    export.to_csv(source, index=False)
    payload = init(source, tmp_path / "mine.yaml")
    data = yaml.safe_load((tmp_path / "mine.yaml").read_text())["data"]
    # "1.0" elsewhere in the column settles it: the comma groups thousands.
    assert (data["decimal"], data["thousands"]) == (".", ",")
    assert payload["report"]["kept_rows"] == len(export)


def test_a_quantity_with_a_few_unreadable_cells_is_still_the_quantity(tmp_path: Path, tx):
    export = _named_export(tx).astype({"quantity": "string"})
    bad = len(export) // 30
    export.loc[: bad - 1, "quantity"] = "3 pcs"
    source = tmp_path / "orders.csv"
    export.to_csv(source, index=False)
    payload = init(source, tmp_path / "mine.yaml")
    line = _yaml_line(tmp_path / "mine.yaml", "quantity")
    assert '"quantity"' in line and "CHECK" in line and "'3 pcs'" in line
    assert payload["report"]["set_aside"] == {"unparseable_quantity": bad}


def test_a_written_date_wins_over_large_whole_numbers_when_no_name_says_time(tmp_path: Path, tx):
    export = pd.DataFrame(
        {
            "Kundennummer": "41000" + tx["customer_id"].str.extract(r"(\d+)")[0].str.zfill(5),
            "Bestellnummer": tx["order_id"],
            "Artikel": tx["item_id"],
            "Buchung": tx["timestamp"].dt.strftime("%Y-%m-%d %H:%M"),
            "Menge": tx["quantity"],
            "Preis": tx["unit_price"],
        }
    )
    source = tmp_path / "bestellungen.csv"
    export.to_csv(source, index=False)
    init(source, tmp_path / "mine.yaml")
    line = _yaml_line(tmp_path / "mine.yaml", "timestamp")
    assert '"Buchung"' in line and "CHECK" in line


def test_a_headerless_file_whose_first_line_holds_a_date_keeps_that_line(tmp_path: Path, tx):
    log = pd.DataFrame(
        {
            "u": "user_" + tx["customer_id"],
            "i": "sku_" + tx["item_id"],
            "d": tx["timestamp"].dt.strftime("%Y-%m-%d"),
        }
    ).drop_duplicates()
    source = tmp_path / "log.csv"
    log.to_csv(source, index=False, header=False)
    payload = init(source, tmp_path / "mine.yaml")
    assert payload["report"]["input_rows"] == len(log)


def test_init_reads_a_windows_encoded_export_and_marks_the_guess(tmp_path: Path, tx):
    export = _named_export(tx)
    export["description"] = ["Crème brûlée set" if i % 7 == 0 else "mug" for i in range(len(tx))]
    source = tmp_path / "orders.csv"
    source.write_bytes(export.to_csv(index=False).encode("cp1252"))
    payload = init(source, tmp_path / "mine.yaml")
    assert payload["report"]["kept_rows"] == len(tx)
    line = _yaml_line(tmp_path / "mine.yaml", "encoding")
    assert "cp1252" in line and "CHECK" in line
    data = load_transactions(load_experiment(tmp_path / "mine.yaml").data, quiet=True)
    assert "Crème brûlée set" in set(data.kept["description"])
