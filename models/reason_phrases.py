"""The table of reason phrases: feature-name patterns and how to say a feature's state.

Tried in order, first match wins; an experiment can put its own phrases first
(:func:`phrase_table`), and :data:`GENERIC` says anything no pattern matches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kizuna.features.errors import KizunaInputError
from kizuna.features.pipeline import BTYD_PREFIX


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

GENERIC = Phrase(r".*", "{name} is high ({value})", "{name} is low ({value})")


def phrase_table(extra: Mapping[str, Sequence[str]] | None = None) -> tuple[Phrase, ...]:
    """The default table with ``extra`` phrases tried first.

    Parameters
    ----------
    extra
        ``{pattern: [high, low]}`` or ``{pattern: [high, low, missing]}``, the
        shape an experiment file can hold, e.g.
        ``{"MonthlyCharges": ["High monthly bill ({value})", "Low monthly bill ({value})"]}``.

    Returns
    -------
    tuple of Phrase
        In the order they are tried.
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


def match_phrase(feature: str, phrases: Sequence[Phrase]) -> tuple[Phrase, dict[str, str]]:
    """The first phrase whose pattern matches ``feature`` (or, for the buy-till-you-die
    summary's ``btyd_*`` columns, the name without the prefix), else :data:`GENERIC`.

    Parameters
    ----------
    feature
        A feature column name.
    phrases
        The phrase table, in priority order.

    Returns
    -------
    phrase : Phrase
        The matching phrase (:data:`GENERIC` when none does).
    fields : dict of str -> str
        The pattern's named groups, to fill the phrase's text.
    """
    names = [feature]
    if feature.startswith(BTYD_PREFIX):
        names.append(feature[len(BTYD_PREFIX) :])
    for phrase in phrases:
        for name in names:
            m = re.fullmatch(phrase.pattern, name)
            if m:
                return phrase, {k: v for k, v in m.groupdict().items() if v is not None}
    return GENERIC, {}
