"""What ``kizuna train`` writes to MLflow after training: metrics, models, versions, snapshot."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kizuna.training import plots, registration, run_notes
from kizuna.training.artifacts import save_bundle
from kizuna.training.config import ExperimentConfig
from kizuna.training.run_metadata import kind_key, pip_requirements
from kizuna.training.search_log import log_search
from kizuna.training.selection import best_rival

if TYPE_CHECKING:
    from kizuna.training.experiment_result import ExperimentResult


def log_snapshot_for_run(
    config: ExperimentConfig,
    result: ExperimentResult,
    tx: pd.DataFrame,
    items: pd.DataFrame | None,
    customers: pd.DataFrame | None,
    last_seq: int,
    fingerprint: dict[str, Any],
) -> None:
    """The customer snapshot of this run's data, for the experiment's champions after it.

    Registered, it is built for the current champions (this run's models where
    they won, the earlier champions where they did not) and takes ``champion``;
    unregistered, it is built for this run's models and only logged.

    Parameters
    ----------
    config
        The experiment config.
    result
        The experiment's result.
    tx
        The run's validated transactions, shape (n, k).
    items, customers
        The validated items and customers tables, or None.
    last_seq
        The last stored event line the run read.
    fingerprint
        The run's data fingerprint.
    """
    from kizuna.models.bundles import MODEL_KINDS, ChampionModels
    from kizuna.training.snapshot_job import NoChampionError, champion_models, log_snapshot

    kinds = tuple(k for k in MODEL_KINDS if k in result.results)
    register = config.tracking.register_models
    if register:
        fresh = {
            k: (result.registry[k].version, result.results[k].bundle)
            for k in kinds
            if k in result.registry
        }
        try:
            models = champion_models(config.name, fresh=fresh, kinds=kinds)
        except NoChampionError:
            from kizuna.training.progress import err_console

            err_console.print(
                f"warning: no customer snapshot: no model of {config.name!r} is @champion "
                "(this run's versions did not beat their baselines on the holdout; see the "
                "registry lines), so the service has nothing to serve until one is promoted "
                "(`kizuna promote`, then `kizuna snapshot`)",
                highlight=False,
            )
            return
    else:
        models = ChampionModels(
            **{k: result.results[k].bundle if k in kinds else None for k in MODEL_KINDS},
            kinds=kinds,
        )
    _, decision = log_snapshot(
        models,
        tx,
        config=config,
        items=items,
        customers=customers,
        last_event_seq=last_seq,
        fingerprint=fingerprint,
        run_id=result.run_id,
        register=register,
    )
    if decision is not None:
        result.registry["snapshot"] = decision


def log_outcome(kind: str, outcome: Any, *, model_id: str | None = None) -> None:
    """Log one model kind's metrics, plots, search and selection to the active run.

    ``model_id`` (from :func:`log_model`) links the kind's own metrics (and
    its search's) to its logged model as well.

    Parameters
    ----------
    kind
        The model kind.
    outcome
        Its training outcome.
    model_id
        The logged model's id, or None.
    """
    import mlflow

    def metrics(values: dict[str, Any]) -> None:
        mlflow.log_metrics({k: float(v) for k, v in values.items()}, model_id=model_id)

    metrics(outcome.metrics)
    for name, values in outcome.baselines.items():
        metrics({f"baseline_{name}_{k}": v for k, v in values.items()})
    metrics(outcome.extra_metrics)
    if outcome.figures:
        with tempfile.TemporaryDirectory() as tmp:  # one artifact upload for every plot
            for filename, png in plots.to_png(outcome.figures).items():
                (Path(tmp) / filename).write_bytes(png)
            mlflow.log_artifacts(tmp, "plots")
    bundle = outcome.bundle
    for name, model in (
        ("bgnbd", getattr(bundle, "bgnbd", None)),
        ("gg", getattr(bundle, "gamma_gamma", None)),
    ):
        if model is not None and kind in ("churn", "ltv"):
            metrics({f"{name}_{k}": v for k, v in model.params_.items()})
    log_search(kind, outcome.search, model_id=model_id)
    selection = getattr(outcome, "selection", None)
    if selection is not None:
        mlflow.set_tags({f"{kind}.served": selection.served, f"{kind}.selection": selection.reason})
        metrics(
            {f"val_{kind}_{name}_{selection.metric}": v for name, v in selection.validation.items()}
        )


@dataclass(frozen=True)
class LoggedModel:
    """A model kind logged to the run: its logged model's id and URI."""

    model_id: str
    model_uri: str


