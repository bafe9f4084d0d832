"""``kizuna score --engine spark`` writes the same export as the pandas engine.

Churn and LTV through ``mlflow.pyfunc.spark_udf`` on the registered champions,
top-k by shard with the recommender broadcast.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kizuna.features import schema as s
from tests.training.engines.compare import assert_frames_match

pytestmark = pytest.mark.spark
K = 5


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.serving.conftest import build_model_set

    return build_model_set(tmp_path_factory.mktemp("spark-models") / "models").folder


def pandas_export(source: str) -> pd.DataFrame:
    from kizuna.serving.state import load_served
    from kizuna.training.batch_score import score_chunks

    served = load_served(source, live=False)
    return pd.concat(score_chunks(served, k=K)).set_index(s.CUSTOMER_ID)


def spark_export(source: str, out: Path) -> pd.DataFrame:
    from kizuna.training.engines.spark_score import score

    summary = score(source, out=str(out), k=K, quiet=True)
    frame = pd.read_parquet(out).set_index(s.CUSTOMER_ID)
    assert summary["rows"] == len(frame)
    return frame


def assert_exports_match(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    got = got[expected.columns]  # the partition column comes back last
    got["segment"] = got["segment"].astype("string")
    assert_frames_match(expected, got)
    assert expected["recommendations"].str.split("|").map(len).eq(K).all()
    assert expected["churn_probability"].notna().all() and expected["predicted_value"].notna().all()


def test_folder_models_score_the_same(spark, model_folder, tmp_path):
    assert_exports_match(
        pandas_export(str(model_folder)), spark_export(str(model_folder), tmp_path / "crm")
    )


@pytest.mark.integration
def test_registry_champions_score_the_same_through_spark_udf(
    spark, model_folder, tmp_path, monkeypatch
):
    from tests.training.engines.registry import register_folder

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    register_folder(model_folder, tmp_path / "artifacts")
    assert_exports_match(pandas_export("registry"), spark_export("registry", tmp_path / "crm"))


def test_score_command_with_the_spark_engine(spark, model_folder, tmp_path):
    import json

    from typer.testing import CliRunner

    from kizuna.training.cli import app

    out = tmp_path / "crm"
    args = ["score", "--models", str(model_folder), "--engine", "spark", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    written = pd.read_parquet(out)
    assert summary["rows"] == len(written) == written[s.CUSTOMER_ID].nunique()
    assert written["recommendations"].str.split("|").map(len).eq(3).all()
    assert any(out.glob("segment=*"))  # partitioned by segment
