"""``kizuna score --engine spark`` writes the same export as the pandas engine.

Churn and LTV through ``mlflow.pyfunc.spark_udf`` on the registered champions,
top-k by shard with the recommender broadcast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kizuna.features import schema as s
from tests.training.engines.compare import assert_frames_match

pytestmark = pytest.mark.spark
K = 5


@pytest.fixture(scope="module")
def model_set(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.serving.conftest import build_model_set

    return build_model_set(tmp_path_factory.mktemp("spark-models") / "models")


def shop_data(model_set: Any) -> Any:
    """The data the model set's snapshot was built from, which Spark reads again."""
    from kizuna.training.config import DataConfig

    shop = model_set.shop_dir
    return DataConfig(
        transactions=shop / "transactions.parquet",
        items=shop / "items.parquet",
        customers=shop / "customers.parquet",
    )


def pandas_export(source: str, candidate_pool: int | None = None) -> pd.DataFrame:
    from kizuna.serving.live import load_served
    from kizuna.training.batch_score import score_chunks

    served = load_served(source, live=False)
    chunks = score_chunks(served, k=K, candidate_pool=candidate_pool)
    return pd.concat(chunks).set_index(s.CUSTOMER_ID)


def spark_export(
    source: str,
    out: Path,
    data: Any,
    experiment: str | None = None,
    candidate_pool: int | None = None,
) -> pd.DataFrame:
    from kizuna.training.engines.spark_score import score

    summary = score(source, out=str(out), k=K, data=data, experiment=experiment, quiet=True,
                    candidate_pool=candidate_pool)  # fmt: skip
    frame = pd.read_parquet(out).set_index(s.CUSTOMER_ID)
    assert summary["rows"] == len(frame)
    return frame


