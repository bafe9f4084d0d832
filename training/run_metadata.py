"""What a training run records besides its models: comparability keys, flat params, pins.

The holdout and kind keys decide which registered versions' metrics may be compared
(:func:`training.registration.register_version`); :func:`flatten_params` turns the nested
config into MLflow's flat params; :func:`pip_requirements` pins a logged model's runtime.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kizuna.training.config import ExperimentConfig


def pip_requirements() -> list[str]:
    """kizuna's runtime dependencies at their installed versions.

    Given explicitly because MLflow's inference imports the model in a
    subprocess, which costs several seconds per model.

    Returns
    -------
    list of str
    """
    from importlib.metadata import PackageNotFoundError, version

    names = [
        "numpy",
        "scipy",
        "pandas",
        "pyarrow",
        "scikit-learn",
        "lightgbm",
        "implicit",
        "threadpoolctl",
        "joblib",
        "mlflow",
        "pydantic",
        "pyyaml",
    ]
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pins


def kind_key(kind: str, config: ExperimentConfig, fingerprint: dict[str, Any]) -> str:
    """What else must match for two versions' metrics to be comparable.

    Parameters
    ----------
    kind
        The model kind.
    config
        The experiment config.
    fingerprint
        The run's data fingerprint.

    Returns
    -------
    str
    """
    if kind == "recommender":
        rec = config.recommender
        key = f"k={rec.k}:{rec.primary_mode}"
        if rec.protocol == "random_user":  # items held out of all the data, not a window
            fraction = rec.holdout_fraction
            key += f":random_user:fraction={fraction}:data={fingerprint.get('dataset_hash')}"
        return key
    if kind == "churn":
        return f"{config.churn.mode}:lookback={config.split.lookback_days}"
    return f"lookback={config.split.lookback_days}"


def holdout_key(fingerprint: dict[str, Any], horizon_days: int) -> str:
    """Which holdout a version was judged on: with a ``holdout_hash`` (the lines before the
    holdout window's end), lines stored after that window do not change it.

    Parameters
    ----------
    fingerprint
        The run's data fingerprint.
    horizon_days
        The holdout window's length.

    Returns
    -------
    str
    """
    parts = dict(fingerprint)
    if "holdout_hash" in parts:
        parts.pop("dataset_hash", None)
        parts.pop("dataset_rows", None)
    key = json.dumps({**parts, "horizon_days": horizon_days}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def flatten_params(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{"churn.params.num_leaves": "7", ...}`` (MLflow params are flat).

    Parameters
    ----------
    tree
        A nested config mapping.
    prefix
        Prefix of every key (for the recursion).

    Returns
    -------
    dict of str -> str
    """
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_params(value, name + "."))
        else:
            flat[name] = str(value)[:500]
    return flat
