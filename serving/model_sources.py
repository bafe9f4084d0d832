"""Where a served model set comes from: a folder, or the registry through a local cache.

A model source is a folder (``training.artifacts.save_champions`` plus
``snapshot/``) or ``registry``: then the experiment's ``@alias`` models and
snapshot are copied once into ``$KIZUNA_DATA_DIR/registry-cache`` (two
copies kept per experiment and alias) and read from there by the same folder
loader. :mod:`serving.live` loads and swaps what these name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kizuna.features.errors import KizunaInputError
from kizuna.models.bundles import ChampionModels
from kizuna.serving import model_registry, model_store

CACHE_DIR = "registry-cache"
CACHE_KEEP = 2  # copies kept per experiment and alias: the one being loaded and the one it replaces


def model_folder(source: str, *, alias: str = "champion", experiment: str | None = None) -> Path:
    """The local folder holding the model set and snapshot that ``source`` names.

    For ``registry``, the versions ``@alias`` points to are copied into the
    cache once per set of versions (a restart reuses the copy).

    Parameters
    ----------
    source
        ``"registry"`` or a local folder.
    alias
        The registry alias.
    experiment
        The experiment whose registered models are meant, or None.

    Returns
    -------
    pathlib.Path
    """
    if source != model_store.REGISTRY:
        folder = Path(source)
        if not folder.is_dir():
            raise KizunaInputError(f"model folder not found: {folder}")
        return folder
    import hashlib
    import json
    import os
    import shutil
    import uuid

    name = model_registry.resolve_experiment(experiment)
    versions = model_registry.registry_versions(name, alias)
    key = hashlib.sha256(
        json.dumps([model_store.tracking_uri(), versions], sort_keys=True).encode()
    ).hexdigest()[:12]
    folder = model_store.data_dir() / CACHE_DIR / f"{name}-{alias}-{key}"
    complete = not any(folder.glob(f"*/{model_store.UNAVAILABLE_FILE}"))
    if (folder / model_store.VERSIONS_FILE).exists() and complete:
        return folder  # a copy with an unavailable kind is fetched again: it may be back
    # A download folder of this process's own: services sharing the data folder may
    # fetch the same version set at once (a reload of each after one `kizuna snapshot`).
    partial = folder.with_name(f"{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
    try:
        model_registry.fetch_from_registry(name, partial, alias=alias)
        if not complete:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            partial.rename(folder)
        except OSError:
            if not (folder / model_store.VERSIONS_FILE).exists():
                raise  # not another process's finished copy of the same set
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    prune_cache(folder.parent, f"{name}-{alias}-", keep=CACHE_KEEP)
    return folder


def prune_cache(cache: Path, prefix: str, *, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest copies named ``prefix*`` in ``cache``.

    Each registry version set gets its own copy, so without pruning every
    promotion leaves a full model set and snapshot on disk. The copy being
    replaced is kept: a service still reading it (or mapping its lines file)
    is not disturbed, and a rollback to it needs no new download.

    Parameters
    ----------
    cache
        The cache folder.
    prefix
        The name prefix of one source's copies.
    keep
        How many of the newest copies to keep.

    Returns
    -------
    list of Path
        The folders removed.
    """
    import shutil

    copies = sorted(
        (p for p in cache.glob(prefix + "*") if p.is_dir() and not p.name.endswith(".partial")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    removed = copies[keep:]
    for old in removed:
        shutil.rmtree(old, ignore_errors=True)
    return removed


def load_models(
    source: str, *, alias: str = "champion", experiment: str | None = None
) -> ChampionModels:
    """The model set at ``source``: ``"registry"`` (MLflow aliases) or a local folder.

    Parameters
    ----------
    source
        ``"registry"`` or a local folder.
    alias
        The registry alias.
    experiment
        The experiment whose registered models are meant, or None.

    Returns
    -------
    ChampionModels
    """
    return model_store.load_champions_from_folder(
        model_folder(source, alias=alias, experiment=experiment)
    )


def source_versions(
    source: str, alias: str = "champion", experiment: str | None = None
) -> dict[str, Any]:
    """Version per kind (models and snapshot) that ``source`` offers now, loading nothing.

    Parameters
    ----------
    source
        ``"registry"`` or a local folder.
    alias
        The registry alias.
    experiment
        The experiment whose registered models are meant, or None.

    Returns
    -------
    dict
        Kind -> version.
    """
    if source == model_store.REGISTRY:
        return model_registry.registry_versions(
            model_registry.resolve_experiment(experiment), alias
        )
    import json

    path = Path(source) / model_store.VERSIONS_FILE
    return json.loads(path.read_text()) if path.exists() else {}
