"""Splitting a customers table (contractual churn) into train, validation and test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.training.config import SplitConfig


def contractual_split(
    X: pd.DataFrame, y: pd.Series, split: SplitConfig, *, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the train, validation and test customers, shape (n_*,) each.

    Parameters
    ----------
    X
        Customer attributes, shape (n, p).
    y
        The labels, shape (n,).
    split
        Shares, ``by`` and seed.
    seed
        The experiment's seed (when ``split`` has none).

    Returns
    -------
    train, validation, test : numpy.ndarray
        Positions, each shape (n_*,).
    """
    from sklearn.model_selection import train_test_split

    from kizuna.features import schema as s

    has_dates = s.SIGNUP_DATE in X.columns and X[s.SIGNUP_DATE].notna().all()
    if split.by == "signup_date" and not has_dates:
        raise KizunaInputError(
            "split.by: signup_date needs a signup_date for every customer", column=s.SIGNUP_DATE
        )
    n = len(X)
    n_test, n_val = int(round(split.test_share * n)), int(round(split.validation_share * n))
    if min(n_test, n_val, n - n_test - n_val) < 2:
        raise KizunaInputError(
            f"{n} customers are too few to split into train, validation "
            f"({split.validation_share:.0%}) and test ({split.test_share:.0%})"
        )
    if split.by == "signup_date" or (split.by == "auto" and has_dates):
        order = np.argsort(X[s.SIGNUP_DATE].to_numpy(), kind="stable")
        tr, va, te = np.split(order, [n - n_test - n_val, n - n_test])
        return tr, va, te
    labels = y.to_numpy()
    state = seed if split.seed is None else split.seed
    positions = np.arange(n)
    tr, rest = train_test_split(
        positions, test_size=n_test + n_val, random_state=state, stratify=labels
    )
    va, te = train_test_split(rest, test_size=n_test, random_state=state, stratify=labels[rest])
    return tr, va, te
