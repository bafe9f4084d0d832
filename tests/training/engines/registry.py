"""Registering a saved model set in MLflow as training does: pyfunc, signature, champion
alias, and the customer snapshot (``kizuna-<experiment>-<kind>``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from kizuna.features import schema as s
from kizuna.features.validate import validate_transactions
from kizuna.serving.live import load_served
from kizuna.training import registration, tracking
from kizuna.training.artifacts import save_bundle
from kizuna.training.config import ExperimentConfig, SplitConfig
from kizuna.training.data import load_tables
from kizuna.training.pyfunc import BundleModel
from kizuna.training.snapshot_job import log_snapshot
from kizuna.training.train_tabular import plain_example

EXPERIMENT = "spark-test"


def register_folder(folder: Path, data: object, artifacts: Path) -> None:
    """Log each bundle of ``folder`` and a snapshot of ``data``; make them ``champion``."""
    served = load_served(str(folder), live=False)
    models = served.models
    mlflow.set_tracking_uri(tracking.tracking_uri())
    experiment = mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    config = ExperimentConfig(name=EXPERIMENT, data=data, split=SplitConfig(as_of="2024-04-01"))
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_dict(config.model_dump(mode="json"), "config/experiment.json")
        for kind in ("recommender", "churn", "ltv"):
            bundle = getattr(models, kind)
            if kind == "recommender":
                ids = served.state.features.index[:3].astype(str)
                example = pd.DataFrame({s.CUSTOMER_ID: ids}).astype(object)
            else:
                example = plain_example(served.state.frames[kind][bundle.feature_columns].head(5))
            model = BundleModel(kind)
            model.bundle = bundle
            with tempfile.TemporaryDirectory() as tmp:
                info = mlflow.pyfunc.log_model(
                    name=kind,
                    python_model=BundleModel(kind),
                    artifacts={"bundle": str(save_bundle(bundle, Path(tmp) / kind))},
                    signature=infer_signature(example, model.predict(None, example)),
                    pip_requirements=[],
                )
            registration.register_version(
                info.model_uri,
                registration.registered_name(EXPERIMENT, kind),
                metric_name="m",
                metric_value=1.0,
                holdout_id="spark-test",
                tags={"run_id": run.info.run_id, "experiment": EXPERIMENT,
                      "kinds": "recommender,churn,ltv"},
            )  # fmt: skip
        items, customers = load_tables(data)
        tx = validate_transactions(pd.read_parquet(data.transactions)).kept
        log_snapshot(
            models,
            tx,
            config=config,
            items=items,
            customers=customers,
            last_event_seq=0,
            fingerprint={},
            run_id=run.info.run_id,
        )
