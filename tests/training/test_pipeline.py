"""`kizuna train` end to end on a small synthetic shop, into a throwaway MLflow store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kizuna.serving.model_store import DATA_DIR_ENV
from kizuna.simulators.synthetic import ShopConfig, generate_shop
from kizuna.training import registration, tracking
from kizuna.training.config import load_experiment
from kizuna.training.pipeline import run_experiment
from kizuna.training.shop_io import write_shop

EXPERIMENT = """
name: tiny
seed: 0
data:
  transactions: shop/transactions.parquet
  items: shop/items.parquet
  customers: shop/customers.parquet
split: {{as_of: 2024-10-01, horizon_days: 90, train_snapshots: 2}}
recommender: {{enabled: {reco}, candidates: [global_popularity, personal_popularity]}}
churn:
  params: {{num_leaves: 7, min_child_samples: 30, n_estimators: 200}}
ltv:
  params: {{base_value_col: btyd_expected_value, num_leaves: 4, min_child_samples: 30,
           n_estimators: 200}}
tracking: {{experiment_name: kizuna-test}}
"""


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("exp")
    write_shop(generate_shop(ShopConfig(n_customers=1_500, seed=1)), folder / "shop")
    return folder


@pytest.fixture()
def store(tmp_path, monkeypatch) -> Iterator[Path]:
    """A fresh store for one test; MLflow's process-wide URI is given back afterwards."""
    with _mlflow_uri_restored(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
        yield tmp_path


@pytest.fixture()
def own_store(trained, tmp_path_factory, monkeypatch) -> Iterator[Path]:
    """A copy of ``trained``'s store (a folder of its own), for a test that changes it: the
    others keep the original whatever the order they run in."""
    import shutil

    folder = tmp_path_factory.mktemp("own-store")
    shared = Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))
    shutil.copy(shared, folder / "mlflow.db")  # its artifacts stay where they are
    with _mlflow_uri_restored(f"sqlite:///{folder / 'mlflow.db'}"):
        monkeypatch.setenv(DATA_DIR_ENV, str(folder))
        yield folder


@contextmanager
def _mlflow_uri_restored(uri: str) -> Iterator[None]:
    # kizuna points MLflow at the store with mlflow.set_tracking_uri (which also sets the
    # environment variable), a process-wide setting that outlives a fixture's monkeypatch:
    # point it at ``uri``, then put back what was there before.
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)


def experiment(folder: Path, *, reco: bool = False) -> Path:
    path = folder / f"tiny_{reco}.yaml"
    path.write_text(EXPERIMENT.format(reco=str(reco).lower()))
    return path


