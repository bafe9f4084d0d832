"""The CRM export of a contractual churn experiment: every customer of its customers table.

Such an experiment (``churn.mode: contractual``, a customers table and no
transactions) has no purchase history, so no customer snapshot and no service:
its churn champion scores the customers table directly, as it was trained on it.
The export has the schema of every CRM export (:data:`training.export_schema.COLUMNS`):
the purchase-based columns are empty.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError


def is_contractual_only(config: Any) -> bool:
    """Whether ``config`` (an ExperimentConfig) is contractual churn on a customers table alone.

    Parameters
    ----------
    config
        The experiment config.

    Returns
    -------
    bool
    """
    return (
        config.data.transactions is None
        and config.churn.enabled
        and config.churn.mode == "contractual"
    )


def contractual_chunks(
    config: Any,
    *,
    alias: str = "champion",
    bands: tuple[float, float] = (0.3, 0.6),
    chunk_size: int = 20_000,
) -> tuple[Iterator[pd.DataFrame], int, dict[str, int]]:
    """Churn probability and risk band of every customer of the experiment's customers table.

    Parameters
    ----------
    config
        The experiment config.
    alias
        The registry alias of the churn model.
    bands
        The risk band thresholds, low then high.
    chunk_size
        Most rows per chunk.

    Returns
    -------
    (chunks, n_customers, versions)
        Chunks of at most ``chunk_size`` rows in the CRM export's columns; the
        churn version that scored them.
    """
    from kizuna.serving.model_registry import alias_version, download_bundle
    from kizuna.serving.model_store import load_bundle, registered_name
    from kizuna.serving.scoring import risk_band
    from kizuna.training.data import load_tables
    from kizuna.training.export_schema import conform

    name = registered_name(config.name, "churn")
    version = alias_version(name, alias)
    if version is None:
        hint = ": run `kizuna train` on the experiment first" if alias == "champion" else ""
        raise KizunaInputError(f"{name} has no version at @{alias}{hint}")
    with tempfile.TemporaryDirectory() as tmp:
        bundle = load_bundle(download_bundle(name, version.version, Path(tmp)))
    if bundle.mode != "contractual":
        raise KizunaInputError(f"{name} v{version.version} is not a contractual churn model")
    _, customers = load_tables(config.data)
    if customers is None:
        raise KizunaInputError("contractual churn needs a customers table (data.customers)")
    missing = [c for c in bundle.feature_columns if c not in customers.columns]
    if missing:
        raise KizunaInputError(f"the customers table lacks model columns {missing[:5]}")
    X = customers[list(bundle.feature_columns)]
    proba = bundle.model.predict_proba(X)[:, 1]
    label = f"churn={version.version}"

    def chunks() -> Iterator[pd.DataFrame]:
        for lo in range(0, len(X), chunk_size):
            p = proba[lo : lo + chunk_size]
            yield conform(
                pd.DataFrame(
                    {
                        s.CUSTOMER_ID: X.index[lo : lo + chunk_size].astype(str),
                        "churn_probability": p,
                        "risk_band": [risk_band(float(v), bands) for v in p],
                        "model_versions": label,
                    }
                )
            )

    return chunks(), len(X), {"churn": int(version.version)}
