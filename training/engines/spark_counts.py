"""Per-shard counts and parse statistics, and the report and checks made from their totals.

Each Spark shard reports, beside its rows, a few count rows (rows received,
kept purchases and returns, rows set aside per reason, its first and last
valid purchase) and per-column parse statistics; the driver adds them up
(the purchase span: the extremes) into the pandas engine's reconciliation.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.contract import check_coercible, to_timestamp
from kizuna.features.errors import KizunaInputError
from kizuna.features.numbers import parse_numbers
from kizuna.features.reconciliation import REASONS, Reconciliation, ValidatedTransactions
from kizuna.training.data_span import Span

STAT_COLUMN, STAT_PRESENT, STAT_BAD = "__stat_column", "__stat_present", "__stat_bad"
MAX_BAD_SHARE = 0.5  # as validate_transactions
#: Count keys besides the set-aside reasons: kept rows, and rows a shard received.
PURCHASES, RETURNS, INPUT = "__kept_purchases", "__kept_returns", "__input"
#: Keys of a shard's first and last valid purchase (ns): the extremes are taken, not the sum.
FIRST_NS, LAST_NS = "__first_purchase_ns", "__last_purchase_ns"


def span_rows(validated: ValidatedTransactions) -> list[dict[str, Any]]:
    """A shard's first and last valid purchase as two count rows (none without purchases).

    Parameters
    ----------
    validated
        One shard's validation result.

    Returns
    -------
    list of dict
        Zero or two count rows.
    """
    span = validated.span
    if span is None:
        return []
    return [
        {STAT_COLUMN: key, STAT_PRESENT: stamp.value, STAT_BAD: 0}
        for key, stamp in zip((FIRST_NS, LAST_NS), span, strict=True)
    ]


def span_of(first_ns: int | None, last_ns: int | None) -> Span | None:
    """The data's span from the least :data:`FIRST_NS` and the greatest :data:`LAST_NS`.

    Parameters
    ----------
    first_ns, last_ns
        The least first and greatest last purchase time in nanoseconds, or None.

    Returns
    -------
    Span or None
    """
    return None if first_ns is None else (pd.Timestamp(first_ns), pd.Timestamp(last_ns))


def parse_stats(canonical: pd.DataFrame, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Present and unparseable values per typed column, for the whole-column check.

    ``kwargs``: the shard's validation options (its timestamp and number rules).

    Parameters
    ----------
    canonical
        The shard's canonical rows, shape (n, k).
    kwargs
        The validation options (timestamp and number rules).

    Returns
    -------
    list of dict
        One count row per typed column.
    """
    fmt, rule = kwargs.get("timestamp_format"), kwargs.get("timestamp_rule")
    numbers = kwargs.get("number_rule")
    out = []
    for col, parse in (
        (s.TIMESTAMP, lambda v: to_timestamp(v, fmt=fmt, rule=rule)),
        (s.QUANTITY, lambda v: parse_numbers(v, numbers)),
        (s.UNIT_PRICE, lambda v: parse_numbers(v, numbers)),
    ):
        values = canonical[col]
        bad = check_coercible(values, parse(values), column=col, kind="", max_bad_share=1.0)
        present = values.notna()
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            present &= values.astype("string").str.strip().fillna("") != ""
        out.append({STAT_COLUMN: col, STAT_PRESENT: int(present.sum()), STAT_BAD: int(bad.sum())})
    return out


def check_parse_totals(totals: dict[str, tuple[int, int]]) -> None:
    """Fail as the pandas engine does when a column as a whole does not parse.

    ``totals``: column -> (present values, unparseable values) over all shards.

    Parameters
    ----------
    totals
        Column -> (present values, unparseable values).
    """
    for col, (present, bad) in totals.items():
        if present and bad > MAX_BAD_SHARE * present:
            kind = "timestamps" if col == s.TIMESTAMP else "numbers"
            raise KizunaInputError(
                f"cannot be read as {kind}: {bad:,} of {present:,} values fail", column=col
            )


def reconciliation(counts: dict[str, int], as_of: Any, data_end: Any) -> Reconciliation:
    """The report from the row counts of all shards: set-aside reason (or
    :data:`PURCHASES`, :data:`RETURNS` for kept rows, :data:`INPUT` for the
    rows the shards received) -> rows. Fails if they do not add up.

    Parameters
    ----------
    counts
        Reason -> rows, summed over the shards.
    as_of
        The read's cutoff, or None.
    data_end
        The data's end, or None.

    Returns
    -------
    Reconciliation
    """
    aside = {reason: counts.get(reason, 0) for reason in REASONS}
    returns, purchases = counts.get(RETURNS, 0), counts.get(PURCHASES, 0)
    report = Reconciliation(
        input_rows=counts.get(INPUT, 0),
        kept_rows=returns + purchases,
        kept_purchases=purchases,
        kept_returns=returns,
        set_aside={r: n for r, n in aside.items() if n},
        as_of=None if as_of is None else pd.Timestamp(as_of).isoformat(),
        data_end=None if data_end is None else pd.Timestamp(data_end).isoformat(),
    )
    if not report.balanced:
        raise AssertionError(f"row accounting does not balance: {report.to_dict()}")
    return report
