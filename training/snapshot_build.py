"""Writing the customer snapshot the service answers from (the reading side is serving.snapshot).

Everything fitted is fitted here, once: the interaction weighting, the
cold-start recommender, the RFM quintile cut points; the service only reads.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import build_interactions
from kizuna.features.pipeline import behaviour_rfm_scorer, customer_features
from kizuna.models.bundles import ChampionModels
from kizuna.models.recommenders.cold_start import ColdStartRecommender
from kizuna.serving import snapshot as fmt
from kizuna.serving.catalogue import Catalogue, build_catalogue, item_names_from_lines
from kizuna.serving.model_inputs import input_matrix, model_frame
from kizuna.serving.transaction_log import canonical, write_transaction_log
from kizuna.serving.weighting import WEIGHTING_KEYS, fit_weigher


def snapshot_as_of(transactions: pd.DataFrame) -> pd.Timestamp:
    """The day after the data's last line: the instant the snapshot describes.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).

    Returns
    -------
    pandas.Timestamp
    """
    return transactions[s.TIMESTAMP].max().floor("D") + pd.Timedelta(days=1)


@dataclass
class SnapshotParts:
    """What an engine computes from the lines for a snapshot; the rest is written alike.

    Attributes
    ----------
    as_of
        The instant the snapshot describes (:func:`snapshot_as_of`).
    features
        :func:`features.pipeline.customer_features` as of ``as_of``, indexed by
        customer id (text, sorted), shape (n_customers, n_features).
    catalogue
        The item side (:func:`serving.catalogue.build_catalogue`).
    counts
        Purchase counts, CSR (n_customers, n_items), rows as ``features``.
    write_lines
        Writes the customer-sorted lines file and its index into a folder;
        returns the line count (:func:`serving.transaction_log.write_transaction_log`).
    """

    as_of: pd.Timestamp
    features: pd.DataFrame
    catalogue: Catalogue
    counts: sp.csr_matrix
    write_lines: Callable[[Path], int]


def write_snapshot(
    folder: Path,
    models: ChampionModels,
    transactions: pd.DataFrame,
    *,
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    **manifest: Any,
) -> dict[str, Any]:
    """Build the snapshot of ``transactions`` for ``models`` and write it to ``folder``.

    Parameters
    ----------
    folder
        Created (an existing folder is replaced).
    models
        The model set the snapshot serves: its recommender fixes the item
        map and interaction settings, its tabular bundles the BTYD unit.
    transactions
        Validated transactions (``ValidatedTransactions.kept``), stored events
        up to ``last_event_seq`` included, shape (n, k).
    items, customers
        Validated optional tables, indexed by id.
    **manifest
        ``experiment``, ``last_event_seq``, ``fingerprint``, ``offers``,
        ``run_id``: see :func:`write_snapshot_parts`.

    Returns
    -------
    dict
        The manifest written.
    """
    tx = canonical(transactions)
    if len(tx) == 0 or (~tx[s.IS_RETURN]).sum() == 0:
        raise KizunaInputError("the data source holds no purchases: nothing to serve")
    as_of = snapshot_as_of(tx)
    features = customer_features(
        tx, as_of, customers=customers, items=items, btyd_unit=btyd_unit(models)
    )
    features.index = features.index.astype(str)
    rec = models.recommender
    catalogue = build_catalogue(
        tx,
        as_of,
        item_ids=None if rec is None else rec.item_ids,
        items=items,
        recommender=rec,
        line_names=item_names_from_lines(transactions),
    )
    counts = build_interactions(
        tx,
        as_of,
        weighting="count",
        user_ids=features.index,
        item_ids=catalogue.item_ids,
        **count_params(models),
    ).matrix
    parts = SnapshotParts(
        as_of, features, catalogue, counts, lambda f: write_transaction_log(tx, f)
    )
    return write_snapshot_parts(folder, models, parts, items=items, customers=customers, **manifest)


def btyd_unit(models: ChampionModels) -> str:
    """The BTYD time unit of the model set's tabular bundles (``W`` without one).

    Parameters
    ----------
    models
        The model set.

    Returns
    -------
    str
    """
    bundles = [b for b in (models.churn, models.ltv) if b is not None]
    return next((b.btyd_unit for b in bundles), "W")


def count_params(models: ChampionModels) -> dict[str, Any]:
    """The recommender's interaction settings that shape the counts (not the weighting).

    Parameters
    ----------
    models
        The model set.

    Returns
    -------
    dict
        Setting name -> value.
    """
    rec = models.recommender
    params = dict(rec.interaction_params) if rec is not None else {}
    return {k: v for k, v in params.items() if k not in WEIGHTING_KEYS}


def write_snapshot_parts(
    folder: Path,
    models: ChampionModels,
    parts: SnapshotParts,
    *,
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    experiment: str = "",
    last_event_seq: int = 0,
    fingerprint: dict[str, Any] | None = None,
    offers: str | Path | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Fit the served transformers on ``parts`` and write the snapshot folder.

    Parameters
    ----------
    folder
        Created (an existing folder is replaced).
    offers
        The experiment's offer catalogue file, copied into ``offers/``.
    models
        The model set the snapshot is for.
    parts
        The engine-computed parts.
    items, customers
        The validated items and customers tables, or None.
    experiment
        The experiment's name.
    last_event_seq
        The last stored event line included.
    fingerprint
        The data fingerprint, or None.
    run_id
        The run that logged it, or None.

    Returns
    -------
    dict
        The manifest written.
    """
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    features, catalogue, counts = parts.features, parts.catalogue, parts.counts
    rec = models.recommender
    params = dict(rec.interaction_params) if rec is not None else {}
    fitted = {
        "weigher": fit_weigher(counts, params),
        "cold_start": ColdStartRecommender().fit(
            counts,
            recent_items=catalogue.recent_buyers,
            item_categories=pd.array(catalogue.categories, dtype="string"),
        ),
        "rfm_scorer": behaviour_rfm_scorer().fit(features),
        "preferences": preferences(customers),
        "interaction_params": params,
    }
    features.to_parquet(folder / fmt.FEATURES_FILE)
    sp.save_npz(folder / fmt.HISTORY_FILE, sp.csr_matrix(counts), compressed=False)
    pd.DataFrame(
        {
            s.ITEM_ID: pd.array(catalogue.item_ids.astype(str), dtype="string"),
            "name": pd.array(catalogue.names, dtype="string"),
            "category": pd.array(catalogue.categories, dtype="string"),
            "in_stock": catalogue.in_stock,
            "recent_buyers": catalogue.recent_buyers,
        }
    ).to_parquet(folder / fmt.CATALOGUE_FILE, index=False)
    for table, name in ((customers, fmt.CUSTOMERS_FILE), (items, fmt.ITEMS_FILE)):
        if table is not None:
            table.to_parquet(folder / name)
    with (folder / fmt.FITTED_FILE).open("wb") as f:
        pickle.dump(fitted, f, protocol=5)
    input_matrices = {}
    for kind in ("churn", "ltv"):
        bundle = getattr(models, kind)
        version = models.versions.get(kind)
        if bundle is None or version is None:
            continue
        matrix = input_matrix(bundle, model_frame(features, bundle, customers))
        if matrix is not None:
            np.save(folder / fmt.INPUTS_FILE.format(kind=kind), matrix)
            input_matrices[kind] = version
    n_lines = parts.write_lines(folder)
    if offers is not None and Path(offers).exists():
        (folder / fmt.OFFERS_DIR).mkdir()
        shutil.copyfile(offers, folder / fmt.OFFERS_DIR / Path(offers).name)
    manifest = {
        "format_version": fmt.FORMAT_VERSION,
        "experiment": experiment,
        "as_of": str(parts.as_of),
        "data_fingerprint": fingerprint or {},
        "last_event_seq": int(last_event_seq),
        "customers": int(len(features)),
        "items": int(catalogue.n_items),
        "lines": int(n_lines),
        "has_stock": bool(catalogue.has_stock),
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "model_versions": {k: v for k, v in models.versions.items() if k != "snapshot"},
        "input_matrices": input_matrices,
        "run_id": run_id,
    }
    (folder / fmt.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest


def preferences(customers: pd.DataFrame | None) -> dict[str, list[str]]:
    """Preferred categories per customer id, from the customers table's text column.

    Parameters
    ----------
    customers
        The validated customers table, or None.

    Returns
    -------
    dict of str -> list of str
    """
    if customers is None or s.PREFERRED_CATEGORIES not in customers.columns:
        return {}
    prefs = customers[s.PREFERRED_CATEGORIES].dropna()
    out: dict[str, list[str]] = {}
    for cid, text in zip(prefs.index.astype(str), prefs.astype(str), strict=True):
        names = [p.strip() for p in text.split(s.PREFERENCE_SEP) if p.strip()]
        if names:
            out[cid] = names
    return out
