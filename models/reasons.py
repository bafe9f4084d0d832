"""Reason codes: which features pushed a score up, said the way a marketer would.

A model's per-row feature contributions (LightGBM ``pred_contrib``, or
coefficient x standardised value for a linear model) are ranked; the largest
ones in the requested direction are turned into phrases through a table of
feature-name patterns (:mod:`models.reason_phrases`). Whether a feature is "high" or "low" for a customer is
read from its value against the training median (mean on a tie), so the
phrase describes the customer, and the contribution's sign says which way it
moved the score.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from kizuna.models.reason_phrases import PHRASES, Phrase, match_phrase


def humanise(name: str) -> str:
    """``"monthly_charges"`` / ``"MonthlyCharges"`` -> ``"Monthly charges"``.

    Parameters
    ----------
    name
        A column name.

    Returns
    -------
    str
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name)).replace("_", " ").strip()
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in spaced.split()]
    text = " ".join(words) or str(name)
    return text[:1].upper() + text[1:]


def format_number(value: float) -> str:
    """Whole numbers and large values without decimals, small ones with two.

    Parameters
    ----------
    value
        The number to show.

    Returns
    -------
    str
    """
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _is_missing(value: Any) -> bool:
    # value != value is the NaN test that works for Python and NumPy floats alike.
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


_FIELDS = ("value", "days", "pct")


class _Speaker:
    """One column's phrasing, with its name and pattern groups filled in once."""

    def __init__(
        self, feature: str, phrases: Sequence[Phrase], reference: tuple[float, float] | None
    ) -> None:
        phrase, groups = match_phrase(feature, phrases)
        self.name = humanise(feature)
        self.reference = reference
        keep = {f: "{" + f + "}" for f in _FIELDS}
        safe_name = self.name.replace("{", "{{").replace("}", "}}")
        self.templates = {
            high: template.format(name=safe_name, **groups, **keep)
            for high, template in ((True, phrase.high), (False, phrase.low))
        }
        self.missing = phrase.missing.format(name=self.name, **groups)
        # Format only the fields a template uses: formatting is most of the cost per reason.
        self.needs = {
            high: tuple(f for f in _FIELDS if "{" + f + "}" in template)
            for high, template in self.templates.items()
        }

    def say(self, value: Any) -> str:
        if _is_missing(value):
            return self.missing
        if isinstance(value, str) or self.reference is None:
            return f"{self.name}: {value}"
        value = float(value)
        median, mean = self.reference
        high = value > median if value != median else value >= mean
        fields = {}
        for field in self.needs[high]:
            if field == "value":
                fields[field] = format_number(value)
            elif field == "days":
                fields[field] = f"{round(value):,}"
            else:
                fields[field] = f"{value:.0%}"
        return self.templates[high].format(**fields)


def describe(
    feature: str,
    value: Any,
    reference: tuple[float, float] | None,
    *,
    phrases: Sequence[Phrase] = PHRASES,
) -> str:
    """One feature's state in words.

    Parameters
    ----------
    feature
        The input column name.
    value
        The customer's value: a number, a category (str) or missing.
    reference
        ``(median, mean)`` of the feature at training; ``None`` for categories.
    phrases
        The phrase table, in priority order (default: the built-in ``PHRASES``).

    Returns
    -------
    str
        A phrase such as ``"Long time since last purchase (200 days)"``.
    """
    return _Speaker(feature, phrases, reference).say(value)


def reference_points(X: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """``(median, mean)`` per numeric column of a training frame, shape (n, p) -> p entries.

    Parameters
    ----------
    X
        The training features, shape (n, p).

    Returns
    -------
    dict of str -> (float, float)
        Column -> ``(median, mean)``, p entries.
    """
    out: dict[str, tuple[float, float]] = {}
    for col in X.columns:
        if isinstance(X[col].dtype, pd.CategoricalDtype):
            continue
        arr = X[col].to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(arr).all():
            out[str(col)] = (float("nan"), float("nan"))
        else:
            out[str(col)] = (float(np.nanmedian(arr)), float(np.nanmean(arr)))
    return out


def lightgbm_contributions(
    booster: lgb.Booster, X: pd.DataFrame | np.ndarray, *, num_threads: int = 1
) -> np.ndarray:
    """Per-row feature contributions in raw-score units, shape (n, p) (bias column removed).

    Parameters
    ----------
    booster
        The fitted booster.
    X
        Its input, shape (n, p).
    num_threads
        LightGBM threads.

    Returns
    -------
    numpy.ndarray
        Shape (n, p), float64.
    """
    contrib = np.asarray(booster.predict(X, pred_contrib=True, num_threads=num_threads))
    return contrib[:, :-1]


def top_reasons(
    contributions: np.ndarray,
    values: pd.DataFrame,
    *,
    reference: Mapping[str, tuple[float, float]],
    top_n: int = 3,
    sign: int = 1,
    phrases: Sequence[Phrase] = PHRASES,
) -> list[list[dict[str, Any]]]:
    """The ``top_n`` strongest contributors per row in one direction, phrased.

    Parameters
    ----------
    contributions
        Shape (n, p), aligned with ``values.columns``.
    values
        Shape (n, p): the model's inputs, columns named as the user knows them.
    reference
        ``(median, mean)`` per numeric column, from :func:`reference_points`.
    top_n
        At most this many reasons per row; fewer when fewer features push in
        the requested direction. A phrase already given for the row (related
        features can read the same) is skipped for the next distinct one.
    sign
        ``+1``: reasons the score is high (contributions > 0); ``-1``: reasons
        it is low (contributions < 0).
    phrases
        The phrase table, in priority order (default: the built-in ``PHRASES``).

    Returns
    -------
    list of list of dict
        Length n; each reason is ``{"feature", "phrase", "contribution", "value"}``,
        strongest first.
    """
    contributions = np.asarray(contributions, dtype=float)
    n, p = contributions.shape
    if p != values.shape[1] or n != len(values):
        raise ValueError(f"contributions {contributions.shape} do not match values {values.shape}")
    if sign not in (1, -1):
        raise ValueError("sign must be +1 or -1")
    if top_n < 0:
        raise ValueError("top_n must not be negative")
    signed = contributions * sign
    order = np.argsort(-signed, axis=1, kind="stable")
    pushing = np.take_along_axis(signed, order, axis=1) > 0
    columns = [str(c) for c in values.columns]
    # Phrase lookup depends only on the column: resolve it once, not once per cell.
    speakers = [_Speaker(c, phrases, reference.get(c)) for c in columns]
    cells = [values.iloc[:, j].to_numpy(dtype=object) for j in range(p)]
    out: list[list[dict[str, Any]]] = []
    for i in range(n):
        row: list[dict[str, Any]] = []
        said: set[str] = set()
        for rank in range(p):
            if len(row) == top_n or not pushing[i, rank]:
                break
            j = int(order[i, rank])
            value = cells[j][i]
            if isinstance(value, np.generic):
                value = value.item()
            if _is_missing(value):
                value = None  # JSON has no NaN; serving passes these dicts on as they are
            phrase = speakers[j].say(value)
            if phrase in said:
                # Related features can say the same thing ("Only one order so far");
                # the stronger one speaks, the next distinct reason takes the slot.
                continue
            said.add(phrase)
            row.append(
                {
                    "feature": columns[j],
                    "phrase": phrase,
                    "contribution": float(contributions[i, j]),
                    "value": value,
                }
            )
        out.append(row)
    return out
