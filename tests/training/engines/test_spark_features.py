"""``--engine spark`` validates and builds the same features as the pandas engine."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic shop, with lines for every reason to set a row aside."""
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.shop_io import write_shop

    folder = tmp_path_factory.mktemp("spark-shop")
    shop = generate_shop(
        ShopConfig(n_customers=600, n_items=80, seed=5, start="2023-01-01", end="2024-07-01")
    )
    paths = write_shop(shop, folder)
    tx = pd.read_parquet(paths["transactions"])
    bad = tx.iloc[[0, 1, 2, 3, 4, 5]].copy()
    bad[s.CUSTOMER_ID] = bad[s.CUSTOMER_ID].astype(object)
    bad.iloc[0, bad.columns.get_loc(s.CUSTOMER_ID)] = None  # missing customer
    bad.iloc[1, bad.columns.get_loc(s.CUSTOMER_ID)] = "  "  # blank customer
    bad.iloc[2, bad.columns.get_loc(s.QUANTITY)] = 0  # zero quantity
    bad.iloc[3, bad.columns.get_loc(s.UNIT_PRICE)] = -1.0  # negative price
    bad.iloc[4, bad.columns.get_loc(s.TIMESTAMP)] = pd.NaT  # no timestamp
    dupes = tx.iloc[np.arange(10, 400, 37)]  # exact repeats of earlier lines
    out = pd.concat([tx, bad, dupes], ignore_index=True)
    out[s.CUSTOMER_ID] = out[s.CUSTOMER_ID].astype("string")
    out.to_parquet(paths["transactions"])
    experiment = {
        "name": "spark-test",
        "data": {
            "transactions": str(paths["transactions"]),
            "items": str(paths["items"]),
            "customers": str(paths["customers"]),
        },
        "split": {"as_of": AS_OF},
        "engine": "spark",
    }
    (folder / "experiment.yaml").write_text(yaml.safe_dump(experiment))
    return folder


def run_features(args: list[str]) -> dict:
    import json

    result = CliRunner().invoke(app, ["features", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def test_features_match_the_pandas_engine(spark, shop, tmp_path):
    config = str(shop / "experiment.yaml")
    common = ["-c", config, "--as-of", AS_OF, "--horizon", "90"]
    expected = run_features([*common, "--engine", "pandas", "--out", str(tmp_path / "pandas")])
    got = run_features([*common, "--out", str(tmp_path / "spark")])  # engine: spark in the file
    left = assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")
    # The summary, observed on Spark while the outputs are written, is the pandas engine's.
    for key in ("customers", "feature_columns", "segments", "labelled_customers"):
        assert got[key] == expected[key], key
    assert sum(got["segments"].values()) == got["customers"] > 0
    for key in ("churn_rate", "future_value_total"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9), key
    report = left["report"]
    for reason in ("missing_customer_id", "zero_quantity", "non_positive_price", "duplicate_row"):
        assert report["set_aside"][reason] > 0, reason
    assert report["set_aside"]["missing_customer_id"] == 2
    # the 11 repeats added, and any the simulator wrote itself
    assert report["set_aside"]["duplicate_row"] >= len(np.arange(10, 400, 37))


@pytest.mark.parametrize(
    "as_of, horizon, words",
    [("2030-01-01", "90", "lies after the data"), (AS_OF, "3650", "labels over 3650 days")],
)
def test_both_engines_refuse_an_as_of_outside_the_data_alike(
    spark, shop, tmp_path, as_of, horizon, words
):
    from kizuna.features.errors import KizunaInputError

    config = str(shop / "experiment.yaml")
    errors = []
    for engine in ("pandas", "spark"):
        out = tmp_path / engine
        args = ["features", "-c", config, "--as-of", as_of, "--horizon", horizon]
        result = CliRunner().invoke(app, [*args, "--engine", engine, "--out", str(out)])
        assert isinstance(result.exception, KizunaInputError), result.output
        assert not out.exists()  # refused before anything is written
        errors.append(str(result.exception))
    assert errors[0] == errors[1] and words in errors[0] and "the data spans" in errors[0]


def test_validate_cli_prints_the_same_reconciliation(spark, shop):
    import json

    config = str(shop / "experiment.yaml")
    reports = {}
    for engine in ("pandas", "spark"):
        result = CliRunner().invoke(
            app, ["validate", "-c", config, "--as-of", AS_OF, "--engine", engine, "--json"]
        )
        assert result.exit_code == 0, result.output
        reports[engine] = json.loads(result.stdout[result.stdout.index("{") :])["report"]
    assert reports["spark"] == reports["pandas"]
    assert reports["spark"]["set_aside"]["at_or_after_as_of"] > 0
    errors = []
    for engine in ("pandas", "spark"):  # an as_of after the data: the same one line
        args = ["validate", "-c", config, "--as-of", "2030-01-01", "--engine", engine]
        errors.append(str(CliRunner().invoke(app, args).exception))
    assert errors[0] == errors[1] and "lies after the data: the data spans" in errors[0]


@pytest.mark.dataset
def test_online_retail_matches_the_pandas_engine(spark, online_retail_path, tmp_path):
    common = [
        str(online_retail_path),
        "--format",
        "online-retail",
        "--as-of",
        "2011-09-10",
        "--horizon",
        "90",
    ]
    run_features([*common, "--out", str(tmp_path / "pandas")])
    run_features([*common, "--engine", "spark", "--out", str(tmp_path / "spark")])
    left = assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")
    assert left["report"]["input_rows"] == 541_909
    assert left["report"]["set_aside"]["missing_customer_id"] == 135_080
    assert len(left["labels"]) == 3_370


def test_order_statistics_are_exact_beyond_the_driver_path(spark, monkeypatch):
    from kizuna.features.rfm_scoring import quintile_cuts, quintile_ranks
    from kizuna.training.engines import spark_stats

    rng = np.random.default_rng(0)
    values = np.round(rng.gamma(0.7, 50.0, size=5_000), 1)  # many ties
    values[:1_500] = 0.0
    frame = spark.createDataFrame(pd.DataFrame({"v": values}))
    monkeypatch.setattr(spark_stats, "DRIVER_ROWS", 0)  # force the bracketing path
    got = spark_stats.order_statistics(frame, "v", quintile_ranks(len(values)), len(values))
    np.testing.assert_array_equal(got, quintile_cuts(values))
