"""Writing model sets: bundles as joblib files in a folder (the registry logs the same files).

Each registered model is an MLflow pyfunc whose artifact ``bundle.joblib``
holds one of the bundles of :mod:`models.bundles`. Reading them back lives in
:mod:`serving.model_store`, which the service uses without importing training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib

from kizuna.models.bundles import (
    MODEL_KINDS,
    ChampionModels,
)
from kizuna.serving.model_store import BUNDLE_FILE, EXPERIMENT_FILE, KINDS_FILE, VERSIONS_FILE


def save_bundle(bundle: Any, folder: Path) -> Path:
    """Write a bundle into ``folder`` (created); return the file.

    Parameters
    ----------
    bundle
        A model bundle.
    folder
        The folder to write into.

    Returns
    -------
    pathlib.Path
        The bundle file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BUNDLE_FILE
    joblib.dump(bundle, path, compress=3)
    return path


def save_champions(champions: ChampionModels, folder: Path) -> Path:
    """Write a model set to a local folder that :func:`load_champions_from_folder` reads.

    Layout: ``<kind>/bundle.joblib`` per model, ``versions.json``,
    ``kinds.json`` (the kinds the experiment trained) and ``experiment.json``
    (the resolved experiment config). The customer snapshot goes into
    ``snapshot/`` (:func:`training.snapshot_build.write_snapshot`).

    Parameters
    ----------
    champions
        The model set.
    folder
        The folder to write into.

    Returns
    -------
    pathlib.Path
        ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for kind in MODEL_KINDS:
        bundle = getattr(champions, kind)
        if bundle is not None:
            save_bundle(bundle, folder / kind)
    (folder / VERSIONS_FILE).write_text(json.dumps(champions.versions, indent=2))
    kinds = list(champions.kinds) or [k for k in MODEL_KINDS if getattr(champions, k) is not None]
    (folder / KINDS_FILE).write_text(json.dumps(kinds))
    exp = champions.experiment
    if exp is not None:
        text = (
            exp.model_dump_json(indent=2)
            if hasattr(exp, "model_dump_json")
            else json.dumps({"name": exp.name, "offers": exp.offers}, indent=2)
        )
        (folder / EXPERIMENT_FILE).write_text(text)
    return folder