def log_model(kind: str, outcome: Any) -> LoggedModel | None:
    """Log one model kind's model to the active run (not registered: :func:`register`).

    Uplift is logged as an artifact of the run, not as a model (None): the
    offer decision loads it from the run. MLflow's ``log_model`` reads back
    every metric already in the run (one query each) and copies to the new
    model those tied to no model: log a kind's model before its metrics, and
    give them its ``model_id`` (:func:`log_outcome` does).

    Parameters
    ----------
    kind
        The model kind.
    outcome
        Its training outcome.

    Returns
    -------
    LoggedModel or None
    """
    import mlflow
    from mlflow.models import infer_signature

    from kizuna.training.pyfunc import BundleModel

    bundle = outcome.bundle
    if kind == "uplift":
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifact(str(save_bundle(bundle, Path(tmp) / kind)), "uplift")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = save_bundle(bundle, Path(tmp) / kind)
        example = outcome.input_example
        output = BundleModel(kind)
        output.bundle = bundle
        signature = (
            infer_signature(example, output.predict(None, example)) if example is not None else None
        )
        info = mlflow.pyfunc.log_model(
            name=kind,
            python_model=BundleModel(kind),
            artifacts={"bundle": str(path)},
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
        )
    return LoggedModel(model_id=info.model_id, model_uri=info.model_uri)


def register(
    kind: str,
    outcome: Any,
    logged: LoggedModel,
    result: ExperimentResult,
    *,
    holdout_id: str,
    config: ExperimentConfig,
) -> None:
    """Register a logged model as a version and give it ``champion`` or ``challenger``.

    The version is promoted only if it beats its best baseline on the holdout's
    primary metric (:func:`training.registration.register_version`); the decision
    goes into ``result.registry``.

    Parameters
    ----------
    kind
        The model kind.
    outcome
        Its training outcome.
    logged
        The logged model.
    result
        The experiment's result; its ``registry`` records the decision.
    holdout_id
        Which holdout the version was judged on.
    config
        The experiment config.
    """
    selection = getattr(outcome, "selection", None)
    metric_value = outcome.metrics[outcome.primary_metric]
    decision = registration.register_version(
        logged.model_uri,
        registration.registered_name(config.name, kind),
        metric_name=outcome.primary_metric,
        metric_value=metric_value,
        holdout_id=f"{holdout_id}:{kind}:{kind_key(kind, config, result.fingerprint)}",
        higher_is_better=outcome.higher_is_better,
        tags={
            "run_id": result.run_id,
            "experiment": config.name,
            "served_model": "kizuna" if selection is None else selection.served,
            "selection": "" if selection is None else selection.reason,
            "kinds": ",".join(k for k in ("recommender", "churn", "ltv") if k in result.results),
        },
        baseline=best_rival(
            # kizuna's own models (the hybrid blend inside the two-stage model) are no rivals
            {k: v for k, v in outcome.baselines.items() if k not in getattr(outcome, "own", ())},
            metric=outcome.primary_metric,
            served="kizuna" if selection is None else selection.served,
            higher_is_better=outcome.higher_is_better,
        ),
    )
    run_notes.describe_version(
        decision.name,
        decision.version,
        run_notes.version_description(kind, outcome, result.fingerprint, config, decision),
    )
    result.registry[kind] = decision
