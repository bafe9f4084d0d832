"""Reading model sets from a local folder, and where they live (data folder, registry names).

Training writes (:mod:`training.artifacts`, :mod:`training.tracking`); this
module only reads, so the service never imports training code.

Registered names carry the experiment: ``kizuna-<experiment>-recommender``,
``-churn``, ``-ltv`` and ``-snapshot`` (the customer snapshot the service
answers from). A folder holds ``<kind>/bundle.joblib`` per model,
``versions.json``, ``experiment.json`` and ``snapshot/``. Reading the
registry is :mod:`serving.model_registry`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import joblib

from kizuna.features.errors import KizunaInputError
from kizuna.models.bundles import MODEL_KINDS, ChampionModels, ExperimentInfo

BUNDLE_FILE = "bundle.joblib"
EXPERIMENT_FILE = "experiment.json"
VERSIONS_FILE = "versions.json"
#: In a kind's folder of a model set, instead of its bundle: why the registry could not give it.
UNAVAILABLE_FILE = "unavailable.txt"
KINDS_FILE = "kinds.json"
SNAPSHOT_DIR = "snapshot"
SNAPSHOT_KIND = "snapshot"
REGISTRY = "registry"
CHAMPION = "champion"
DATA_DIR_ENV = "KIZUNA_DATA_DIR"
NAME_PREFIX = "kizuna-"
#: Registered kinds: the three models and the customer snapshot.
REGISTERED_KINDS = (*MODEL_KINDS, SNAPSHOT_KIND)

logger = logging.getLogger("kizuna")


def data_dir() -> Path:
    """The project data folder: ``$KIZUNA_DATA_DIR``, else ``./data``.

    Returns
    -------
    pathlib.Path
        Absolute.
    """
    return Path(os.environ.get(DATA_DIR_ENV, "data")).resolve()


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else SQLite in the project data folder.

    Returns
    -------
    str
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def registered_name(experiment: str, kind: str) -> str:
    """``kizuna-<experiment>-<kind>``: one registry entry per experiment and kind.

    Parameters
    ----------
    experiment
        The experiment.
    kind
        One of :data:`REGISTERED_KINDS`.

    Returns
    -------
    str

    Raises
    ------
    KizunaInputError
        For another kind.
    """
    if kind not in REGISTERED_KINDS:
        raise KizunaInputError(f"unknown model kind {kind!r}; expected one of {REGISTERED_KINDS}")
    return f"{NAME_PREFIX}{experiment}-{kind}"


def registered_names(experiment: str) -> dict[str, str]:
    """Kind -> registered name for one experiment (models and snapshot).

    Parameters
    ----------
    experiment
        The experiment.

    Returns
    -------
    dict of str to str
    """
    return {kind: registered_name(experiment, kind) for kind in REGISTERED_KINDS}


def load_bundle(path: Path) -> Any:
    """Read a bundle file (or a folder holding one).

    Parameters
    ----------
    path
        The file, or its folder.

    Returns
    -------
    object
        The unpickled bundle.
    """
    path = Path(path)
    if path.is_dir():
        path = path / BUNDLE_FILE
    return joblib.load(path)


def read_experiment_info(path: Path, offers_dir: Path | None = None) -> ExperimentInfo | None:
    """Name and offer catalogue from an ``experiment.json`` (the resolved config).

    An offer catalogue shipped in ``offers_dir`` (the snapshot's copy) wins
    over the path the config names, so a model set moved elsewhere still finds it.

    Parameters
    ----------
    path
        The ``experiment.json`` file.
    offers_dir
        A folder holding a shipped offer catalogue; None: none.

    Returns
    -------
    ExperimentInfo or None
        None when there is no file.
    """
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    offers = raw.get("offers")
    if offers_dir is not None and offers_dir.is_dir():
        shipped = sorted(p for p in offers_dir.iterdir() if p.is_file())
        if shipped:
            offers = str(shipped[0])
    return ExperimentInfo(name=str(raw.get("name", "")), offers=offers)


def load_champions_from_folder(folder: Path) -> ChampionModels:
    """Read a model set written by :func:`training.artifacts.save_champions`.

    A bundle that cannot be loaded is recorded as broken while the others load.

    Parameters
    ----------
    folder
        The model folder.

    Returns
    -------
    ChampionModels

    Raises
    ------
    KizunaInputError
        When the folder is missing, or no bundle loads and one is broken.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise KizunaInputError(f"model folder not found: {folder}")
    versions = _read_json(folder / VERSIONS_FILE, {})
    bundles: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for kind in MODEL_KINDS:
        path = folder / kind / BUNDLE_FILE
        bundles[kind] = None
        if (folder / kind / UNAVAILABLE_FILE).exists():
            broken[kind] = (folder / kind / UNAVAILABLE_FILE).read_text().strip()
            continue
        if not path.exists():
            continue
        try:
            bundles[kind] = load_bundle(path)
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not hide the others
            cause = str(exc) or "the file is truncated or corrupt"
            broken[kind] = (
                f"{kind} model version {versions.get(kind, '?')} ({path}) cannot be loaded: "
                f"{cause} ({type(exc).__name__})"
            )
    if broken and all(bundles[k] is None for k in MODEL_KINDS):
        raise KizunaInputError("; ".join(broken.values()))
    present = [k for k, b in bundles.items() if b is not None or k in broken]
    kinds = _read_json(folder / KINDS_FILE, present)
    experiment = read_experiment_info(folder / EXPERIMENT_FILE, folder / SNAPSHOT_DIR / "offers")
    return ChampionModels(
        **bundles, versions=versions, experiment=experiment, kinds=tuple(kinds), broken=broken
    )


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.exists() else default
