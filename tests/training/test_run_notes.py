"""A failed run says why, in a tag and an artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.serving.model_store import DATA_DIR_ENV
from kizuna.training import run_notes
from kizuna.training.config import load_experiment
from kizuna.training.pipeline import run_experiment
from tests.training.byod_fixtures import write_churn_table


def test_a_failed_run_records_its_error(tmp_path: Path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    write_churn_table(tmp_path / "accounts.csv", n=300)
    (tmp_path / "bad.yaml").write_text(
        "name: bad\ndata: {customers: accounts.csv, customers_column_map: {customer_id: AccountId}}\n"
        "recommender: {enabled: false}\nltv: {enabled: false}\n"
        "churn: {mode: contractual, label_col: Cancelled, params: {num_leaves: -3}}\n"
        "tracking: {experiment_name: kizuna-bad}\n"
    )
    with pytest.raises(Exception) as err:
        run_experiment(load_experiment(tmp_path / "bad.yaml"), quiet=True)
    run = mlflow.search_runs(experiment_names=["kizuna-bad"], output_format="list")[0]
    assert run.info.status == "FAILED"
    assert str(err.value)[:40] in run.data.tags[run_notes.ERROR_TAG]
    text = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{run_notes.ERROR_ARTIFACT}")
    assert "Traceback" in text and str(err.value)[:40] in text


def test_a_run_that_fails_after_churn_and_ltv_were_logged_registers_nothing(
    tmp_path: Path, monkeypatch
):
    import threading

    import mlflow

    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training import pipeline
    from kizuna.training.shop_io import write_shop

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    write_shop(generate_shop(ShopConfig(n_customers=800, seed=2)), tmp_path / "shop")
    (tmp_path / "shop.yaml").write_text(
        "name: half\ndata: {transactions: shop/transactions.parquet}\n"
        "split: {as_of: 2024-10-01, horizon_days: 90, train_snapshots: 1}\n"
        "churn: {params: {n_estimators: 50}}\nltv: {params: {n_estimators: 50}}\n"
        "tracking: {experiment_name: kizuna-half}\n"
    )
    queued = threading.Event()
    log_tabular = pipeline._log_tabular

    def logged_then_flag(results, writer):
        log_tabular(results, writer)
        queued.set()

    def failing_recommender(*args, **kwargs):
        assert queued.wait(120)  # churn and LTV trained and their logging queued
        raise RuntimeError("the recommender broke")

    monkeypatch.setattr(pipeline, "_log_tabular", logged_then_flag)
    monkeypatch.setattr("kizuna.training.train_recommender.train_recommender", failing_recommender)
    with pytest.raises(RuntimeError, match="the recommender broke"):
        run_experiment(load_experiment(tmp_path / "shop.yaml"), quiet=True)
    run = mlflow.search_runs(experiment_names=["kizuna-half"], output_format="list")[0]
    assert run.info.status == "FAILED"
    assert run.data.tags[run_notes.ERROR_TAG] == "RuntimeError: the recommender broke"
    assert mlflow.MlflowClient().search_registered_models() == []


def test_no_snapshot_when_no_model_is_champion(monkeypatch, capsys) -> None:
    # Every version of a first training lost to its baseline on the holdout: the run ends
    # with a warning and no snapshot (before: "has no @champion model: run `kizuna train`
    # first", right after that training).
    from types import SimpleNamespace

    from kizuna.training import registration, run_logging

    monkeypatch.setattr(registration, "current_alias_version", lambda name, alias: None)
    config = SimpleNamespace(name="shop", tracking=SimpleNamespace(register_models=True))
    result = SimpleNamespace(results={"ltv": object()}, registry={})
    run_logging.log_snapshot_for_run(config, result, None, None, None, 0, {})
    assert "snapshot" not in result.registry
    assert "no customer snapshot" in capsys.readouterr().err
