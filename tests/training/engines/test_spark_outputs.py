"""The Spark engine's targets are checked before it starts: no folder of other files is wiped."""

from __future__ import annotations

import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.training.engines.spark_outputs import check_spark_target


@pytest.mark.parametrize(
    "target, words",
    [
        ("crm.csv", "not a .csv file"),
        ("sqlite:///crm.sqlite", "SQLAlchemy URLs"),
        ("postgresql://db/crm", "SQLAlchemy URLs"),
    ],
)
def test_targets_the_spark_engine_cannot_write_are_named(target, words):
    with pytest.raises(KizunaInputError, match=words):
        check_spark_target(target)


def test_a_folder_of_other_files_is_refused_and_a_previous_output_is_not(tmp_path):
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "mlflow.db").write_text("x")
    with pytest.raises(KizunaInputError, match=r"holds files that no Spark output made.*mlflow.db"):
        check_spark_target(str(precious))
    previous = tmp_path / "crm"
    (previous / "segment=Lost").mkdir(parents=True)
    (previous / "_SUCCESS").write_text("")
    (previous / "._SUCCESS.crc").write_text("")
    check_spark_target(str(previous))  # replaced, as a rerun should
    check_spark_target(str(tmp_path / "new"))
    check_spark_target("jdbc:postgresql://db/crm")
    (tmp_path / "f").write_text("x")
    with pytest.raises(KizunaInputError, match="is a file"):
        check_spark_target(str(tmp_path / "f"))
    with pytest.raises(KizunaInputError, match="Parquet folder, not"):
        check_spark_target("x.csv", option="--set-aside-out", jdbc=False)


def test_spark_conf_values_in_natural_yaml_are_read_as_text():
    from kizuna.training.config import SparkConfig

    conf = SparkConfig(conf={"spark.executor.cores": 4, "spark.sql.adaptive.enabled": True}).conf
    assert conf == {"spark.executor.cores": "4", "spark.sql.adaptive.enabled": "true"}


@pytest.mark.spark
def test_a_spark_that_does_not_start_is_one_line_naming_the_settings(tmp_path):
    import subprocess
    import sys

    import yaml

    (tmp_path / "t.csv").write_text(
        "customer_id,order_id,item_id,timestamp,quantity,unit_price\na,o,i,2024-01-01,1,2\n"
    )
    config = tmp_path / "x.yaml"
    spark = {"conf": {"spark.driver.memory": "lots"}, "class_archive": False}
    config.write_text(
        yaml.safe_dump({"name": "x", "data": {"transactions": "t.csv"}, "spark": spark})
    )
    done = subprocess.run(
        [sys.executable, "-m", "kizuna.training.launch", "validate", "-c", str(config)]
        + ["--engine", "spark"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Spark did not start") and "spark.driver.memory" in last


@pytest.mark.spark
def test_a_parquet_folder_whose_parts_disagree_is_one_line(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    folder = tmp_path / "lines"
    folder.mkdir()
    base = {"order_id": ["o1"], "item_id": ["i"], "timestamp": [pd.Timestamp("2024-01-01")]}
    base |= {"quantity": [1.0], "unit_price": [2.0]}
    pd.DataFrame({"customer_id": [1], **base}).to_parquet(folder / "part-0.parquet")
    pd.DataFrame({"customer_id": ["a"], **base}).to_parquet(folder / "part-1.parquet")
    done = subprocess.run(
        [sys.executable, "-m", "kizuna.training.launch", "validate", str(folder)]
        + ["--engine", "spark"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Spark cannot read the input: [FAILED_READ_FILE")
    assert "customer_id" in last and "Traceback" not in done.stderr
