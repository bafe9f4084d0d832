"""Bring your own data: each export shape that once needed a hand-made file trains end to end.

The heavy tests run the ``kizuna`` CLI in a subprocess (marked ``integration``):
``kizuna init`` writes the experiment file, ``kizuna train`` trains from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.training.byod_fixtures import (
    shop_transactions,
    write_churn_table,
    write_dayfirst_export,
    write_epoch_log,
)

PLOTS = {
    "churn": [
        "churn_roc.png",
        "churn_precision_recall.png",
        "churn_importance_gain.png",
        "churn_shap_summary.png",
    ],
    "ltv": ["ltv_residuals.png", "ltv_importance_gain.png", "ltv_shap_summary.png"],
}


def kizuna(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}",
        "KIZUNA_DATA_DIR": str(cwd),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kizuna.training.launch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kizuna {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def faster(path: Path) -> None:
    """Keep the generated experiment, with fewer recommender candidates to save test time."""
    config = yaml.safe_load(path.read_text())
    config["recommender"] = {
        "candidates": ["global_popularity", "personal_popularity", "item_knn_bm25"],
        "tune_weights": False,
    }
    config["churn"]["params"] = {"n_estimators": 100, "min_child_samples": 20}
    config["ltv"]["params"] = {"n_estimators": 100, "min_child_samples": 20}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def run_artifacts(store: Path, run_id: str) -> set[str]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    return {a.path for a in client.list_artifacts(run_id, "plots")}


@pytest.fixture(scope="module")
def tx():
    return shop_transactions()


@pytest.mark.integration
@pytest.mark.parametrize("shape", ["epoch_log", "dayfirst"])
def test_an_export_trains_from_init_to_registered_models(tmp_path: Path, tx, shape: str):
    if shape == "epoch_log":
        source = write_epoch_log(tx, tmp_path / "u.data")
    else:
        source = write_dayfirst_export(tx, tmp_path / "orders.csv")
    init = kizuna("init", source.name, "--out", "experiments/mine.yaml", "--json", cwd=tmp_path)
    proposal = json.loads(init.stdout)
    assert proposal["report"]["balanced"]
    text = (tmp_path / "experiments" / "mine.yaml").read_text()
    if shape == "epoch_log":
        assert "epoch: s" in text and "header: false" in text and "file_format: tsv" in text
    else:
        assert "dayfirst: true" in text
    faster(tmp_path / "experiments" / "mine.yaml")
    done = kizuna("train", "experiments/mine.yaml", "--json", cwd=tmp_path)
    result = json.loads(done.stdout)  # stdout holds only the JSON
    assert "✓" in done.stderr and "registering the model versions" in done.stderr  # progress on
    assert set(result["models"]) >= {"recommender", "churn", "ltv"}
    plots = {Path(p).name for p in run_artifacts(tmp_path, result["run_id"])}
    assert set(PLOTS["churn"] + PLOTS["ltv"]) <= plots


@pytest.mark.integration
def test_a_customers_only_churn_table_trains_with_a_configured_split(tmp_path: Path):
    write_churn_table(tmp_path / "accounts.csv")
    (tmp_path / "churn.yaml").write_text(
        "name: accounts\n"
        "data:\n"
        "  customers: accounts.csv\n"
        "  customers_column_map: {customer_id: AccountId, signup_date: Joined}\n"
        "split: {test_share: 0.25, validation_share: 0.15, by: random, seed: 7}\n"
        "recommender: {enabled: false}\nltv: {enabled: false}\n"
        "churn: {mode: contractual, label_col: Cancelled, params: {n_estimators: 100}}\n"
    )
    done = kizuna("train", "churn.yaml", "--json", cwd=tmp_path)
    result = json.loads(done.stdout)
    churn = result["models"]["churn"]
    assert churn["metrics"]["roc_auc"] > 0.7
    assert "logistic_all_attributes" in churn["baselines"]
    plots = {Path(p).name for p in run_artifacts(tmp_path, result["run_id"])}
    assert set(PLOTS["churn"]) <= plots
    quiet = kizuna("train", "churn.yaml", "--json", "--quiet", cwd=tmp_path)
    assert quiet.stderr.strip() == "" and json.loads(quiet.stdout)["models"]["churn"]
    # No purchases, so no snapshot: the champion scores the customers table itself.
    alias = result["registry"]["churn"]["alias"]
    args = ("score", "--config", "churn.yaml", "--out", "crm.csv", "--alias", alias, "--json")
    scored = json.loads(kizuna(*args, cwd=tmp_path).stdout)
    crm = pd.read_csv(tmp_path / "crm.csv")
    assert scored["rows"] == len(crm) == 1_500 and crm["customer_id"].is_unique
    assert crm["churn_probability"].between(0, 1).all()
    assert set(crm["risk_band"]) <= {"low", "medium", "high"} and crm["segment"].isna().all()


@pytest.mark.integration
def test_registered_versions_have_descriptions(tmp_path: Path):
    import mlflow

    write_churn_table(tmp_path / "accounts.csv", n=600)
    (tmp_path / "churn.yaml").write_text(
        "name: accounts\ndescription: subscription churn\n"
        "data: {customers: accounts.csv, customers_column_map: {customer_id: AccountId}}\n"
        "recommender: {enabled: false}\nltv: {enabled: false}\n"
        "churn: {mode: contractual, label_col: Cancelled, params: {n_estimators: 50}}\n"
    )
    kizuna("train", "churn.yaml", "--quiet", cwd=tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    version = mlflow.MlflowClient().get_model_version("kizuna-accounts-churn", "1")
    assert "subscription churn" in version.description and "roc_auc" in version.description
