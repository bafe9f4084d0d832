"""MLflow registry writes: new versions, champion/challenger aliases, promotion.

Registered names carry the experiment (``kizuna-<experiment>-<kind>``, see
:func:`serving.model_store.registered_name`), so training one experiment never
moves another's champion. Reading the registry lives in :mod:`serving.model_store`.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from kizuna.serving.model_registry import alias_version
from kizuna.serving.model_store import CHAMPION, registered_name

CHALLENGER = "challenger"


@dataclass(frozen=True)
class AliasDecision:
    """What the registry did with a new version, and why."""

    name: str
    version: int
    alias: str
    reason: str
    new_metric: float | None  # None for a snapshot: it has no metric
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
    new_metric
        The new version's holdout metric.
    champion_metric
        The champion's, on the same holdout; None without a comparable champion.
    higher_is_better
        The metric's direction.

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

    Parameters
    ----------
    model_uri
        The logged model.
    name
        The registered model name.
    metric_name, metric_value
        The holdout's primary metric and the model's value of it.
    holdout_id
        Which holdout the value was measured on.
    higher_is_better
        The metric's direction.
    tags
        Version tags, or None.
    baseline
        ``(name, holdout metric)`` of the best baseline, or None.

    Returns
    -------
    AliasDecision
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
    """The model version that ``name@alias`` points to, or None.

    Parameters
    ----------
    name
        The registered model name.
    alias
        The alias.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion or None
    """
    return alias_version(name, alias)


def promote(name: str, version: int, alias: str = CHAMPION) -> dict[str, Any]:
    """Point ``name@alias`` at ``version`` by hand; return what moved.

    Parameters
    ----------
    name
        The registered model name.
    version
        The version to point at.
    alias
        The alias to move.

    Returns
    -------
    dict
        ``name``, ``alias``, ``version`` and ``previous_version`` (None if none).
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from kizuna.features.errors import KizunaInputError

    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        from kizuna.serving.model_store import REGISTERED_KINDS

        raise KizunaInputError(
            f"no registered model {name!r}: give one of {', '.join(REGISTERED_KINDS)} "
            "(with --experiment), or a registered name such as kizuna-<experiment>-ltv"
        ) from None
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise KizunaInputError(f"model {name!r} has no version {version}") from None
    before = current_alias_version(name, alias)
    client.set_registered_model_alias(name, alias, str(version))
    # The training's reason (say "does not beat the champion") no longer holds: say who moved it.
    was = "" if before is None else f", in place of v{before.version}"
    client.set_model_version_tag(
        name, str(version), "alias_reason", f"{alias}: promoted by hand (kizuna promote{was})"
    )
    return {
        "name": name,
        "alias": alias,
        "version": int(version),
        "previous_version": None if before is None else int(before.version),
    }


def register_snapshot(
    model_uri: str, experiment: str, *, alias: str = CHAMPION, tags: dict[str, str] | None = None
) -> AliasDecision:
    """Register a customer snapshot as ``kizuna-<experiment>-snapshot`` and move ``alias``.

    A snapshot is built for the current champion models, so it takes the
    ``champion`` alias itself (no metric to compare).

    Parameters
    ----------
    model_uri
        The logged snapshot.
    experiment
        The experiment's name.
    alias
        The alias to move.
    tags
        Version tags, or None.

    Returns
    -------
    AliasDecision
    """
    import mlflow
    from mlflow import MlflowClient

    name = registered_name(experiment, "snapshot")
    client = MlflowClient()
    before = current_alias_version(name, alias)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        version = mlflow.register_model(model_uri, name)
    number = int(version.version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, str(number), key, str(value))
    client.set_registered_model_alias(name, alias, str(number))
    return AliasDecision(
        name=name,
        version=number,
        alias=alias,
        reason="built for the current champions",
        new_metric=None,
        champion_version=None if before is None else int(before.version),
    )
