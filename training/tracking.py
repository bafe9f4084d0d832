"""MLflow: the tracking store and run metadata (dataset fingerprint, git commit).

Registry writes (champion/challenger aliases) live in :mod:`training.registration`;
reading the registry lives in :mod:`serving.model_store`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.serving.model_store import data_dir, tracking_uri


def quiet_mlflow() -> None:
    """Silence MLflow's progress bars, hints and INFO lines; kizuna prints its own summary."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")


def setup_mlflow_uri() -> None:
    """Point MLflow at the tracking store (no experiment needed)."""
    import mlflow

    quiet_mlflow()
    mlflow.set_tracking_uri(tracking_uri())


def setup_mlflow(experiment_name: str) -> str:
    """Point MLflow at the store and experiment; return the experiment id.

    Parameters
    ----------
    experiment_name
        The MLflow experiment.

    Returns
    -------
    str
    """
    import mlflow

    setup_mlflow_uri()
    existing = mlflow.get_experiment_by_name(experiment_name)
    if existing is not None:
        mlflow.set_experiment(experiment_name)
        return existing.experiment_id
    artifacts = None
    if tracking_uri().startswith("sqlite:"):
        artifacts = (data_dir() / "mlartifacts").as_uri()
    experiment_id = mlflow.create_experiment(experiment_name, artifact_location=artifacts)
    mlflow.set_experiment(experiment_name)
    return experiment_id


def dataset_fingerprint(frame: pd.DataFrame, *, source: str, as_of: Any) -> dict[str, Any]:
    """Source, row count, content hash and as_of of a validated table.

    The hash covers every value in row order, so any change to the data
    gives a different fingerprint.

    Parameters
    ----------
    frame
        The validated table, shape (n, k).
    source
        How the source is named.
    as_of
        The cutoff of the read, or None.

    Returns
    -------
    dict
        ``dataset_source``, ``dataset_rows``, ``dataset_hash``, ``as_of``.
    """
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
    return {
        "dataset_source": source,
        "dataset_rows": int(len(frame)),
        "dataset_hash": digest,
        "as_of": str(pd.Timestamp(as_of).date()),
    }


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` for uncommitted changes, or ``unknown``.

    Returns
    -------
    str
    """
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")
