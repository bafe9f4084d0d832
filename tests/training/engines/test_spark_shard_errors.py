"""A user error raised inside a Spark shard reads as the pandas engine's one line (exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kizuna.features.errors import KizunaInputError
from kizuna.training.cli import main
from kizuna.training.engines.spark_errors import input_error_from_spark

TRANSACTIONS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "c"],
        "order_id": ["1", "2", "3", "4"],
        "item_id": ["x", "y", "x", "z"],
        "timestamp": pd.to_datetime(
            ["2021-01-05 10:00", "2021-03-01 12:00", "2021-02-01 09:00", "2021-06-30 18:00"]
        ),
        "quantity": [1.0, 2.0, 1.0, 3.0],
        "unit_price": [5.0, 2.5, 5.0, 1.0],
    }
)
# Customer "b" twice: the customers table is validated in the shard that holds "b". The
# second "b" comes after the rows the driver samples for the output schema, and most
# customers have no lines (their shards have nothing to report).
FILLER = [f"f{i:04d}" for i in range(2_500)]
CUSTOMERS = pd.DataFrame(
    {"customer_id": ["a", "b", "c", *FILLER, "b"], "region": ["n", "s", "e", *"w" * 2_500, "s"]}
)


def _spark_error(text: str) -> BaseException:
    """An exception shaped like pyspark's report of a failed Python task."""
    kind = type("PythonException", (Exception,), {"__module__": "pyspark.errors.exceptions"})
    return kind(text)


def test_the_shard_message_is_found_in_sparks_report():
    report = (
        "An exception was thrown from the Python worker.\n"
        "Traceback (most recent call last):\n"
        '  File "tables.py", line 127, in _require_unique_ids\n'
        "kizuna.features.errors.KizunaInputError: column 'customer_id': ids must be unique"
        " in the customers table (e.g. 'b')\n"
        "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException\n"
    )
    found = input_error_from_spark(RuntimeError("while writing", _spark_error(report)))
    assert found is None  # only a Spark error (or its cause) is read
    wrapped = RuntimeError("while writing")
    wrapped.__cause__ = _spark_error(report)
    found = input_error_from_spark(wrapped)
    assert isinstance(found, KizunaInputError)
    assert (
        str(found) == "column 'customer_id': ids must be unique in the customers table (e.g. 'b')"
    )
    assert input_error_from_spark(_spark_error("Traceback: MemoryError")) is None
    assert input_error_from_spark(ValueError(report)) is None  # not Spark's


def _run(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["kizuna", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.spark
def test_a_shard_error_prints_the_pandas_engines_line(spark, tmp_path: Path, monkeypatch, capsys):
    TRANSACTIONS.to_parquet(tmp_path / "tx.parquet")
    CUSTOMERS.to_parquet(tmp_path / "customers.parquet")
    data = {"transactions": str(tmp_path / "tx.parquet")}
    data["customers"] = str(tmp_path / "customers.parquet")
    config = tmp_path / "experiment.yaml"
    config.write_text(yaml.safe_dump({"name": "shard-error", "data": data}))
    lines = {}
    for engine in ("pandas", "spark"):
        out = tmp_path / engine
        args = ["features", "-c", str(config), "--as-of", "2021-06-01", "--out", str(out)]
        code, err = _run(monkeypatch, capsys, *args, "--engine", engine)
        assert code == 2, err
        assert "Traceback" not in err and "Py4J" not in err, err
        lines[engine] = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines["pandas"] == [
        "error: column 'customer_id': ids must be unique in the customers table (e.g. 'b')"
    ]
    assert lines["spark"] == lines["pandas"]