@pytest.fixture(scope="module")
def trained(shop_dir, tmp_path_factory):
    """The same experiment run twice into one fresh store: (first, second)."""
    folder = tmp_path_factory.mktemp("store")
    with (
        _mlflow_uri_restored(f"sqlite:///{folder / 'mlflow.db'}"),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv(DATA_DIR_ENV, str(folder))
        config = load_experiment(experiment(shop_dir, reco=True))
        first = run_experiment(config, quiet=True)
        second = run_experiment(config, quiet=True)
        yield first, second


def test_train_logs_metrics_baselines_params_and_registers_champions(trained):
    import mlflow

    result, _ = trained
    run = mlflow.get_run(result.run_id)
    metrics = run.data.metrics
    for name in (
        "roc_auc",
        "pr_auc",
        "brier",
        "lift_top_decile",
        "baseline_rfm_logistic_roc_auc",
        "mae",
        "rmse",
        "spearman",
        "normalised_gini",
        "baseline_bgnbd_gamma_gamma_normalised_gini",
        "bgnbd_r",
        "bgnbd_alpha",
        "bgnbd_a",
        "bgnbd_b",
        "gg_p",
        "gg_q",
        "gg_v",
    ):
        assert name in metrics, name
    tags = run.data.tags
    assert tags["dataset_rows"] == str(result.fingerprint["dataset_rows"])
    assert len(tags["dataset_hash"]) == 16 and tags["as_of"] == "2024-10-01"
    assert tags["git_commit"]
    assert run.data.params["split.horizon_days"] == "90"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "plots")}
    assert {
        "plots/churn_roc.png",
        "plots/churn_calibration.png",
        "plots/churn_gains.png",
        "plots/ltv_decile_calibration.png",
    } <= artifacts
    assert result.registry["churn"].alias == registration.CHAMPION
    assert result.registry["ltv"].alias == registration.CHAMPION
    assert result.registry["recommender"].alias == registration.CHAMPION
    for name in (
        "ndcg_at_10",
        "new_ndcg_at_10",
        "recall_at_10",
        "map_at_10",
        "coverage",
        "baseline_personal_popularity_ndcg_at_10",
        "baseline_global_popularity_new_ndcg_at_10",
        "hybrid_item_knn_weight",
    ):
        assert name in metrics, name
    assert "plots/recommender_recall_at_k.png" in artifacts
    assert "plots/recommender_search.png" in artifacts
    client = mlflow.MlflowClient()
    searches = {a.path for a in client.list_artifacts(result.run_id, "search")}
    assert "search/recommender_search.json" in searches
    assert metrics["recommender_search_combinations"] > 100
    # The search is a table in the training run, not one run per combination.
    runs = client.search_runs([run.info.experiment_id])
    assert len(runs) == 2  # the two trainings of the `trained` fixture
    assert {"churn.served", "ltv.served", "recommender.served"} <= set(tags)
    # The churn model must beat its baseline on this shop, where behaviour carries signal.
    assert metrics["roc_auc"] > metrics["baseline_rfm_logistic_roc_auc"]


def test_same_config_and_seed_give_the_same_metrics_and_a_tie_stays_challenger(trained):
    first, second = trained
    for kind in ("recommender", "churn", "ltv"):
        assert first.results[kind].metrics == second.results[kind].metrics
        # Equal on the same holdout is not better: the champion keeps its alias.
        assert second.registry[kind].alias == registration.CHALLENGER
        assert second.registry[kind].champion_version == first.registry[kind].version


