"""The customer snapshot: the folder the service answers from, and reading it.

``kizuna train`` and ``kizuna snapshot`` write it
(:func:`training.snapshot_build.write_snapshot`); :func:`load_snapshot`
reads it into a :class:`serving.customer_state.CustomerState`. Nothing is
fitted when reading: every transformer was fitted when the snapshot was written.

Layout (``FORMAT_VERSION`` 1)::

    manifest.json                 format, experiment, as_of, fingerprint, last_event_seq,
                                  counts, created_at, model versions and run
    features.parquet              customer_features as of as_of, indexed by customer_id
    history_counts.npz            purchase counts (n_customers, n_items) CSR, rows as features
    catalogue.parquet             item_id, name, category, in_stock, recent_buyers
    customers.parquet, items.parquet   the validated optional tables (when the data has them)
    fitted.pkl                    weigher, cold-start recommender, RFM scorer, preferences
                                  (pickle protocol 5: joblib's Python unpickler took 30x longer)
    inputs_<kind>.npy             the booster input matrix of each tabular model the snapshot was
                                  built for (used when the served version is that version)
    transactions.arrow            canonical lines sorted by customer (Arrow IPC, memory-mapped)
    transactions_index.parquet    customer_id, start, stop into transactions.arrow
    offers/                       the experiment's offer catalogue, when it has one
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.bundles import ChampionModels
from kizuna.serving.catalogue import Catalogue
from kizuna.serving.customer_state import CustomerState
from kizuna.serving.model_inputs import input_matrix, model_frame
from kizuna.serving.transaction_log import TransactionLog

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
FEATURES_FILE = "features.parquet"
HISTORY_FILE = "history_counts.npz"
CATALOGUE_FILE = "catalogue.parquet"
CUSTOMERS_FILE = "customers.parquet"
ITEMS_FILE = "items.parquet"
FITTED_FILE = "fitted.pkl"
INPUTS_FILE = "inputs_{kind}.npy"
OFFERS_DIR = "offers"


def read_manifest(folder: Path) -> dict[str, Any]:
    """The snapshot's manifest, checked for a format this code reads.

    Parameters
    ----------
    folder
        The snapshot folder.

    Returns
    -------
    dict
    """
    path = Path(folder) / MANIFEST_FILE
    if not path.exists():
        raise KizunaInputError(
            f"no customer snapshot in {folder} (no {MANIFEST_FILE}): run `kizuna train` "
            "or `kizuna snapshot` for this experiment"
        )
    manifest = json.loads(path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise KizunaInputError(
            f"snapshot {folder} has format {manifest.get('format_version')}, this kizuna reads "
            f"{FORMAT_VERSION}: rebuild it with `kizuna snapshot`"
        )
    return manifest


def read_catalogue(folder: Path) -> Catalogue:
    table = pd.read_parquet(Path(folder) / CATALOGUE_FILE)
    return Catalogue(
        item_ids=pd.Index(table[s.ITEM_ID].astype(str).to_numpy(dtype=object)),
        names=_objects(table["name"]),
        categories=_objects(table["category"]),
        in_stock=table["in_stock"].to_numpy(dtype=bool),
        recent_buyers=table["recent_buyers"].to_numpy(dtype=float),
        has_stock=bool(read_manifest(folder).get("has_stock", False)),
    )


def _objects(values: pd.Series) -> np.ndarray:
    return np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)


def _optional_table(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def load_snapshot(folder: Path, models: ChampionModels, *, live: bool = True) -> CustomerState:
    """Read a snapshot into the customer state the service answers from.

    Parameters
    ----------
    folder
        A snapshot folder (see the module docstring).
    models
        The served model set; the model inputs are made with its bundles.
    live
        False (batch scoring) skips the booster matrices (scores then go
        through the models' public API), in less memory.

    Returns
    -------
    CustomerState
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    # A copy: the arrays Arrow hands over are read-only, and events update rows in place.
    features = pd.read_parquet(folder / FEATURES_FILE).copy(deep=True)
    features.index = features.index.astype(str).astype(object)
    customers = _optional_table(folder / CUSTOMERS_FILE)
    items = _optional_table(folder / ITEMS_FILE)
    with (folder / FITTED_FILE).open("rb") as f:
        fitted = pickle.load(f)
    catalogue = read_catalogue(folder)
    counts = sp.load_npz(folder / HISTORY_FILE).tocsr()
    if counts.shape != (len(features), catalogue.n_items):
        raise KizunaInputError(
            f"snapshot {folder} is inconsistent: history {counts.shape} for "
            f"{len(features)} customers and {catalogue.n_items} items"
        )
    rec = models.recommender
    if rec is not None and not rec.item_ids.equals(catalogue.item_ids):
        raise KizunaInputError(
            f"snapshot {folder} was built for another recommender (its items differ): "
            "rebuild it with `kizuna snapshot` for the served models"
        )
    bundles = {kind: b for kind in ("churn", "ltv") if (b := getattr(models, kind)) is not None}
    # Copies consolidate each frame's blocks, so an event's row update is one write per dtype.
    frames = {kind: model_frame(features, b, customers).copy() for kind, b in bundles.items()}
    built_for = manifest.get("input_matrices", {})
    matrices = {}
    for kind, b in bundles.items():
        stored = folder / INPUTS_FILE.format(kind=kind)
        version = models.versions.get(kind)
        if not live:
            matrices[kind] = None
        elif version is not None and built_for.get(kind) == version and stored.exists():
            matrices[kind] = np.load(stored)  # made when the snapshot was written
        else:
            matrices[kind] = input_matrix(b, frames[kind])
    weigher = fitted["weigher"]
    return CustomerState(
        as_of=pd.Timestamp(manifest["as_of"]),
        features=features,
        frames=frames,
        matrices=matrices,
        catalogue=catalogue,
        history=weigher.transform(counts),
        preferences=fitted.get("preferences", {}),
        bundles=bundles,
        recommender=rec,
        interaction_params=dict(fitted.get("interaction_params", {})),
        weigher=weigher,
        log=TransactionLog(folder),
        customers=customers,
        items=items,
        last_event_seq=int(manifest.get("last_event_seq", 0)),
        cold_start=fitted.get("cold_start"),
        rfm_scorer=fitted.get("rfm_scorer"),
        live=live,
    )
