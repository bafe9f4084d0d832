"""Online Retail scored by both engines: churn, LTV, segment and top-k of every customer.

The champions of a training run on the real data (the README's experiment,
without its hyper-parameter search, to keep the run short) score through the
pandas export (the registered snapshot) and through Spark (the data read
again, ``mlflow.pyfunc.spark_udf``). Several minutes on 2 cores: ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.features import schema as s
from tests.training.engines.test_spark_score import (
    assert_exports_match,
    pandas_export,
    spark_export,
)

pytestmark = [pytest.mark.spark, pytest.mark.dataset, pytest.mark.slow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[3]


def test_online_retail_scores_match_between_engines(
    spark, online_retail_path, tmp_path, monkeypatch
):
    from kizuna.training.config import load_experiment
    from kizuna.training.pipeline import run_experiment

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "events.sqlite"))
    config = load_experiment(ROOT / "experiments" / "online_retail.yaml")
    data = config.data.model_copy(update={"transactions": online_retail_path})
    churn = config.churn.model_copy(update={"search": None})
    config = config.model_copy(update={"data": data, "churn": churn})
    run_experiment(config, quiet=True)
    expected = pandas_export("registry")
    got = spark_export("registry", tmp_path / "crm", data, experiment=config.name)
    assert_exports_match(expected, got)
    assert len(expected) > 4_000 and expected.index.name == s.CUSTOMER_ID
