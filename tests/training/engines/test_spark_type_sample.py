"""Values past the rows that type a CSV column are read as pandas reads them, on Spark.

pandas reads a whole column before choosing its type; Spark's reader takes
the type of the first rows (``spark_io.TYPE_SAMPLE_ROWS``, made small here).
A ``2.5`` after whole-number quantities is a quantity on both engines, a
customers column typed as whole numbers in the first rows becomes numbers with
a fraction when a later row has one, and a column blank (or numbers) in the
first rows keeps the text that follows. Ids written ``17850.0`` are the
customer ``17850``, and pandas' missing words are missing, on both engines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kizuna.features.errors import KizunaInputError
from kizuna.training.cli import app
from kizuna.training.engines import spark_io
from kizuna.training.engines.spark_errors import input_error_from_spark
from tests.training.engines.compare import assert_outputs_match

pytestmark = pytest.mark.spark

HEADER = "customer_id,order_id,item_id,timestamp,quantity,unit_price\n"


def lines(n: int, last_quantity: str) -> str:
    rows = [
        f"c{i % 4},o{i},i{i % 3},2024-01-{1 + i % 20:02d},{1 + i % 2},{3 + i}" for i in range(n)
    ]
    rows.append(f"c1,o{n},i1,2024-01-25,{last_quantity},7")
    return HEADER + "\n".join(rows) + "\n"


@pytest.fixture
def small_sample(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(spark_io, "TYPE_SAMPLE_ROWS", 5)
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))


@pytest.mark.parametrize("late", ["2.5", "5.0", "1e1"])
def test_a_late_fraction_in_whole_number_quantities_is_kept(spark, small_sample, tmp_path, late):
    path = tmp_path / "t.csv"
    path.write_text(lines(12, late))
    reports = {}
    for engine in ("pandas", "spark"):
        result = CliRunner().invoke(app, ["validate", str(path), "--engine", engine, "--json"])
        assert result.exit_code == 0, result.output
        reports[engine] = json.loads(result.stdout)["report"]
    assert reports["spark"] == reports["pandas"]
    assert reports["spark"]["kept_rows"] == 13  # every line, the late one too
    assert reports["spark"]["set_aside"] == {}


def test_a_customers_column_with_a_late_fraction_is_numbers_on_both(spark, small_sample, tmp_path):
    (tmp_path / "t.csv").write_text(lines(40, "1"))
    ids = [f"c{i}" for i in range(4)] + [f"x{i}" for i in range(6)]
    score = ["10", "20", "30", "40", "50", "60", "70", "80", "85", "12.5"]  # c0..c3 then x0..x5
    age = [str(20 + i) for i in range(10)]  # whole numbers throughout
    pd.DataFrame({"customer_id": ids, "score": score, "age": age}).to_csv(
        tmp_path / "customers.csv", index=False
    )
    config = tmp_path / "experiment.yaml"
    data = {"transactions": str(tmp_path / "t.csv"), "customers": str(tmp_path / "customers.csv")}
    config.write_text(yaml.safe_dump({"name": "late", "data": data}))
    for engine in ("pandas", "spark"):
        args = ["features", "-c", str(config), "--as-of", "2024-01-15", "--horizon", "10"]
        args += ["--engine", engine]
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / engine), "--json"])
        assert result.exit_code == 0, result.output
    feats = assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")["features"]
    assert pd.api.types.is_float_dtype(feats["score"])
    assert feats.loc[["c0", "c3"], "score"].tolist() == [10.0, 40.0]
    assert feats.loc[["c0", "c3"], "age"].tolist() == [20, 23]


def run_both(tmp_path: Path, text: str, buyer: str = "c0") -> dict:
    # a purchase in the label window, and a later line: the window has data
    extra = "," * (text.splitlines()[0].count(",") - 5)
    path = tmp_path / "t.csv"
    later = f"{buyer},oc,i1,2024-01-20,1,2.5{extra}\nz,oz,i1,2024-01-30,1,1{extra}\n"
    path.write_text(text + later)
    config = tmp_path / "experiment.yaml"
    config.write_text(yaml.safe_dump({"name": "late", "data": {"transactions": str(path)}}))
    for engine in ("pandas", "spark"):
        args = ["features", "-c", str(config), "--as-of", "2024-01-15", "--horizon", "10"]
        args += ["--engine", engine, "--out", str(tmp_path / engine), "--json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    return assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")


def test_text_after_a_blank_or_numeric_sample_is_kept(spark, small_sample, tmp_path):
    header = HEADER.strip() + ",category,channel\n"
    rows = [f"c{i % 4},o{i},i{i % 3},2024-01-{1 + i % 12:02d},1,3," for i in range(8)]
    rows = [r + ("," if i < 6 else "home,web") for i, r in enumerate(rows)]
    rows = [r if i >= 6 else r[:-1] + ",7" for i, r in enumerate(rows)]  # channel 7 at first
    feats = run_both(tmp_path, header + "\n".join(rows) + "\n")["features"]
    # c2 and c3 bought a "home" item after the blank sample: one category each
    assert feats.loc[["c2", "c3"], "distinct_categories"].tolist() == [1, 1]


def test_float_written_ids_and_missing_words_read_alike(spark, small_sample, tmp_path):
    header = HEADER.strip() + ",category\n"
    rows = [
        "17850,o1,i1,2024-01-02,1,3,NA",
        "17850.0,o2,i2,2024-01-05,1,4,toys",
        "17851,o3,i1,2024-01-06,1,5,null",
        "17851.00,o4,i1,2024-01-08,2,5,toys",
    ]
    feats = run_both(tmp_path, header + "\n".join(rows) + "\n", buyer="17850")["features"]
    assert feats.index.tolist() == ["17850", "17851"]  # one customer each, not two
    assert feats["frequency"].tolist() == [2, 2]
    assert feats["distinct_categories"].tolist() == [1, 1]  # NA and null are missing


def test_a_header_without_the_required_names_is_one_line_on_both(spark, small_sample, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER.upper() + "c0,o0,i0,2024-01-01,1,3\n")
    errors = {}
    for engine in ("pandas", "spark"):
        result = CliRunner().invoke(app, ["validate", str(path), "--engine", engine])
        # a user error (one line from the CLI), not a KeyError deep in the Spark engine
        assert isinstance(result.exception, KizunaInputError), result.output
        errors[engine] = str(result.exception)
    assert errors["spark"] == errors["pandas"]
    assert "lacks required column" in errors["spark"]


def test_parquet_with_nanosecond_timestamps_is_one_line_on_spark(spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    when = pa.array([pd.Timestamp("2024-01-01 10:00:00.000000001")], pa.timestamp("ns"))
    table = pa.table({"customer_id": ["c"], "order_id": ["o"], "item_id": ["i"],
                      "timestamp": when, "quantity": [1], "unit_price": [2.0]})  # fmt: skip
    pq.write_table(table, tmp_path / "t.parquet", version="2.6")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "t.parquet"), "--engine", "spark"])
    found = input_error_from_spark(result.exception)  # as the CLI's main tells it: one line
    assert found is not None and "coerce_timestamps='us'" in str(found)


def test_a_folder_of_csv_files_is_refused_alike(spark, tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.csv").write_text(HEADER + "c0,o0,i0,2024-01-01,1,3\n")
    errors = {}
    for engine in ("pandas", "spark"):
        result = CliRunner().invoke(app, ["validate", str(tmp_path / "parts"), "--engine", engine])
        assert isinstance(result.exception, KizunaInputError), result.output
        errors[engine] = str(result.exception)
    assert errors["spark"] == errors["pandas"] and "no .parquet file" in errors["spark"]


def test_a_quoted_line_break_is_one_field_on_both(spark, small_sample, tmp_path):
    header = HEADER.strip() + ",category\n"
    rows = [f'c{i % 4},o{i},i{i % 3},2024-01-{1 + i:02d},1,3,"home\ngarden"' for i in range(8)]
    report = run_both(tmp_path, header + "\n".join(rows) + "\n")["report"]
    # 8 lines and run_both's 2, none split in two (a half line lacks its order id)
    assert report["input_rows"] == 10 and set(report["set_aside"]) == {"at_or_after_as_of"}


def test_a_timestamp_with_nanoseconds_is_read_on_both(spark, small_sample, tmp_path):
    # Spark keeps microseconds: the shard cuts the last three digits (Arrow refused to)
    rows = [f"c{i % 4},o{i},i{i % 3},2024-01-{1 + i:02d}T10:00:00.123456789,1,3" for i in range(8)]
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    reports = {}
    for engine in ("pandas", "spark"):  # validate hands the kept lines back to Spark
        result = CliRunner().invoke(app, ["validate", str(path), "--engine", engine, "--json"])
        assert result.exit_code == 0, result.output
        reports[engine] = json.loads(result.stdout)["report"]
    assert reports["spark"] == reports["pandas"] and reports["spark"]["kept_rows"] == 8
