"""Reason codes: which features pushed a score up, said the way a marketer would.

A model's per-row feature contributions (LightGBM ``pred_contrib``, or
coefficient x standardised value for a linear model) are ranked; the largest
ones in the requested direction are turned into phrases through a table of
feature-name patterns. Whether a feature is "high" or "low" for a customer is
read from its value against the training median (mean on a tie), so the
phrase describes the customer, and the contribution's sign says which way it
moved the score.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError


@dataclass(frozen=True)
class Phrase:
    """How to say a feature's state.

    Parameters
    ----------
    pattern
        Regular expression that must match the whole feature name; named
        groups (e.g. ``(?P<window>\\d+)``) are available to the templates.
    high, low
        Templates for a value above / below the training reference. Fields:
        ``{value}`` (formatted number), ``{days}`` (rounded to whole days),
        ``{pct}`` (value as a percentage),
        ``{name}`` (humanised feature name) and the pattern's named groups.
    missing
        What a missing value means for this feature (fields ``{name}`` and
        the groups); default ``"{name} is unknown"``.
    """

    pattern: str
    high: str
    low: str
    missing: str = "{name} is unknown"


#: Feature-name patterns: the behaviour vector (features.behaviour), the
#: buy-till-you-die summary and its outputs, and common customer-table names.
#: Earlier entries win, so specific names come before general ones.
PHRASES: tuple[Phrase, ...] = (
    Phrase(
        r"recency_(?:days?|d)|days_since_last_(?:order|purchase)",
        "Long time since last purchase ({days} days)",
        "Bought recently ({days} days ago)",
    ),
    Phrase(
        r"recency_ratio",
        "Next order is overdue ({value} times the usual gap)",
        "Not yet due for the next order ({value} of the usual gap)",
        missing="Only one order so far",
    ),
    # Buy-till-you-die recency: age at the last repeat purchase, so high is good.
    Phrase(
        r"recency",
        "Kept buying long after the first order",
        "Stopped buying soon after the first order",
    ),
    Phrase(
        r"signup_tenure_days|days_since_signup|membership_days",
        "Member for a long time ({days} days)",
        "Signed up recently ({days} days ago)",
    ),
    Phrase(
        r"tenure_days|customer_age_days|days_since_first_(?:order|purchase)",
        "Long-standing customer (first order {days} days ago)",
        "New customer (first order {days} days ago)",
    ),
    Phrase(r"T|tenure|customer_age", "Long-standing customer", "Recently acquired customer"),
    Phrase(
        r"(?:mean_|avg_)?(?:gap_mean|interpurchase|inter_purchase|days_between_orders)"
        r"(?:_time|_days)?",
        "Long gaps between orders (every {days} days on average)",
        "Orders often (every {days} days on average)",
        missing="Only one order so far",
    ),
    Phrase(
        r"gap_std(?:_days)?",
        "Irregular ordering rhythm",
        "Regular ordering rhythm",
        missing="Only one order so far",
    ),
    Phrase(
        r"frequency|(?:n_|num_)?orders|order_count",
        "Many orders ({value})",
        "Few orders ({value})",
    ),
    Phrase(
        r"(?:n_|num_)?repeat_(?:orders|purchases)",
        "Many repeat purchases ({value})",
        "Few repeat purchases ({value})",
    ),
    Phrase(
        r"(?:n_|num_)?orders_(?P<window>\d+)d?",
        "Many orders in the last {window} days ({value})",
        "Few orders in the last {window} days ({value})",
    ),
    Phrase(
        r"(?:revenue|spend|monetary|sales)_(?P<window>\d+)d?",
        "High spend in the last {window} days ({value})",
        "Low spend in the last {window} days ({value})",
    ),
    Phrase(
        r"monetary_(?:mean|value|avg)|avg_order_value|aov|mean_order_value",
        "Large average order ({value})",
        "Small average order ({value})",
    ),
    Phrase(
        r"monetary_std",
        "Order values vary a lot ({value})",
        "Steady order values ({value})",
    ),
    Phrase(
        r"monetary(?:_total|_sum)?|total_(?:revenue|spend)|revenue|spend",
        "High total spend ({value})",
        "Low total spend ({value})",
    ),
    Phrase(r"(?:revenue_|spend_|monetary_)?trend", "Spending is rising", "Spending is falling"),
    Phrase(
        r"(?:order_|orders_|frequency_)trend",
        "Ordering more often lately",
        "Ordering less often lately",
    ),
    Phrase(
        r"basket_lines(?:_mean)?",
        "Large baskets ({value} lines per order)",
        "Small baskets ({value} lines per order)",
    ),
    Phrase(
        r"basket_(?:quantity|units)(?:_mean)?",
        "Buys many units per order ({value})",
        "Buys few units per order ({value})",
    ),
    Phrase(
        r"return_(?:rate|share|ratio)",
        "Returns much of what they buy ({pct})",
        "Rarely returns items ({pct})",
    ),
    Phrase(
        r"(?:n_|num_|distinct_)?(?:categories|category_count)",
        "Buys across many categories ({value})",
        "Buys from few categories ({value})",
    ),
    Phrase(
        r"top_category_share",
        "Buys mostly from one category ({pct})",
        "Spreads purchases across categories ({pct} in the top one)",
    ),
    Phrase(
        r"(?:n_|num_|distinct_)?(?:items|products)",
        "Buys many different products ({value})",
        "Buys few different products ({value})",
    ),
    Phrase(
        r"p_alive|prob_alive|probability_alive",
        "Purchase pattern looks active (P(alive) {pct})",
        "Purchase pattern suggests they may have lapsed (P(alive) {pct})",
    ),
    Phrase(
        r"expected_(?:purchases|orders)(?:_\d+d?)?",
        "Expected to buy again soon ({value} purchases expected)",
        "Few purchases expected ({value})",
    ),
    Phrase(
        r"expected_(?:spend|value|clv|revenue|monetary_value)(?:_\d+d?)?|clv",
        "High expected spend ({value})",
        "Low expected spend ({value})",
    ),
    Phrase(
        r"discount_(?:share|rate|ratio)",
        "Buys mostly on discount ({pct})",
        "Rarely buys on discount ({pct})",
    ),
)

_GENERIC = Phrase(r".*", "{name} is high ({value})", "{name} is low ({value})")


def phrase_table(extra: Mapping[str, Sequence[str]] | None = None) -> tuple[Phrase, ...]:
    """The default table with ``extra`` phrases tried first.

    Parameters
    ----------
    extra
        ``{pattern: [high, low]}`` or ``{pattern: [high, low, missing]}``, the
        shape an experiment file can hold, e.g.
        ``{"MonthlyCharges": ["High monthly bill ({value})", "Low monthly bill ({value})"]}``.
    """
    if not extra:
        return PHRASES
    custom = []
    for pattern, texts in extra.items():
        texts = [texts] if isinstance(texts, str) else list(texts)
        if len(texts) not in (2, 3) or not all(isinstance(t, str) for t in texts):
            raise KizunaInputError(
                "a reason phrase needs [high, low] or [high, low, missing] texts",
                column=str(pattern),
                values=texts,
            )
        try:
            re.compile(pattern)
        except re.error as exc:
            raise KizunaInputError(f"not a valid pattern: {exc}", column=str(pattern)) from None
        custom.append(Phrase(str(pattern), *texts))
    return (*custom, *PHRASES)


def humanise(name: str) -> str:
    """``"monthly_charges"`` / ``"MonthlyCharges"`` -> ``"Monthly charges"``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name)).replace("_", " ").strip()
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in spaced.split()]
    text = " ".join(words) or str(name)
    return text[:1].upper() + text[1:]


def format_number(value: float) -> str:
    """Whole numbers and large values without decimals, small ones with two."""
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _match(feature: str, phrases: Sequence[Phrase]) -> tuple[Phrase, dict[str, str]]:
    for phrase in phrases:
        m = re.fullmatch(phrase.pattern, feature)
        if m:
            return phrase, {k: v for k, v in m.groupdict().items() if v is not None}
    return _GENERIC, {}


def _is_missing(value: Any) -> bool:
    # value != value is the NaN test that works for Python and NumPy floats alike.
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


_FIELDS = ("value", "days", "pct")


class _Speaker:
    """One column's phrasing, with its name and pattern groups filled in once."""

    def __init__(
        self, feature: str, phrases: Sequence[Phrase], reference: tuple[float, float] | None
    ) -> None:
        phrase, groups = _match(feature, phrases)
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
    """
    return _Speaker(feature, phrases, reference).say(value)


def reference_points(X: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """``(median, mean)`` per numeric column of a training frame, shape (n, p) -> p entries."""
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
    """Per-row feature contributions in raw-score units, shape (n, p) (bias column removed)."""
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
