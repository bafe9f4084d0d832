"""MLflow: the tracking store, run metadata, and champion/challenger aliases.

This module is the only one in kizuna that talks to the MLflow registry.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CHAMPION = "champion"
CHALLENGER = "challenger"
REGISTERED_NAMES = {
    "recommender": "kizuna-recommender",
    "churn": "kizuna-churn",
    "ltv": "kizuna-ltv",
}
DATA_DIR_ENV = "KIZUNA_DATA_DIR"


def data_dir() -> Path:
    """The project data folder: ``$KIZUNA_DATA_DIR``, else ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV, "data")).resolve()


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else SQLite in the project data folder."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


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
    """Point MLflow at the store and experiment; return the experiment id."""
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
    """The checked-out commit, with ``-dirty`` for uncommitted changes, or ``unknown``."""
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


@dataclass(frozen=True)
class AliasDecision:
    """What the registry did with a new version, and why."""

    name: str
    version: int
    alias: str
    reason: str
    new_metric: float
    champion_metric: float | None = None
    champion_version: int | None = None


def decide_alias(
    new_metric: float,
    *,
    champion_metric: float | None,
    higher_is_better: bool = True,
    baseline: tuple[str, float] | None = None,
) -> tuple[str, str]:
    """Champion if it beats its best baseline and the champion (if any); else challenger.

    Parameters
    ----------
    baseline
        ``(name, metric)`` of the strongest other candidate on the same
        holdout. A version that does not strictly beat it is never promoted,
        however the champion compares.

    Returns
    -------
    (alias, reason)
    """

    def beats(a: float, b: float) -> bool:
        return a > b if higher_is_better else a < b

    if not np.isfinite(new_metric):
        return CHALLENGER, "new metric is not finite"
    if baseline is not None and np.isfinite(baseline[1]) and not beats(new_metric, baseline[1]):
        return CHALLENGER, (
            f"does not beat its baseline {baseline[0]} on the holdout "
            f"({new_metric:.4f} vs {baseline[1]:.4f}): not promoted"
        )
    if champion_metric is None or not np.isfinite(champion_metric):
        return CHAMPION, "no comparable champion"
    better = beats(new_metric, champion_metric)
    if better:
        return CHAMPION, f"beats the champion ({new_metric:.4f} vs {champion_metric:.4f})"
    return CHALLENGER, f"does not beat the champion ({new_metric:.4f} vs {champion_metric:.4f})"


def register_version(
    model_uri: str,
    name: str,
    *,
    metric_name: str,
    metric_value: float,
    holdout_id: str,
    higher_is_better: bool = True,
    tags: dict[str, str] | None = None,
    baseline: tuple[str, float] | None = None,
) -> AliasDecision:
    """Register ``model_uri`` under ``name`` and give it ``champion`` or ``challenger``.

    The comparison is on the same holdout: a champion whose ``holdout_id``
    tag differs (other data, other as_of or horizon) has no comparable
    metric, so the new version takes the champion alias and the reason says so.
    ``baseline`` (name, holdout metric) is the bar it must clear first (see
    :func:`decide_alias`).
    """
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    # register_model prints "Successfully registered ..."; kizuna reports the alias move itself.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        version = mlflow.register_model(model_uri, name)
    number = int(version.version)
    all_tags = {
        "holdout_id": holdout_id,
        "primary_metric": metric_name,
        "primary_metric_value": repr(float(metric_value)),
        **(tags or {}),
    }
    for key, value in all_tags.items():
        client.set_model_version_tag(name, str(number), key, str(value))

    champion = current_alias_version(name, CHAMPION)
    champion_metric = None
    reason_prefix = ""
    if champion is not None:
        if (
            champion.tags.get("holdout_id") == holdout_id
            and champion.tags.get("primary_metric") == metric_name
        ):
            champion_metric = float(champion.tags["primary_metric_value"])
        else:
            reason_prefix = f"champion v{champion.version} was evaluated on another holdout; "
    alias, reason = decide_alias(
        metric_value,
        champion_metric=champion_metric,
        higher_is_better=higher_is_better,
        baseline=baseline,
    )
    if alias == CHALLENGER and baseline is not None and "baseline" in reason:
        reason_prefix = ""
    client.set_model_version_tag(name, str(number), "alias_reason", reason_prefix + reason)
    client.set_registered_model_alias(name, alias, str(number))
    return AliasDecision(
        name=name,
        version=number,
        alias=alias,
        reason=reason_prefix + reason,
        new_metric=float(metric_value),
        champion_metric=champion_metric,
        champion_version=None if champion is None else int(champion.version),
    )


