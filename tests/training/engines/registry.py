"""Registering a saved model set in MLflow as training does: pyfunc, signature, champion alias."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from kizuna.features import schema as s
from kizuna.serving.state import load_served
from kizuna.training import tracking
from kizuna.training.artifacts import save_bundle
from kizuna.training.pyfunc import BundleModel
from kizuna.training.train_tabular import plain_example


def register_folder(folder: Path, artifacts: Path) -> None:
    """Log each bundle of ``folder`` as a pyfunc run and make it ``champion``."""
    served = load_served(str(folder), live=False)
    models = served.models
    mlflow.set_tracking_uri(tracking.tracking_uri())
    experiment = mlflow.create_experiment("spark-test", artifact_location=artifacts.as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_dict(models.experiment.model_dump(mode="json"), "config/experiment.json")
        for kind in ("recommender", "churn", "ltv"):
            bundle = getattr(models, kind)
            if kind == "recommender":
                example = pd.DataFrame({s.CUSTOMER_ID: served.state.features.index[:3].astype(str)})
                example = example.astype(object)
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
            tracking.register_version(
                info.model_uri,
                tracking.REGISTERED_NAMES[kind],
                metric_name="m",
                metric_value=1.0,
                holdout_id="spark-test",
                tags={"run_id": run.info.run_id, "experiment": models.experiment.name},
            )
