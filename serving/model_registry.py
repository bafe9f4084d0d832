"""Reading the MLflow model registry (read-only): experiments, versions, downloads.

Training registers (:mod:`training.tracking`); this module only reads, so the
service never imports training code. :func:`fetch_from_registry` copies an
experiment's models and snapshot into the folder layout that
:func:`serving.model_store.load_champions_from_folder` reads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kizuna.features.errors import KizunaInputError
from kizuna.serving.model_store import (
    BUNDLE_FILE,
    CHAMPION,
    EXPERIMENT_FILE,
    KINDS_FILE,
    NAME_PREFIX,
    REGISTRY,
    SNAPSHOT_DIR,
    SNAPSHOT_KIND,
    UNAVAILABLE_FILE,
    VERSIONS_FILE,
    read_experiment_info,
    registered_name,
    registered_names,
    tracking_uri,
)


def _client() -> Any:
    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(tracking_uri())
    return MlflowClient()


def alias_version(name: str, alias: str) -> Any | None:
    """The model version that ``name@alias`` points to.

    Parameters
    ----------
    name
        A registered model name.
    alias
        Its alias, e.g. ``champion``.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion or None
        None when the alias or the model does not exist.
    """
    from mlflow.exceptions import MlflowException

    try:
        return _client().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def registry_experiments() -> list[str]:
    """Experiments with a registered snapshot.

    Returns
    -------
    list of str
        Their names, sorted.
    """
    suffix = f"-{SNAPSHOT_KIND}"
    names = [m.name for m in _client().search_registered_models()]
    return sorted(
        n[len(NAME_PREFIX) : -len(suffix)]
        for n in names
        if n.startswith(NAME_PREFIX) and n.endswith(suffix)
    )


def resolve_experiment(experiment: str | None) -> str:
    """The experiment to serve: the one named, else the only one in the registry.

    Parameters
    ----------
    experiment
        The experiment named; None or empty: the registry's only one.

    Returns
    -------
    str
        The experiment's name.

    Raises
    ------
    KizunaInputError
        When none is registered, or several are and none was named.
    """
    found = registry_experiments()
    if experiment:
        if experiment not in found:
            listed = ", ".join(found) or "none"
            raise KizunaInputError(
                f"experiment {experiment!r} has no registered snapshot at {tracking_uri()}; "
                f"registered: {listed}"
            )
        return experiment
    if len(found) == 1:
        return found[0]
    if not found:
        raise KizunaInputError(
            f"no experiment is registered at {tracking_uri()}: run "
            "`kizuna train <experiment.yaml>` first"
        )
    raise KizunaInputError(
        f"several experiments are registered ({', '.join(found)}): choose one with "
        "--experiment NAME (KIZUNA_EXPERIMENT)"
    )


def served_experiment(source: str, experiment: str | None) -> str:
    """The experiment a service of ``source`` (``registry`` or a folder) serves.

    The one named; else the folder's ``experiment.json``; else, for the
    registry, a Bento's bundled folder's, then the registry's only one.
    Resolved once at start: the event store and contact log are the experiment's.

    Parameters
    ----------
    source
        ``registry`` or a model folder.
    experiment
        The experiment named; None or empty: found as above.

    Returns
    -------
    str
        The experiment's name.

    Raises
    ------
    KizunaInputError
        When none can be told apart (see :func:`resolve_experiment`).
    """
    if experiment:
        return experiment
    from kizuna.serving.config import BUNDLED_MODELS

    folder = Path(BUNDLED_MODELS) if source == REGISTRY else Path(source)
    if source != REGISTRY and not folder.is_dir():
        raise KizunaInputError(
            f"model folder not found: {folder} (to start before it exists, name its "
            "experiment: KIZUNA_EXPERIMENT)"
        )
    info = read_experiment_info(folder / EXPERIMENT_FILE)
    if info is not None and info.name:
        return info.name
    if source != REGISTRY:
        raise KizunaInputError(
            f"the model folder {source} names no experiment ({EXPERIMENT_FILE}): set "
            "KIZUNA_EXPERIMENT, or both KIZUNA_EVENT_STORE and KIZUNA_CONTACT_LOG"
        )
    return resolve_experiment(None)


def registry_versions(experiment: str, alias: str = CHAMPION) -> dict[str, int]:
    """Version per kind that ``<name>@alias`` names now, without loading anything.

    Parameters
    ----------
    experiment
        The experiment.
    alias
        The alias to follow.

    Returns
    -------
    dict of str to int
        Kind -> version; kinds without the alias are absent.
    """
    out = {}
    for kind, name in registered_names(experiment).items():
        version = alias_version(name, alias)
        if version is not None:
            out[kind] = int(version.version)
    return out


def download_version(name: str, version: int | str, dst: Path) -> Path:
    """Download one registered version's artifacts into ``dst``.

    Parameters
    ----------
    name
        The registered model name.
    version
        Its version.
    dst
        The folder to download into.

    Returns
    -------
    pathlib.Path
        The downloaded folder.
    """
    import mlflow

    _client()
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=str(dst)
        )
    )


def download_bundle(name: str, version: int | str, dst: Path) -> Path:
    """Download one registered model version into ``dst``.

    Parameters
    ----------
    name
        The registered model name.
    version
        Its version.
    dst
        The folder to download into.

    Returns
    -------
    pathlib.Path
        Its bundle file.

    Raises
    ------
    KizunaInputError
        When the version holds no bundle.
    """
    found = sorted(download_version(name, version, dst).rglob(BUNDLE_FILE))
    if not found:
        raise KizunaInputError(f"{name} v{version} holds no kizuna bundle")
    return found[0]


def fetch_from_registry(
    experiment: str | None,
    dst: Path,
    *,
    alias: str = CHAMPION,
    with_snapshot: bool = True,
) -> tuple[Path, str]:
    """Copy an experiment's ``@alias`` models and snapshot into a folder model set.

    The folder has the layout :func:`load_champions_from_folder` reads, so
    the registry and a folder are loaded by one code path (and a folder can
    be baked into a Bento).

    Parameters
    ----------
    experiment
        The experiment; None: the registry's only one (see :func:`resolve_experiment`).
    dst
        The folder to fill (created if absent).
    alias
        The alias to follow.
    with_snapshot
        Also copy the snapshot (and resolve ``experiment``); False: models only.

    Returns
    -------
    (folder, experiment name)
    """
    import shutil

    name = resolve_experiment(experiment) if with_snapshot else str(experiment)
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    versions: dict[str, int] = {}
    kinds: list[str] = []
    run_id = None
    for kind, reg in registered_names(name).items():
        version = alias_version(reg, alias)
        if version is None or (kind == SNAPSHOT_KIND and not with_snapshot):
            continue
        if kind == SNAPSHOT_KIND:
            local = download_version(reg, version.version, dst / f".download-{kind}")
            manifest = sorted(local.rglob("manifest.json"))
            if not manifest:
                raise KizunaInputError(f"{reg} v{version.version} holds no snapshot")
            shutil.rmtree(dst / SNAPSHOT_DIR, ignore_errors=True)
            shutil.copytree(manifest[0].parent, dst / SNAPSHOT_DIR)
            kinds = [k for k in version.tags.get("kinds", "").split(",") if k]
        else:
            (dst / kind).mkdir(exist_ok=True)
            try:
                bundle = download_bundle(reg, version.version, dst / f".download-{kind}")
            except Exception as exc:  # noqa: BLE001 - one kind's loss must not stop the others
                # The kind is served as broken (its endpoints 503, the others answer).
                cause = " ".join(str(exc).split()) or type(exc).__name__
                (dst / kind / UNAVAILABLE_FILE).write_text(
                    f"{kind} model {reg} v{version.version} cannot be read from the registry: "
                    f"{cause}\n"
                )
            else:
                shutil.copyfile(bundle, dst / kind / BUNDLE_FILE)
                run_id = run_id or version.run_id
        versions[kind] = int(version.version)
        shutil.rmtree(dst / f".download-{kind}", ignore_errors=True)
    if with_snapshot and SNAPSHOT_KIND not in versions:
        raise KizunaInputError(
            f"{registered_name(name, SNAPSHOT_KIND)} has no @{alias}: run `kizuna train` "
            "or `kizuna snapshot` for this experiment"
        )
    if run_id is not None:
        import mlflow

        config = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="config/experiment.json", dst_path=str(dst / ".config")
        )
        shutil.copyfile(config, dst / EXPERIMENT_FILE)
        shutil.rmtree(dst / ".config", ignore_errors=True)
    (dst / VERSIONS_FILE).write_text(json.dumps(versions, indent=2))
    (dst / KINDS_FILE).write_text(json.dumps(kinds))
    return dst, name