def test_registered_champion_loads_and_predicts_like_the_trained_model(trained):
    import mlflow

    outcome = trained[0].results["churn"]
    loaded = mlflow.pyfunc.load_model("models:/kizuna-tiny-churn@champion")
    example = outcome.input_example
    expected = outcome.bundle.model.predict_proba(example)[:, 1]
    got = loaded.predict(example)["churn_probability"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_champions_load_back_from_the_registry_as_one_model_set(trained):
    from kizuna.serving.live import load_models

    champions = load_models("registry")
    # The second run's models lost the tie, so its snapshot (v2) serves the v1 models.
    assert champions.versions == {"recommender": 1, "churn": 1, "ltv": 1, "snapshot": 2}
    assert champions.kinds == ("recommender", "churn", "ltv")
    assert champions.experiment.name == "tiny"
    bundle = champions.recommender
    assert bundle.history.shape == (len(bundle.user_ids), len(bundle.item_ids))
    assert bundle.purchase_rate_by_rank.shape == (10,)
    assert np.all(np.diff(bundle.purchase_rate_by_rank) <= 0.05)  # roughly falling with rank


def test_promote_moves_the_alias_by_hand(trained, own_store):
    from kizuna.features.errors import KizunaInputError

    moved = registration.promote("kizuna-tiny-churn", 2)
    assert moved == {
        "name": "kizuna-tiny-churn",
        "alias": "champion",
        "version": 2,
        "previous_version": 1,
    }
    version = registration.current_alias_version("kizuna-tiny-churn", "champion")
    assert int(version.version) == 2
    # the training's reason is replaced: it no longer says why the version was not promoted
    assert (
        version.tags["alias_reason"]
        == "champion: promoted by hand (kizuna promote, in place of v1)"
    )
    with pytest.raises(KizunaInputError, match="no version 99"):
        registration.promote("kizuna-tiny-churn", 99)
    with pytest.raises(KizunaInputError, match="no registered model 'foo': give one of"):
        registration.promote("foo", 1)
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    back = CliRunner().invoke(app, ["promote", "churn", "1", "--experiment", "tiny"])
    assert back.exit_code == 0, back.output
    assert "kizuna-tiny-churn@champion: v2 → v1" in back.output
    assert "next: kizuna snapshot EXPERIMENT.yaml" in back.output  # the snapshot is per champion


def test_contractual_churn_trains_from_a_customer_table_alone(tmp_path, store):
    rng = np.random.default_rng(0)
    n = 3_000
    tenure = rng.integers(1, 72, n)
    charges = rng.uniform(20, 120, n)
    plan = rng.choice(["month-to-month", "one year", "two year"], n)
    logit = -1.0 - 0.04 * tenure + 0.02 * charges + 1.5 * (plan == "month-to-month")
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    table = pd.DataFrame(
        {
            "CustomerID": [f"K{i:05d}" for i in range(n)],
            "Churn": np.where(churned, "Yes", "No"),
            "tenure": tenure,
            "MonthlyCharges": [f"{c:.2f}" if i % 50 else " " for i, c in enumerate(charges)],
            "Contract": plan,
            "Notes": "",
        }
    )
    table.to_csv(tmp_path / "telco.csv", index=False)
    (tmp_path / "telco.yaml").write_text(
        "name: telco\ndata:\n  customers: telco.csv\n  customers_column_map: {customer_id: CustomerID}\n"
        "split: {as_of: 2024-01-01}\nrecommender: {enabled: false}\nltv: {enabled: false}\n"
        "churn: {mode: contractual, label_col: Churn, params: {n_estimators: 200}}\n"
    )
    result = run_experiment(load_experiment(tmp_path / "telco.yaml"), quiet=True)
    churn = result.results["churn"]
    assert churn.metrics["roc_auc"] > 0.7
    assert "logistic_all_attributes" in churn.baselines
    assert result.registry["churn"].alias == registration.CHAMPION


def test_snapshot_is_registered_per_experiment_and_exports_to_a_serving_folder(
    trained, own_store, tmp_path
):
    from kizuna.serving.live import load_served
    from kizuna.serving.model_registry import fetch_from_registry, registry_experiments

    first, second = trained
    assert first.registry["snapshot"].name == "kizuna-tiny-snapshot"
    assert second.registry["snapshot"].alias == registration.CHAMPION
    assert "tiny" in registry_experiments()
    folder, name = fetch_from_registry("tiny", tmp_path / "export")
    assert name == "tiny"
    served = load_served(str(folder))
    assert served.versions == {
        kind: int(registration.current_alias_version(f"kizuna-tiny-{kind}", "champion").version)
        for kind in ("recommender", "churn", "ltv")
    }
    assert served.models.kinds == ("recommender", "churn", "ltv")
    assert served.state.n_customers > 1_000 and not served.missing_kinds
    # `kizuna export` twice into one folder: the second replaces the first, whole.
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    out = tmp_path / "cli-export"
    for _ in range(2):
        done = CliRunner().invoke(app, ["export", "--experiment", "tiny", "--out", str(out)])
        assert done.exit_code == 0, done.output
    assert load_served(str(out)).versions == served.versions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli-export", "export"]


def test_training_another_experiment_never_moves_this_ones_champions(trained, own_store, shop_dir):
    from kizuna.features.errors import KizunaInputError
    from kizuna.serving.model_registry import registry_experiments, resolve_experiment

    before = {
        kind: int(registration.current_alias_version(f"kizuna-tiny-{kind}", "champion").version)
        for kind in ("recommender", "churn", "ltv", "snapshot")
    }
    path = shop_dir / "other.yaml"
    path.write_text(EXPERIMENT.format(reco="false").replace("name: tiny", "name: other"))
    other = run_experiment(load_experiment(path), quiet=True)
    assert other.registry["churn"].name == "kizuna-other-churn"
    assert other.registry["churn"].alias == registration.CHAMPION  # its own, first champion
    after = {
        kind: int(registration.current_alias_version(f"kizuna-tiny-{kind}", "champion").version)
        for kind in before
    }
    assert after == before
    assert {"other", "tiny"} <= set(registry_experiments())
    with pytest.raises(KizunaInputError, match="several experiments are registered"):
        resolve_experiment(None)
    assert resolve_experiment("other") == "other"


def test_kizuna_snapshot_rebuilds_for_the_champions_with_stored_events_once(
    trained, own_store, shop_dir
):
    from kizuna.serving.event_checks import check_events
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.model_store import data_dir
    from kizuna.training.snapshot_job import rebuild_snapshot

    config = load_experiment(experiment(shop_dir, reco=True))
    base = rebuild_snapshot(config, quiet=True)
    store = EventStore(data_dir() / "events" / "tiny.sqlite")
    customer = "C-NEW-1"
    line = pd.DataFrame(
        {
            "customer_id": [customer, customer],
            "order_id": ["S1", "S1"],
            "item_id": ["I00001", "I00002"],
            "timestamp": [pd.Timestamp(base["as_of"]) - pd.Timedelta(hours=1)] * 2,
            "quantity": [1.0, 2.0],
            "unit_price": [3.0, 4.0],
        }
    )
    seq = int(store.append(check_events(line)).stored["seq"].max())
    # Another experiment's service and an older kizuna's shared store: neither is this shop's.
    for other in (data_dir() / "events" / "other.sqlite", data_dir() / "events.sqlite"):
        EventStore(other).append(check_events(line.assign(customer_id="C-OTHER")))
    first = rebuild_snapshot(config, quiet=True)
    assert first["last_event_seq"] == seq
    assert first["lines"] == base["lines"] + 2 and first["customers"] == base["customers"] + 1
    again = rebuild_snapshot(config, quiet=True)  # read once per rebuild, never appended twice
    assert again["lines"] == first["lines"]
    name = again["registered"].split(" v")[0]
    assert name == "kizuna-tiny-snapshot"
    champion = registration.current_alias_version(name, "champion")
    assert f"v{champion.version}" == again["registered"].split(" ")[-1]
    assert champion.tags["last_event_seq"] == str(seq)


def test_the_run_has_importance_shap_precision_recall_and_residual_plots(trained):
    import mlflow

    result, _ = trained
    tracking.setup_mlflow_uri()  # another test may have pointed MLflow at its own store
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "plots")}
    for kind in ("churn", "ltv"):
        assert f"plots/{kind}_importance_gain.png" in plots
        assert f"plots/{kind}_shap_summary.png" in plots
    assert {"plots/churn_precision_recall.png", "plots/ltv_residuals.png"} <= plots
    version = mlflow.MlflowClient().get_model_version(
        result.registry["churn"].name, result.registry["churn"].version
    )
    assert "roc_auc" in version.description and "tiny" in version.description


@pytest.mark.parametrize(
    "as_of, message",
    [
        ("2024-12-15", "labels over 90 days after split.as_of 2024-12-15 00:00:00 need data"),
        ("2030-01-01", "lies after the data: the data spans"),
    ],
)
def test_an_as_of_whose_holdout_runs_past_the_data_fails_before_training(
    shop_dir, store, as_of, message
):
    from kizuna.features.errors import KizunaInputError

    config = load_experiment(experiment(shop_dir))
    config = config.model_copy(
        update={"split": config.split.model_copy(update={"as_of": pd.Timestamp(as_of)})}
    )
    with pytest.raises(KizunaInputError, match=message):
        run_experiment(config, quiet=True)
