"""Where validation sends rows: the reasons a row is set aside, and the row accounting.

:func:`features.validate.validate_transactions` returns a
:class:`ValidatedTransactions`; its :class:`Reconciliation` adds up to the input
row count, and a row set aside carries one of :data:`REASONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# Reasons, in the order they are checked: a row gets the first that applies.
MISSING_CUSTOMER_ID = "missing_customer_id"
MISSING_ORDER_ID = "missing_order_id"
MISSING_ITEM_ID = "missing_item_id"
UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
UNPARSEABLE_QUANTITY = "unparseable_quantity"
UNPARSEABLE_PRICE = "unparseable_price"
NON_POSITIVE_PRICE = "non_positive_price"
ZERO_QUANTITY = "zero_quantity"
AFTER_DATA_END = "after_data_end"
AT_OR_AFTER_AS_OF = "at_or_after_as_of"
DUPLICATE_ROW = "duplicate_row"

REASONS: tuple[str, ...] = (
    MISSING_CUSTOMER_ID,
    MISSING_ORDER_ID,
    MISSING_ITEM_ID,
    UNPARSEABLE_TIMESTAMP,
    UNPARSEABLE_QUANTITY,
    UNPARSEABLE_PRICE,
    NON_POSITIVE_PRICE,
    ZERO_QUANTITY,
    AFTER_DATA_END,
    AT_OR_AFTER_AS_OF,
    DUPLICATE_ROW,
)

REASON_TEXT: dict[str, str] = {
    MISSING_CUSTOMER_ID: "no customer id",
    MISSING_ORDER_ID: "no order id",
    MISSING_ITEM_ID: "no item id",
    UNPARSEABLE_TIMESTAMP: "timestamp missing or not a date",
    UNPARSEABLE_QUANTITY: "quantity missing or not a number",
    UNPARSEABLE_PRICE: "unit price missing or not a number",
    NON_POSITIVE_PRICE: "unit price is zero or negative",
    ZERO_QUANTITY: "quantity is zero",
    AFTER_DATA_END: "timestamp after the end of the data",
    AT_OR_AFTER_AS_OF: "timestamp at or after the run's cut-off (as_of, or the label window's end)",
    DUPLICATE_ROW: "exact duplicate of an earlier line",
}


@dataclass(frozen=True)
class Reconciliation:
    """Where every input row went.

    ``input_rows == kept_rows + sum(set_aside.values())`` always holds;
    ``kept_returns`` counts the kept rows flagged as returns or cancellations.
    """

    input_rows: int
    kept_rows: int
    kept_purchases: int
    kept_returns: int
    set_aside: dict[str, int] = field(default_factory=dict)
    as_of: str | None = None
    data_end: str | None = None

    @property
    def set_aside_rows(self) -> int:
        """Rows set aside, all reasons together."""
        return sum(self.set_aside.values())

    @property
    def balanced(self) -> bool:
        """Whether kept and set-aside rows add up to the input rows."""
        return self.input_rows == self.kept_rows + self.set_aside_rows

    def to_dict(self) -> dict[str, Any]:
        """The counts as JSON-ready data (the run's ``reconciliation`` record).

        Returns
        -------
        dict
            The fields, plus ``set_aside_rows`` and ``balanced``.
        """
        return {
            "input_rows": self.input_rows,
            "kept_rows": self.kept_rows,
            "kept_purchases": self.kept_purchases,
            "kept_returns": self.kept_returns,
            "set_aside_rows": self.set_aside_rows,
            "set_aside": dict(self.set_aside),
            "balanced": self.balanced,
            "as_of": self.as_of,
            "data_end": self.data_end,
        }


def with_label_window(
    report: dict[str, Any], as_of: Any, horizon_days: int | None
) -> dict[str, Any]:
    """A features run's reconciliation: its own ``as_of``, and the labels' window end.

    Such a run validates up to the end of the label window (``as_of +
    horizon``), so the validator's cut-off is that end: reported as
    ``label_window_end``, with ``as_of`` the features' own.

    Parameters
    ----------
    report
        :meth:`Reconciliation.to_dict` of the validation.
    as_of
        The features' own cut-off.
    horizon_days
        The label window; None: not a features run, ``report`` is returned as is.

    Returns
    -------
    dict
        A copy of ``report`` with ``as_of`` and ``label_window_end``.
    """
    if horizon_days is None:
        return report
    out = dict(report)
    out["label_window_end"] = out["as_of"]
    out["as_of"] = pd.Timestamp(as_of).isoformat()
    return out


@dataclass(frozen=True)
class ValidatedTransactions:
    """The outcome of :func:`validate_transactions`.

    Attributes
    ----------
    kept
        Canonical, typed transactions, shape (kept_rows, n_columns), with
        ``revenue``, ``is_return`` and ``row_id`` (position in the input).
    set_aside
        The input rows not kept, as given, with ``row_id`` and ``reason``.
    report
        The counts, which add up to the input row count.
    span
        First and last timestamp of every valid purchase, those set aside for
        lying at or after ``as_of`` included (None without any): where the
        data lies, read under the column's own timestamp rule.
    """

    kept: pd.DataFrame
    set_aside: pd.DataFrame
    report: Reconciliation
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None
