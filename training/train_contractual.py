"""Churn from a customer table with a label column (contractual mode)."""

from __future__ import annotations

import warnings

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.labels import contractual_churn_labels
from kizuna.models.baselines import AttributeLogisticBaseline
from kizuna.models.bundles import TabularBundle
from kizuna.training.config import ChurnConfig, SplitConfig
from kizuna.training.snapshots import Snapshot
from kizuna.training.splits import contractual_split
from kizuna.training.train_tabular import TabularResult, train_churn


def train_contractual_churn(
    customers: pd.DataFrame,
    config: ChurnConfig,
    *,
    seed: int,
    features: pd.DataFrame | None = None,
    split: SplitConfig | None = None,
) -> TabularResult:
    """Churn from a customer table with a label column and any attribute columns.

    The customers are split into train, validation and test by ``split``
    (:class:`training.config.SplitConfig`: shares, ``by`` and seed; default
    20% validation and 20% test): by ``signup_date`` (oldest train, newest
    test: later customers are the future) or at random, stratified by the label.

    Parameters
    ----------
    customers
        The validated customers table with its label column.
    config
        The churn config.
    seed
        The experiment's seed.
    features
        Extra features per customer, or None.
    split
        The split config, or None for the default.

    Returns
    -------
    TabularResult
    """
    split = split or SplitConfig()
    labels = contractual_churn_labels(customers, label_col=config.label_col)
    y = labels.set_index(s.CUSTOMER_ID)[s.CHURN]
    X = customers.drop(columns=[config.label_col, s.PREFERRED_CATEGORIES], errors="ignore")
    if features is not None:
        X = X.join(features, how="left")
    y = y.reindex(X.index).astype(int)
    tr, va, te = (X.index[p] for p in contractual_split(X, y, split, seed=seed))
    empty = pd.Series(dtype=float)
    snap = lambda idx: Snapshot(pd.NaT, X.loc[idx], y.loc[idx], empty, None, None)  # noqa: E731
    drop = tuple(config.params.get("drop", ()))
    baseline = AttributeLogisticBaseline(
        drop=drop,
        categorical=tuple(config.params.get("categorical", ())),
        calibration=None if config.calibration == "none" else config.calibration,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = train_churn(
            [snap(tr)],
            snap(va),
            snap(te),
            config,
            seed=seed,
            btyd_unit="W",
            horizon_days=0,
            baseline=baseline,
            baseline_name="logistic_all_attributes",
        )
    bundle = result.bundle
    result.bundle = TabularBundle(
        model=bundle.model, feature_columns=bundle.feature_columns, mode="contractual"
    )
    return result