def current_alias_version(name: str, alias: str) -> Any | None:
    """The model version that ``name@alias`` points to, or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def promote(name: str, version: int, alias: str = CHAMPION) -> dict[str, Any]:
    """Point ``name@alias`` at ``version`` by hand; return what moved."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from kizuna.features.errors import KizunaInputError

    client = MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise KizunaInputError(f"model {name!r} has no version {version}") from None
    before = current_alias_version(name, alias)
    client.set_registered_model_alias(name, alias, str(version))
    return {
        "name": name,
        "alias": alias,
        "version": int(version),
        "previous_version": None if before is None else int(before.version),
    }


def load_champions(alias: str = CHAMPION) -> Any:
    """The model set that ``<name>@alias`` points to, from the registry at the tracking URI.

    Each registered version's bundle is downloaded once and unpickled; the
    experiment config comes from the run that produced the churn model (else
    the first model found), so the service can read the same data. Only
    champions of the experiment that registered the newest one are loaded.

    Returns
    -------
    training.artifacts.ChampionModels
        Kinds without a version under ``alias`` are None.
    """
    import tempfile

    import mlflow

    from kizuna.features.errors import KizunaInputError
    from kizuna.training.artifacts import ChampionModels, load_bundle
    from kizuna.training.config import ExperimentConfig

    setup_mlflow_uri()
    found_versions = {
        kind: current_alias_version(name, alias) for kind, name in REGISTERED_NAMES.items()
    }
    # One service serves one dataset: keep the champions trained by the same
    # experiment as the newest one, and say which others were left out.
    newest = max(
        (v for v in found_versions.values() if v is not None),
        key=lambda v: int(v.creation_timestamp),
        default=None,
    )
    home = None if newest is None else newest.tags.get("experiment")
    for kind, version in found_versions.items():
        if version is not None and version.tags.get("experiment") != home:
            logging.getLogger("kizuna").warning(
                "%s@%s (v%s) was trained by experiment %r, not %r: not served",
                REGISTERED_NAMES[kind],
                alias,
                version.version,
                version.tags.get("experiment"),
                home,
            )
            found_versions[kind] = None
    bundles: dict[str, Any] = {}
    versions: dict[str, int] = {}
    runs: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, name in REGISTERED_NAMES.items():
            version = found_versions[kind]
            if version is None:
                bundles[kind] = None
                continue
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version.version}", dst_path=f"{tmp}/{kind}"
            )
            found = sorted(Path(local).rglob("bundle.joblib"))
            if not found:
                raise KizunaInputError(f"{name} v{version.version} holds no kizuna bundle")
            bundles[kind] = load_bundle(found[0])
            versions[kind] = int(version.version)
            runs[kind] = version.run_id
        if not versions:
            raise KizunaInputError(
                f"no model has the alias @{alias} in the registry at {tracking_uri()}: "
                "run `kizuna train <experiment.yaml>` first"
            )
        run_id = runs.get("churn") or next(iter(runs.values()))
        config_path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="config/experiment.json", dst_path=f"{tmp}/config"
        )
        experiment = ExperimentConfig.model_validate_json(Path(config_path).read_text())
    return ChampionModels(**bundles, versions=versions, experiment=experiment)
