"""Whether an ``as_of`` (and its label window) lies within the data: one rule, both engines.

The span is that of every valid purchase, including those a run set aside
for lying at or after its cut-off. ``as_of`` must lie after the first
purchase and at most a day after the last; with a horizon the label window
must end by then too. The validator gives the span
(:attr:`features.reconciliation.ValidatedTransactions.span`, read under the file's timestamp
rule); the Spark engine takes the extremes of its shards' spans.
"""

from __future__ import annotations

import pandas as pd

from kizuna.features.as_of import data_covers
from kizuna.features.errors import KizunaInputError
from kizuna.features.reconciliation import ValidatedTransactions

Span = tuple[pd.Timestamp, pd.Timestamp]


def check_as_of_in_data(
    validated: ValidatedTransactions,
    as_of: pd.Timestamp,
    *,
    horizon_days: int | None = None,
    setting: str = "--as-of",
) -> None:
    """Refuse an ``as_of`` (or label window) outside the data (see the module docstring).

    ``setting`` names where the user set it (``--as-of``, ``split.as_of``).

    Parameters
    ----------
    validated
        The validated transactions.
    as_of
        The instant to check.
    horizon_days
        The label window after it, or None.
    setting
        Where the user set it.

    Raises
    ------
    KizunaInputError
        Naming the data's first and last purchase.
    """
    check_as_of_in_span(validated.span, as_of, horizon_days=horizon_days, setting=setting)


def check_as_of_in_span(
    span: Span | None,
    as_of: pd.Timestamp,
    *,
    horizon_days: int | None = None,
    setting: str = "--as-of",
) -> None:
    """:func:`check_as_of_in_data` on a span already computed (e.g. over Spark's shards).

    Parameters
    ----------
    span
        The data's first and last purchase, or None.
    as_of
        The instant to check.
    horizon_days
        The label window after it, or None.
    setting
        Where the user set it.
    """
    if span is None:
        raise KizunaInputError("the data holds no valid purchases")
    first, last = span
    text = f"the data spans {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
    if as_of <= first:
        raise KizunaInputError(f"{setting} {as_of} is not after the first purchase: {text}")
    if not data_covers(last, as_of):
        raise KizunaInputError(f"{setting} {as_of} lies after the data: {text}")
    if horizon_days is not None and not data_covers(last, as_of + pd.Timedelta(days=horizon_days)):
        raise KizunaInputError(
            f"labels over {horizon_days} days after {setting} {as_of} need data up to "
            f"{as_of + pd.Timedelta(days=horizon_days)}: {text}"
        )
