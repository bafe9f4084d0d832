"""Values past the rows that type a CSV column are read as pandas reads them, on Spark.

pandas reads a whole column before choosing its type; Spark's reader takes
the type of the first rows (``spark_io.TYPE_SAMPLE_ROWS``, made small here).
A ``2.5`` after whole-number quantities is a quantity on both engines, and a
customers column typed as whole numbers in the first rows becomes numbers with
a fraction when a later row has one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kizuna.training.cli import app
from kizuna.training.engines import spark_io
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