def assert_exports_match(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    got = got[expected.columns]  # the partition column comes back last
    got["segment"] = got["segment"].astype("string")
    assert_frames_match(expected, got)
    assert expected["recommendations"].str.split("|").map(len).eq(K).all()
    assert expected["churn_probability"].notna().all() and expected["predicted_value"].notna().all()


def test_folder_models_score_the_same(spark, model_set, tmp_path):
    """The pandas export reads the snapshot training wrote; Spark recomputes it from the data."""
    folder = str(model_set.folder)
    expected = pandas_export(folder)
    assert_exports_match(expected, spark_export(folder, tmp_path / "crm", shop_data(model_set)))


def test_a_candidate_pool_scores_the_same_on_both_engines(spark, model_set, tmp_path):
    """``scoring.candidate_pool``: one call on both engines, so the same lists."""
    folder = str(model_set.folder)
    expected = pandas_export(folder, candidate_pool=3)
    got = spark_export(folder, tmp_path / "crm", shop_data(model_set), candidate_pool=3)
    assert_exports_match(expected, got)


@pytest.mark.integration
def test_registry_champions_score_the_same_through_spark_udf(
    spark, model_set, tmp_path, monkeypatch
):
    from tests.training.engines.registry import register_folder

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    data = shop_data(model_set)
    register_folder(model_set.folder, data, tmp_path / "artifacts")
    expected = pandas_export("registry")
    got = spark_export("registry", tmp_path / "crm", data, experiment="spark-test")
    assert_exports_match(expected, got)


def test_score_command_with_the_spark_engine(spark, model_set, tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    data = shop_data(model_set)
    experiment = {
        "name": "spark-score",
        "data": {k: str(getattr(data, k)) for k in ("transactions", "items", "customers")},
        "split": {"as_of": "2024-04-01"},
        "engine": "spark",
    }
    config = tmp_path / "experiment.yaml"
    config.write_text(yaml.safe_dump(experiment))
    out = tmp_path / "crm"
    args = ["score", "--models", str(model_set.folder), "-c", str(config), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    written = pd.read_parquet(out)
    assert summary["rows"] == len(written) == written[s.CUSTOMER_ID].nunique()
    assert written["recommendations"].str.split("|").map(len).eq(3).all()
    assert any(out.glob("segment=*"))  # partitioned by segment


def test_score_command_on_spark_reads_the_data_the_models_record(spark, model_set, tmp_path):
    """No -c: the data of the experiment that trained the model set (its experiment.json)."""
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    out = tmp_path / "crm"
    args = ["score", "--engine", "spark", "--models", str(model_set.folder), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--k", str(K), "--json"])
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(out).set_index(s.CUSTOMER_ID)
    assert_exports_match(pandas_export(str(model_set.folder)), got)


def test_score_command_on_spark_names_what_to_pass_without_a_recorded_experiment(
    tmp_path, monkeypatch, capsys
):
    """Checked before Spark starts: no Java needed, one line, exit code 2."""
    from kizuna.serving.model_store import EXPERIMENT_FILE
    from tests.serving.conftest import build_model_set
    from tests.training.test_cli_user_errors import assert_one_line_error, run_cli

    folder = build_model_set(tmp_path / "models", n_customers=60, n_items=20).folder
    (folder / EXPERIMENT_FILE).unlink()
    args = ["score", "--engine", "spark", "--models", str(folder), "--out", str(tmp_path / "o")]
    assert_one_line_error(*run_cli(monkeypatch, capsys, *args)[::2], "-c FILE", "experiment.json")


def test_contractual_churn_scores_the_same(spark, model_set, tmp_path):
    """A churn model of the customers table: the same scores, none for customers it lacks."""
    import numpy as np

    from kizuna.features.validate import validate_transactions
    from kizuna.models.bundles import ChampionModels
    from kizuna.serving.live import load_models
    from kizuna.training.artifacts import save_champions
    from kizuna.training.config import ChurnConfig, DataConfig
    from kizuna.training.data import load_tables
    from kizuna.training.snapshot_build import write_snapshot
    from kizuna.training.train_contractual import train_contractual_churn

    shop = model_set.shop_dir
    table = pd.read_parquet(shop / "customers.parquet").iloc[:-40]  # 40 customers unknown
    rng = np.random.default_rng(3)
    table["monthly_fee"] = rng.gamma(2.0, 10.0, len(table)).round(2)
    odds = (table["monthly_fee"] > 20).astype(float) + (table["region"] == "east") * 0.8
    table["churned"] = (rng.random(len(table)) < 0.2 + 0.3 * odds / 1.8).astype(int)
    table.to_parquet(tmp_path / "customers.parquet", index=False)
    data = DataConfig(
        transactions=shop / "transactions.parquet",
        items=shop / "items.parquet",
        customers=tmp_path / "customers.parquet",
    )
    labelled = load_tables(data, label_col="churned")[1]
    config = ChurnConfig(
        mode="contractual", params={"n_estimators": 40, "num_leaves": 4, "min_child_samples": 10}
    )
    churn = train_contractual_churn(labelled, config, seed=0).bundle
    base = load_models(str(model_set.folder))
    models = ChampionModels(
        recommender=base.recommender,
        churn=churn,
        ltv=base.ltv,
        versions={"recommender": 1, "churn": 1, "ltv": 1},
    )
    folder = tmp_path / "models"
    save_champions(models, folder)
    items, customers = load_tables(data)
    tx = validate_transactions(pd.read_parquet(data.transactions)).kept
    write_snapshot(folder / "snapshot", models, tx, items=items, customers=customers)
    expected = pandas_export(str(folder))
    got = spark_export(str(folder), tmp_path / "crm", data)
    got = got[expected.columns]
    got["segment"] = got["segment"].astype("string")
    assert_frames_match(expected, got)
    unknown = ~expected.index.isin(table[s.CUSTOMER_ID])
    assert unknown.sum() > 0 and expected.loc[unknown, "churn_probability"].isna().all()
    assert expected.loc[~unknown, "churn_probability"].notna().all()
