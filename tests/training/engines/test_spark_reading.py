"""The experiment's reading settings and the stored ``/events`` apply on Spark as in pandas.

A "bring your own data" export (another delimiter, a column map, day/month
dates, no header, JSON lines, an unnamed compression) gives the same
reconciliation, features and labels on both engines; so do purchases the
service stored after the data was exported.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kizuna.features import schema as s
from kizuna.training.cli import app
from tests.training.engines.compare import assert_outputs_match

pytestmark = pytest.mark.spark
AS_OF = "2024-04-01"
RENAMED = {
    s.CUSTOMER_ID: "Kunde",
    s.ORDER_ID: "Beleg",
    s.ITEM_ID: "Artikel",
    s.TIMESTAMP: "Datum",
    s.QUANTITY: "Menge",
    s.UNIT_PRICE: "Preis",
}


@pytest.fixture(scope="module")
def shop_lines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.shop_io import write_shop

    folder = tmp_path_factory.mktemp("spark-byod")
    shop = generate_shop(
        ShopConfig(n_customers=300, n_items=50, seed=11, start="2023-01-01", end="2024-07-01")
    )
    paths = write_shop(shop, folder)
    return folder, pd.read_parquet(paths["transactions"])


def export(tx: pd.DataFrame, folder: Path, kind: str) -> dict[str, Any]:
    """Write the shop's lines as a user's export; return the experiment's ``data:``."""
    frame = tx[list(RENAMED)].rename(columns=RENAMED)
    column_map = {k: v for k, v in RENAMED.items()}
    if kind == "semicolon-dayfirst":
        # Day/month dates that the data settles (days above 12 occur), not declared.
        frame["Datum"] = tx[s.TIMESTAMP].dt.strftime("%d/%m/%Y %H:%M:%S")
        path = folder / "export.dat"
        frame.to_csv(path, sep=";", index=False)
        return {"file_format": "csv", "delimiter": ";", "column_map": column_map} | _path(path)
    if kind == "headerless-gzip":
        frame["Datum"] = tx[s.TIMESTAMP].dt.strftime("%d.%m.%Y %H:%M:%S")
        path = folder / "export.txt"  # gzip content, a name that does not say so
        with gzip.open(path, "wt") as fh:
            frame.to_csv(fh, sep="\t", index=False, header=False)
        return {
            "file_format": "tsv",
            "header": False,
            "columns": list(frame.columns),
            "timestamp_format": "%d.%m.%Y %H:%M:%S",
            "column_map": column_map,
        } | _path(path)
    if kind == "cp1252":
        # Excel's Windows encoding, declared: accented ids read the same on both engines.
        who = RENAMED[s.CUSTOMER_ID]
        frame[who] = "Zoë-" + frame[who].astype(str)
        frame["Datum"] = tx[s.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S")
        path = folder / "export.csv"
        path.write_bytes(frame.to_csv(index=False).encode("cp1252"))
        return {"encoding": "cp1252", "column_map": column_map} | _path(path)
    if kind == "utf-16":
        # Spark's line reader would split it on a newline's byte: read on the driver
        frame["Datum"] = tx[s.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S")
        path = folder / "export.csv"
        path.write_bytes(frame.to_csv(index=False).encode("utf-16"))
        return {"encoding": "utf-16", "column_map": column_map} | _path(path)
    if kind == "decimal-comma":
        # A German export: 1.234,50 (prices past a thousand have a grouping dot).
        frame["Datum"] = tx[s.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S")
        price = (tx[s.UNIT_PRICE] + np.where(np.arange(len(tx)) % 5 == 0, 1000, 0)).round(2)
        frame["Preis"] = price.map(german)
        frame["Menge"] = tx[s.QUANTITY].astype(int)
        path = folder / "umsatz.csv"
        frame.to_csv(path, sep=";", index=False)
        numbers = {"decimal": ",", "thousands": "."}
        return {"delimiter": ";", "column_map": column_map} | numbers | _path(path)
    if kind == "jsonl-epoch":
        frame["Datum"] = (tx[s.TIMESTAMP] - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
        path = folder / "export.jsonl"
        frame.to_json(path, orient="records", lines=True)
        return {"epoch": "s", "column_map": column_map} | _path(path)
    raise AssertionError(kind)


def german(value: float) -> str:
    """``1234.5`` as ``1.234,50``."""
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _path(path: Path) -> dict[str, str]:
    return {"transactions": str(path)}


def run_features(config: Path, out: Path, engine: str) -> None:
    args = ["features", "-c", str(config), "--as-of", AS_OF, "--horizon", "60"]
    result = CliRunner().invoke(app, [*args, "--engine", engine, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output


def write_experiment(folder: Path, data: dict[str, Any]) -> Path:
    config = folder / "experiment.yaml"
    config.write_text(yaml.safe_dump({"name": "byod", "data": data, "split": {"as_of": AS_OF}}))
    return config


KINDS = [
    "semicolon-dayfirst", "headerless-gzip", "jsonl-epoch", "cp1252", "utf-16", "decimal-comma"
]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_reading_settings_apply_on_spark(spark, shop_lines, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))
    _, tx = shop_lines
    config = write_experiment(tmp_path, export(tx, tmp_path, kind))
    run_features(config, tmp_path / "pandas", "pandas")
    run_features(config, tmp_path / "spark", "spark")
    left = assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")
    assert left["report"]["kept_rows"] > 0.9 * len(tx)
    if kind == "cp1252":
        assert left["features"].index.str.startswith("Zoë-").all()


def test_the_spark_reader_gives_the_pandas_frame(spark, shop_lines, tmp_path):
    """The raw frame itself: same columns, order, types' values, for a semicolon export."""
    from kizuna.training.config import DataConfig
    from kizuna.training.data import read_transactions
    from kizuna.training.engines.spark_io import ROW, read_raw
    from kizuna.training.file_kinds import reading_options

    _, tx = shop_lines
    data = DataConfig(**export(tx, tmp_path, "semicolon-dayfirst"))
    expected = read_transactions(
        data.transactions, column_map=data.column_map, reading=reading_options(data)
    ).frame
    raw = read_raw(spark, data, with_events=False)
    got = raw.adapter(raw.frame.orderBy(ROW).drop(ROW).toPandas())
    assert raw.validate_kwargs["timestamp_rule"].dayfirst is True  # settled by the whole column
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got.astype("string"), expected.astype("string"))


def test_undecidable_day_month_order_is_refused_on_spark(spark, tmp_path):
    from kizuna.features.errors import KizunaInputError
    from kizuna.training.config import DataConfig
    from kizuna.training.engines.spark_io import read_raw

    path = tmp_path / "both.csv"
    pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "b"],
            s.ORDER_ID: ["1", "2"],
            s.ITEM_ID: ["x", "y"],
            s.TIMESTAMP: ["13/02/2024", "02/13/2024"],
            s.QUANTITY: [1, 1],
            s.UNIT_PRICE: [2.0, 3.0],
        }
    ).to_csv(path, index=False)
    with pytest.raises(KizunaInputError, match="dayfirst"):
        read_raw(spark, DataConfig(transactions=path), with_events=False)


def stored_events(store: Path, tx: pd.DataFrame) -> int:
    """Purchases the service stored: an existing customer's, a new customer's, a repeat, and
    one the order log also has (the last: set aside as a duplicate by both engines)."""
    from kizuna.serving.event_store import EventStore

    known, logged = tx.iloc[5], tx.iloc[7]
    lines = pd.DataFrame(
        {
            s.CUSTOMER_ID: [str(known[s.CUSTOMER_ID]), "NEW-1", "NEW-1", "NEW-2"],
            s.ORDER_ID: ["e1", "e2", "e2", "e3"],
            s.ITEM_ID: [str(known[s.ITEM_ID]), str(tx.iloc[9][s.ITEM_ID]), "I-x", "I-y"],
            s.TIMESTAMP: pd.to_datetime(
                ["2024-03-20 10:00:00.250", "2024-03-21 11:00", "2024-03-21 11:00", "2024-05-02"],
                format="ISO8601",
            ),
            s.QUANTITY: [2.0, 1.0, 3.0, 1.0],
            s.UNIT_PRICE: [9.5, 4.0, 1.25, 8.0],
            s.CHANNEL: ["app", None, "web", "web"],
            s.CATEGORY: [None, "toys", None, "books"],
        }
    )
    again = {c: [logged[c]] for c in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.QUANTITY)}
    again.update({s.TIMESTAMP: [logged[s.TIMESTAMP]], s.UNIT_PRICE: [logged[s.UNIT_PRICE]]})
    lines = pd.concat([lines, pd.DataFrame(again)], ignore_index=True)
    store_ = EventStore(store)
    store_.append(lines)
    store_.close()
    return len(lines)


