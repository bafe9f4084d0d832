"""MLflow pyfunc wrappers around kizuna bundles, for MLflow's own tools.

``mlflow models serve`` and ``mlflow.pyfunc.load_model`` use these; the
kizuna service loads the bundle inside directly instead.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd

from kizuna.serving.model_store import load_bundle


class BundleModel(mlflow.pyfunc.PythonModel):
    """Pyfunc over a churn, LTV or recommender bundle.

    Input and output by kind:

    * ``churn``: feature rows -> ``churn_probability`` per row;
    * ``ltv``: feature rows -> ``predicted_value`` per row;
    * ``recommender``: a ``customer_id`` column -> ``items`` (comma-joined
      top-k item ids, k from the ``k`` param, default 10) per row.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.bundle: Any = None

    def load_context(self, context: Any) -> None:
        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> Any:
        if self.kind == "churn":
            proba = self.bundle.model.predict_proba(model_input[self.bundle.feature_columns])
            return pd.DataFrame({"churn_probability": proba[:, 1]})
        if self.kind == "ltv":
            value = self.bundle.model.predict(model_input[self.bundle.feature_columns])
            return pd.DataFrame({"predicted_value": value})
        return self._recommend(model_input, int((params or {}).get("k", 10)))

    def _recommend(self, model_input: pd.DataFrame, k: int) -> pd.DataFrame:
        bundle = self.bundle
        codes = bundle.user_ids.get_indexer(model_input["customer_id"].astype(str))
        known = codes >= 0
        out = np.full(len(codes), "", dtype=object)
        if known.any():
            history = bundle.history[codes[known]]
            items, _ = bundle.model.recommend(codes[known], history, k=k, exclude_seen=False)
            names = bundle.item_ids.to_numpy()
            out[known] = [",".join(names[row[row >= 0]]) for row in items]
        return pd.DataFrame({"items": out})


class SnapshotModel(mlflow.pyfunc.PythonModel):
    """Pyfunc over a customer snapshot folder (artifact ``snapshot``).

    It exists so the snapshot is a registered model with aliases like the
    models it serves; ``predict`` returns the feature rows of the
    ``customer_id`` column's customers (unknown ids get no row).
    """

    def load_context(self, context: Any) -> None:
        self.folder = context.artifacts["snapshot"]

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> Any:
        from pathlib import Path

        features = pd.read_parquet(Path(self.folder) / "features.parquet")
        ids = model_input["customer_id"].astype(str)
        return features.loc[features.index.intersection(ids)].reset_index()
