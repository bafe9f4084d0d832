"""Logging and registering the customer snapshot: after ``kizuna train``, and ``kizuna snapshot``.

The registered snapshot ``kizuna-<experiment>-snapshot@champion`` is always
built for the current champion models of its experiment, from the
experiment's data plus the stored events up to a recorded ``seq``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.models.bundles import MODEL_KINDS, ChampionModels
from kizuna.serving import model_registry, model_store
from kizuna.training import registration, tracking
from kizuna.training.snapshot_build import SnapshotParts, write_snapshot, write_snapshot_parts

KINDS_TAG = "kinds"


class NoChampionError(KizunaInputError):
    """The experiment has no model under the alias asked for."""


def champion_models(
    experiment: str,
    *,
    fresh: dict[str, Any] | None = None,
    kinds: tuple[str, ...] = (),
    alias: str = registration.CHAMPION,
) -> ChampionModels:
    """The experiment's ``@alias`` models from the registry (read-only).

    ``fresh`` maps kind -> (registered version, bundle) for versions already
    in memory (the run that just registered them), which are not downloaded.

    Parameters
    ----------
    experiment
        The experiment's name.
    fresh
        Kind -> (version, bundle) already in memory, or None.
    kinds
        The kinds to load (empty: all).
    alias
        The alias to load.

    Returns
    -------
    ChampionModels
    """
    fresh = fresh or {}
    bundles: dict[str, Any] = {}
    versions: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in MODEL_KINDS:
            name = registration.registered_name(experiment, kind)
            version = registration.current_alias_version(name, alias)
            if version is None:
                bundles[kind] = None
                continue
            number = int(version.version)
            if kind in fresh and fresh[kind][0] == number:
                bundles[kind] = fresh[kind][1]
            else:
                local = model_registry.download_version(name, number, Path(tmp) / kind)
                found = sorted(local.rglob(model_store.BUNDLE_FILE))
                if not found:
                    raise KizunaInputError(f"{name} v{number} holds no kizuna bundle")
                bundles[kind] = model_store.load_bundle(found[0])
            versions[kind] = number
    if not versions:
        raise NoChampionError(
            f"experiment {experiment!r} has no @{alias} model at {tracking.tracking_uri()}: "
            "run `kizuna train` first"
        )
    return ChampionModels(**bundles, versions=versions, kinds=kinds)


def log_snapshot(
    models: ChampionModels,
    transactions: pd.DataFrame | SnapshotParts,
    *,
    config: Any,
    items: pd.DataFrame | None,
    customers: pd.DataFrame | None,
    last_event_seq: int,
    fingerprint: dict[str, Any],
    run_id: str,
    register: bool = True,
) -> tuple[dict[str, Any], registration.AliasDecision | None]:
    """Write the snapshot, log it to the active run (``snapshot/``) and register it.

    ``transactions`` are validated lines, or the parts an engine computed
    from them (:class:`training.snapshot_build.SnapshotParts`).

    Parameters
    ----------
    models
        The models the snapshot is for.
    transactions
        Validated lines, shape (n, k), or their parts.
    config
        The experiment config.
    items, customers
        The validated items and customers tables, or None.
    last_event_seq
        The last stored event line included.
    fingerprint
        The data fingerprint.
    run_id
        The active run.
    register
        Whether to register the snapshot.

    Returns
    -------
    (manifest, registry decision or None when not registered)
    """
    import mlflow

    from kizuna.training.pyfunc import SnapshotModel
    from kizuna.training.run_metadata import pip_requirements

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "snapshot"
        write = write_snapshot_parts if isinstance(transactions, SnapshotParts) else write_snapshot
        manifest = write(
            folder,
            models,
            transactions,
            items=items,
            customers=customers,
            experiment=config.name,
            last_event_seq=last_event_seq,
            fingerprint=fingerprint,
            offers=config.offers,
            run_id=run_id,
        )
        info = mlflow.pyfunc.log_model(
            name="snapshot",
            python_model=SnapshotModel(),
            artifacts={"snapshot": str(folder)},
            pip_requirements=pip_requirements(),
        )
    if not register:
        return manifest, None
    tags = {
        "experiment": config.name,
        "run_id": run_id,
        KINDS_TAG: ",".join(models.kinds),
        "last_event_seq": str(last_event_seq),
        "as_of": manifest["as_of"],
        **{f"model_{k}": str(v) for k, v in models.versions.items()},
    }
    return manifest, registration.register_snapshot(info.model_uri, config.name, tags=tags)


def trained_kinds(experiment: str) -> tuple[str, ...]:
    """The model kinds the experiment's current snapshot says it trained (empty if none).

    Parameters
    ----------
    experiment
        The experiment's name.

    Returns
    -------
    tuple of str
    """
    version = registration.current_alias_version(
        registration.registered_name(experiment, "snapshot"), registration.CHAMPION
    )
    if version is None:
        return ()
    return tuple(k for k in version.tags.get(KINDS_TAG, "").split(",") if k)


def rebuild_snapshot(
    config: Any,
    *,
    quiet: bool = False,
    engine: str = "pandas",
    spark: dict | None = None,
    master: str | None = None,
) -> dict[str, Any]:
    """``kizuna snapshot``: a new snapshot of the experiment's data for its current champions.

    Reads the data source and the stored events (once, up to a recorded
    ``seq``), writes the snapshot, logs it in a run of its own and registers
    it as ``kizuna-<experiment>-snapshot@champion``. Nothing is retrained.
    With ``engine="spark"`` the lines are read, validated and turned into
    the snapshot's parts on Spark (:mod:`training.engines.spark_snapshot`).

    Parameters
    ----------
    config
        The experiment config.
    quiet
        Whether to hide progress.
    engine
        ``"pandas"`` or ``"spark"``.
    spark
        Spark settings, or None.
    master
        The Spark master, or None.

    Returns
    -------
    dict
        The experiment, engine, run id, registered version and the snapshot's sizes and
        model versions, for the CLI.
    """
    import mlflow

    from kizuna.training.data import load_tables
    from kizuna.training.progress import step

    data = config.data
    contractual = config.churn.enabled and config.churn.mode == "contractual"
    items, customers = load_tables(data, label_col=config.churn.label_col if contractual else None)
    tracking.setup_mlflow(config.tracking.experiment_name or f"kizuna-{config.name}")
    models = champion_models(config.name, kinds=_trained_kinds(config.name))
    if engine == "spark":
        from kizuna.training.engines.spark_snapshot import prepare

        source, last_seq, fingerprint = prepare(
            data, models, items=items, customers=customers, settings=spark, master=master,
            quiet=quiet, experiment=config.name,
        )  # fmt: skip
    else:
        source, last_seq, fingerprint = _pandas_source(data, config.name, quiet=quiet)
    with mlflow.start_run(run_name=f"{config.name}-snapshot") as run:
        mlflow.set_tags({**fingerprint, "kizuna_experiment": config.name, "kizuna_job": "snapshot"})
        with step("writing and registering the customer snapshot", quiet=quiet):
            manifest, decision = log_snapshot(
                models,
                source,
                config=config,
                items=items,
                customers=customers,
                last_event_seq=last_seq,
                fingerprint=fingerprint,
                run_id=run.info.run_id,
            )
    return {
        "experiment": config.name,
        "engine": engine,
        "run_id": run.info.run_id,
        "registered": None if decision is None else f"{decision.name} v{decision.version}",
        **{k: manifest[k] for k in ("as_of", "customers", "items", "lines", "last_event_seq")},
        "model_versions": manifest["model_versions"],
    }


def _pandas_source(
    data: Any, experiment: str, *, quiet: bool
) -> tuple[pd.DataFrame, int, dict[str, Any]]:
    """The validated lines (with the experiment's stored events), the last event seq read,
    the fingerprint."""
    from kizuna.training.data import load_transactions_and_events
    from kizuna.training.snapshot_build import snapshot_as_of

    validated, last_seq = load_transactions_and_events(data, quiet=quiet, experiment=experiment)
    tx = validated.kept
    if tx.empty:
        raise KizunaInputError(f"no usable transactions in {data.transactions}")
    fingerprint = tracking.dataset_fingerprint(
        tx, source=source_name(data), as_of=snapshot_as_of(tx)
    )
    return tx, last_seq, fingerprint


def source_name(data: Any) -> str:
    """How a fingerprint names the data source: format and file name.

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).

    Returns
    -------
    str
    """
    return f"{data.format}:{Path(data.transactions).name}"


def _trained_kinds(experiment: str) -> tuple[str, ...]:
    kinds = trained_kinds(experiment)
    if kinds:
        return kinds
    for kind in MODEL_KINDS:  # the models' own tag, when no snapshot was registered yet
        version = registration.current_alias_version(
            registration.registered_name(experiment, kind), registration.CHAMPION
        )
        if version is not None and version.tags.get(KINDS_TAG):
            return tuple(k for k in version.tags[KINDS_TAG].split(",") if k)
    return ()