def test_stored_events_are_appended_on_spark(spark, shop_lines, tmp_path, monkeypatch):
    from kizuna.training.config import DataConfig
    from kizuna.training.engines.spark_io import read_raw

    folder, tx = shop_lines
    store = tmp_path / "events.sqlite"
    n = stored_events(store, tx)
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(store))
    data = {"transactions": str(folder / "transactions.parquet")}
    config = write_experiment(tmp_path, data)
    run_features(config, tmp_path / "pandas", "pandas")
    run_features(config, tmp_path / "spark", "spark")
    left = assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")
    assert left["report"]["input_rows"] == len(tx) + n
    aside = left["set_aside"]
    last = aside[aside["row_id"].astype(int) == len(tx) + n - 1]  # the event the log has
    assert last["reason"].tolist() == ["duplicate_row"]
    assert "NEW-1" in left["features"].index
    raw = read_raw(spark, DataConfig(**data), experiment="any")
    assert raw.last_event_seq == n


def test_a_decimal_comma_export_with_customers_and_events_matches(
    spark, shop_lines, tmp_path, monkeypatch
):
    """Customers' attributes under the rule (decided over the whole table, not per shard),
    and stored events' JSON numbers beside the file's text, as on pandas."""
    _, tx = shop_lines
    data = export(tx, tmp_path, "decimal-comma")
    ids = tx[s.CUSTOMER_ID].astype(str).drop_duplicates().sort_values()
    credit = [german(1000.5 + i) if i % 3 else str(i) for i in range(len(ids))]
    customers = pd.DataFrame({"Kunde": ids, "credit": credit, "zip": "0" + ids.str[-4:]})
    customers.to_csv(tmp_path / "kunden.csv", sep=";", index=False)
    data |= {
        "customers": str(tmp_path / "kunden.csv"),
        "customers_reading": {"delimiter": ";"},
        "customers_column_map": {s.CUSTOMER_ID: "Kunde"},
    }
    store = tmp_path / "events.sqlite"
    stored_events(store, tx)
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(store))
    config = write_experiment(tmp_path, data)
    run_features(config, tmp_path / "pandas", "pandas")
    run_features(config, tmp_path / "spark", "spark")
    left = assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")
    feats = left["features"]
    assert pd.api.types.is_float_dtype(feats["credit"]) and feats["credit"].max() > 1000
    assert not pd.api.types.is_numeric_dtype(feats["zip"])  # codes with a leading zero
    assert "NEW-1" in feats.index  # a stored event's customer


def test_missing_words_as_ids_are_kept_on_both_engines(spark, tmp_path, monkeypatch):
    """``NA``, ``NULL``, ``nan`` are ids as Spark reads them; the pandas engine agrees."""
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))
    path = tmp_path / "t.csv"
    path.write_text(
        "customer_id,order_id,item_id,timestamp,quantity,unit_price\n"
        "NA,o1,NULL,2024-01-01,1,2.5\nb,o2,i,2024-01-02,1,NULL\n,o3,N/A,2024-01-03,1,1\n"
    )
    reports = {}
    for engine in ("pandas", "spark"):
        args = ["validate", str(path), "--engine", engine, "--json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        reports[engine] = json.loads(result.stdout)["report"]
    assert reports["pandas"] == reports["spark"]
    assert reports["pandas"]["kept_rows"] == 1  # NA's line; b's price and a blank id are missing
    assert reports["pandas"]["set_aside"] == {"missing_customer_id": 1, "unparseable_price": 1}
