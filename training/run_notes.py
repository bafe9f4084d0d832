"""What a data scientist reads in MLflow besides metrics: why a run failed, what a version is."""

from __future__ import annotations

import traceback
from typing import Any

ERROR_TAG = "kizuna.error"
ERROR_ARTIFACT = "error.txt"
_TAG_LIMIT = 5000  # MLflow tag values are capped; the artifact holds the whole text


def note_failure(exc: BaseException) -> None:
    """Tag the active run with the error's message and log its traceback (never raises).

    Parameters
    ----------
    exc
        The error.
    """
    import mlflow

    message = f"{type(exc).__name__}: {exc}"
    text = message + "\n\n" + "".join(traceback.format_exception(exc))
    try:
        mlflow.set_tag(ERROR_TAG, message[:_TAG_LIMIT])
        mlflow.log_text(text, ERROR_ARTIFACT)
    except Exception:  # noqa: BLE001 - never hide the original error behind a logging one
        pass


def describe_version(name: str, version: int, description: str) -> None:
    """Set the description of a registered model version.

    Parameters
    ----------
    name
        The registered model name.
    version
        The version.
    description
        The text.
    """
    from mlflow import MlflowClient

    MlflowClient().update_model_version(name, str(version), description=description)


def version_description(
    kind: str, outcome: Any, fingerprint: dict[str, Any], config: Any, decision: Any
) -> str:
    """A few lines that say what a registered version is, where it came from and how it scored.

    ``outcome`` has ``metrics``, ``baselines`` and ``primary_metric``; ``config``
    is the :class:`training.config.ExperimentConfig`; ``decision`` the alias decision.

    Parameters
    ----------
    kind
        The model kind.
    outcome
        Its training outcome.
    fingerprint
        The data fingerprint.
    config
        The experiment config.
    decision
        The alias decision.

    Returns
    -------
    str
    """
    primary = outcome.primary_metric
    value = outcome.metrics.get(primary)
    lines = [
        f"kizuna {kind} model from experiment '{config.name}'"
        + (f": {config.description}" if config.description else ""),
        f"Data: {fingerprint.get('dataset_source')} ({fingerprint.get('dataset_rows')} rows, "
        f"hash {fingerprint.get('dataset_hash')}), as_of {fingerprint.get('as_of')}.",
        f"Holdout {primary}: {value:.4f}." if value is not None else f"Primary metric: {primary}.",
    ]
    for name, metrics in outcome.baselines.items():
        if primary in metrics:
            lines.append(f"Baseline {name}: {primary} {metrics[primary]:.4f}.")
    lines.append(f"Alias {decision.alias}: {decision.reason}.")
    return "\n".join(lines)
