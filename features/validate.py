"""Validation that loses nothing silently: every row is kept or set aside with a reason.

The reasons and the row accounting are in :mod:`features.reconciliation`;
``Reconciliation`` and ``ValidatedTransactions`` are importable from here too
(the README names ``kizuna.features.validate.Reconciliation``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.contract import (
    check_coercible,
    ids_to_str,
    require_columns,
    to_timestamp,
)
from kizuna.features.errors import KizunaInputError
from kizuna.features.numbers import NumberRule, parse_numbers
from kizuna.features.reconciliation import (
    AFTER_DATA_END,
    AT_OR_AFTER_AS_OF,
    DUPLICATE_ROW,
    MISSING_CUSTOMER_ID,
    MISSING_ITEM_ID,
    MISSING_ORDER_ID,
    NON_POSITIVE_PRICE,
    UNPARSEABLE_PRICE,
    UNPARSEABLE_QUANTITY,
    UNPARSEABLE_TIMESTAMP,
    ZERO_QUANTITY,
    Reconciliation,
    ValidatedTransactions,
)
from kizuna.features.timestamps import TimestampRule

__all__ = ["Reconciliation", "ValidatedTransactions", "validate_transactions"]


def validate_transactions(
    raw: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    data_end: pd.Timestamp | str | None = None,
    timestamp_format: str | None = None,
    timestamp_rule: TimestampRule | None = None,
    number_rule: NumberRule | None = None,
    max_bad_share: float = 0.5,
    allow_zero_price: bool = False,
    customer_col: str = s.CUSTOMER_ID,
    order_col: str = s.ORDER_ID,
    item_col: str = s.ITEM_ID,
    timestamp_col: str = s.TIMESTAMP,
    quantity_col: str = s.QUANTITY,
    price_col: str = s.UNIT_PRICE,
    return_col: str = s.IS_RETURN,
    stored_rows: np.ndarray | None = None,
) -> ValidatedTransactions:
    """Type, check and account for every row of a transactions table.

    Returns and cancellations (negative quantity, or flagged in ``return_col``
    by an adapter) are kept and flagged, never dropped.

    Parameters
    ----------
    raw
        Transactions with at least the canonical required columns (after any
        column mapping), shape (n_rows, n_columns).
    as_of
        Rows at or after this instant are set aside (``at_or_after_as_of``).
    data_end
        Declared end of the export; rows after it are set aside.
    timestamp_format
        strptime format of the timestamp column, if it is text of one format.
    timestamp_rule
        How timestamps are written (ISO text by default; a format, day-first
        text or Unix epochs); overrides ``timestamp_format``.
    number_rule
        How quantities and prices written as text are written (``1234.5`` by
        default; ``1.234,5`` with a decimal comma: :mod:`features.numbers`).
    max_bad_share
        A column whose unparseable share of present values exceeds this is
        rejected as a whole (a wrong mapping), rather than row by row.
    allow_zero_price
        Keep zero-priced lines (free or promotional purchases, as in CDNOW);
        negative prices are still set aside.
    customer_col, order_col, item_col, timestamp_col, quantity_col, price_col
        The required columns' names in ``raw``; the canonical ones by default.
    return_col
        An optional bool column flagging returns; ignored when absent.
    stored_rows
        Shape (n_rows,) bool: rows appended from the event store after the
        file's. Such a row is also a ``duplicate_row`` when it repeats an earlier
        line on the event key (customer, order, item, timestamp, quantity, unit
        price, as typed): the same purchase posted live and then exported again,
        where the export's other columns would make it look new.

    Returns
    -------
    ValidatedTransactions
    """
    if not isinstance(raw, pd.DataFrame):
        raise KizunaInputError(f"transactions must be a pandas DataFrame, got {type(raw).__name__}")
    cols = (customer_col, order_col, item_col, timestamp_col, quantity_col, price_col)
    require_columns(raw, cols, table="transactions")
    n = len(raw)

    customer = ids_to_str(raw[customer_col])
    order = ids_to_str(raw[order_col])
    item = ids_to_str(raw[item_col])
    ts = to_timestamp(
        raw[timestamp_col], fmt=timestamp_format, rule=timestamp_rule, column=timestamp_col
    )
    qty = parse_numbers(raw[quantity_col], number_rule)
    price = parse_numbers(raw[price_col], number_rule)
    bad_ts = check_coercible(
        raw[timestamp_col], ts, column=timestamp_col, kind="timestamps", max_bad_share=max_bad_share
    )
    check_coercible(
        raw[quantity_col], qty, column=quantity_col, kind="numbers", max_bad_share=max_bad_share
    )
    check_coercible(
        raw[price_col], price, column=price_col, kind="numbers", max_bad_share=max_bad_share
    )
    del bad_ts  # missing and unparseable timestamps share one reason

    as_of_ts = None if as_of is None else as_of_timestamp(as_of)
    end_ts = None if data_end is None else as_of_timestamp(data_end, name="data_end")
    checks: list[tuple[str, np.ndarray]] = [
        (MISSING_CUSTOMER_ID, customer.isna().to_numpy()),
        (MISSING_ORDER_ID, order.isna().to_numpy()),
        (MISSING_ITEM_ID, item.isna().to_numpy()),
        (UNPARSEABLE_TIMESTAMP, ts.isna().to_numpy()),
        (UNPARSEABLE_QUANTITY, ~np.isfinite(qty.to_numpy())),
        (UNPARSEABLE_PRICE, ~np.isfinite(price.to_numpy())),
        (NON_POSITIVE_PRICE, ((price < 0) if allow_zero_price else (price <= 0)).to_numpy()),
        (ZERO_QUANTITY, (qty == 0).to_numpy()),
    ]
    if end_ts is not None:
        # The export's end: lines posted live (stored events) are not the export's.
        after_end = (ts > end_ts).to_numpy().copy()
        if stored_rows is not None:
            after_end &= ~stored_rows
        checks.append((AFTER_DATA_END, after_end))
    if as_of_ts is not None:
        checks.append((AT_OR_AFTER_AS_OF, (ts >= as_of_ts).to_numpy()))
    repeated = _duplicated(raw)
    if stored_rows is not None and stored_rows.any():
        typed = (customer, order, item, ts, qty, price)  # as typed, in PURCHASE_KEY's order
        key = pd.DataFrame(dict(zip(s.PURCHASE_KEY, typed, strict=True)))
        repeated = repeated | (key.duplicated(keep="first").to_numpy() & stored_rows)
    checks.append((DUPLICATE_ROW, repeated))

    reason_code = np.full(n, -1, dtype=np.int8)
    for code, (_, mask) in enumerate(checks):
        reason_code[(reason_code < 0) & mask] = code
    keep = reason_code < 0

    is_return = qty.to_numpy() < 0
    if return_col in raw.columns:
        is_return |= raw[return_col].fillna(False).astype(bool).to_numpy()

    kept = pd.DataFrame(
        {
            s.CUSTOMER_ID: customer[keep],
            s.ORDER_ID: order[keep],
            s.ITEM_ID: item[keep],
            s.TIMESTAMP: ts[keep],
            s.QUANTITY: qty[keep],
            s.UNIT_PRICE: price[keep],
        }
    )
    kept[s.REVENUE] = kept[s.QUANTITY] * kept[s.UNIT_PRICE]
    kept[s.IS_RETURN] = is_return[keep]
    for optional in s.TRANSACTION_OPTIONAL:
        if optional in raw.columns:
            kept[optional] = ids_to_str(raw.loc[keep, optional]).to_numpy()
    # Extra columns (an export's description, country, ...) travel along untouched.
    for extra in raw.columns.difference([*cols, return_col, *s.TRANSACTION_OPTIONAL], sort=False):
        kept[extra] = raw.loc[keep, extra].to_numpy()
    kept[s.ROW_ID] = np.flatnonzero(keep)
    kept = kept.reset_index(drop=True)

    aside_mask = ~keep
    set_aside = raw.loc[aside_mask].copy()
    set_aside[s.ROW_ID] = np.flatnonzero(aside_mask)
    names = np.array([name for name, _ in checks], dtype=object)
    set_aside[s.REASON] = names[reason_code[aside_mask]]
    set_aside = set_aside.reset_index(drop=True)

    counts = np.bincount(reason_code[aside_mask], minlength=len(checks))
    report = Reconciliation(
        input_rows=n,
        kept_rows=int(keep.sum()),
        kept_purchases=int((~is_return[keep]).sum()),
        kept_returns=int(is_return[keep].sum()),
        set_aside={name: int(c) for (name, _), c in zip(checks, counts, strict=True) if c},
        as_of=None if as_of_ts is None else as_of_ts.isoformat(),
        data_end=None if end_ts is None else end_ts.isoformat(),
    )
    if not report.balanced:  # pragma: no cover - an invariant, guarded for safety
        raise AssertionError(f"row accounting does not balance: {report.to_dict()}")
    valid = keep.copy()
    if as_of_ts is not None:  # only the cut-off set them aside: still the data's purchases
        valid |= reason_code == [name for name, _ in checks].index(AT_OR_AFTER_AS_OF)
    stamps = ts[valid]
    span = (pd.Timestamp(stamps.min()), pd.Timestamp(stamps.max())) if len(stamps) else None
    return ValidatedTransactions(kept=kept, set_aside=set_aside, report=report, span=span)


def _duplicated(raw: pd.DataFrame) -> np.ndarray:
    """Exact repeats of an earlier line, over all input columns. Shape (n,) bool."""
    if len(raw) == 0:
        return np.zeros(0, dtype=bool)
    # Hashing rows is far cheaper than DataFrame.duplicated on 10M rows; the
    # rows whose hash repeats are then compared exactly, so a hash collision
    # can never set a row aside.
    hashes = pd.Series(pd.util.hash_pandas_object(raw, index=False).to_numpy())
    candidates = hashes.duplicated(keep=False).to_numpy()
    out = np.zeros(len(raw), dtype=bool)
    if candidates.any():
        out[candidates] = raw.loc[candidates].duplicated(keep="first").to_numpy()
    return out
