"""Choosing a combination of a search on validation, undefined scores included."""

from __future__ import annotations

import numpy as np

from kizuna.training.tabular_search import select_best


def search(scores: list[float], primary: str = "normalised_gini") -> tuple[int, int]:
    combos = [{"i": i} for i in range(len(scores))]
    best, records = select_best(
        make=lambda params: params["i"],
        combos=combos,
        fit=lambda model: model,
        score=lambda model: {primary: scores[model]},
        primary=primary,
    )
    return best, len(records)


def test_the_best_defined_score_wins() -> None:
    assert search([0.2, 0.5, 0.4]) == (1, 3)
    assert search([np.nan, 0.1, np.nan]) == (1, 3)  # undefined ranks below any number
    assert search([0.3, 0.1], primary="mae") == (1, 2)  # lower is better


def test_every_score_undefined_keeps_the_first_combination() -> None:
    # A constant target leaves the Gini undefined for every combination (before: no model)
    assert search([np.nan, np.nan]) == (0, 2)
