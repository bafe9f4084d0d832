"""Hyperparameter combinations of a tabular model, and the best of them on validation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from kizuna.features.errors import KizunaInputError
from kizuna.training.config import SearchConfig

# Metrics where a lower value is better; every other metric is higher-is-better.
LOWER_IS_BETTER = {"brier", "log_loss", "mae", "rmse"}


def grid(search: SearchConfig | None, seed: int) -> list[dict[str, Any]]:
    """Parameter combinations to try (the defaults alone without a search).

    Parameters
    ----------
    search
        The search config, or None.
    seed
        The experiment's seed.

    Returns
    -------
    list of dict
    """
    if search is None or not search.grid:
        return [{}]
    keys = sorted(search.grid)
    combos = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(search.grid[k] for k in keys))
    ]
    if len(combos) > search.max_runs:
        rng = np.random.default_rng(seed)
        combos = [
            combos[i] for i in sorted(rng.choice(len(combos), search.max_runs, replace=False))
        ]
    return combos


def select_best(
    make: Callable[[dict[str, Any]], Any],
    combos: list[dict[str, Any]],
    fit: Callable[[Any], Any],
    score: Callable[[Any], dict[str, float]],
    primary: str,
) -> tuple[Any, list[dict[str, Any]]]:
    """Fit each combination, score it on validation, keep the best by ``primary``.

    Parameters
    ----------
    make
        Parameters -> an unfitted model.
    combos
        The combinations.
    fit
        Fits a model, returns it.
    score
        A fitted model -> its validation metrics.
    primary
        The metric chosen on.

    Returns
    -------
    model
        The best fitted model.
    records : list of dict
        One per combination: parameters and validation metrics.
    """
    sign = -1.0 if primary in LOWER_IS_BETTER else 1.0
    best, best_value, records = None, -np.inf, []
    for params in combos:
        model = fit(make(params))
        val = score(model)
        if primary not in val:
            raise KizunaInputError(f"unknown primary metric {primary!r}; have {sorted(val)}")
        records.append({"params": params, "validation": val})
        # An undefined score (a constant target: NaN Gini) ranks below any number; a
        # search where every score is undefined keeps its first combination.
        value = sign * val[primary] if np.isfinite(val[primary]) else -np.inf
        if best is None or value > best_value:
            best, best_value = model, value
    return best, records
