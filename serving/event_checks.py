"""Checking purchase-event lines at the door: the training validator plus bounds.

A request is one unit: every line is kept, or the whole request is refused
with a message naming each bad line (its position in the request) and field.
Exact repeats of an earlier line of the same request are not refused: as in
training (``duplicate_row``), the first is kept and the repeats are skipped.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import reconciliation as r
from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.reconciliation import DUPLICATE_ROW, REASON_TEXT
from kizuna.features.timestamps import utc_now
from kizuna.features.validate import validate_transactions

#: How far in the future (beyond the server's clock) an event timestamp may lie.
FUTURE_TOLERANCE = pd.Timedelta(minutes=10)
#: Largest absolute quantity or unit price an event line may carry (KIZUNA_MAX_EVENT_VALUE).
MAX_VALUE = 1_000_000.0
_ID_COLUMNS = (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID)


#: The field each validation reason is about, for the 422 answer's paths.
REASON_FIELDS = {
    r.MISSING_CUSTOMER_ID: s.CUSTOMER_ID,
    r.MISSING_ORDER_ID: s.ORDER_ID,
    r.MISSING_ITEM_ID: s.ITEM_ID,
    r.UNPARSEABLE_TIMESTAMP: s.TIMESTAMP,
    r.UNPARSEABLE_QUANTITY: s.QUANTITY,
    r.ZERO_QUANTITY: s.QUANTITY,
    r.UNPARSEABLE_PRICE: s.UNIT_PRICE,
    r.NON_POSITIVE_PRICE: s.UNIT_PRICE,
}


class EventLinesRefused(KizunaInputError):
    """A request refused as a whole; ``detail`` has one entry per refused line and field
    (``loc`` ``body.events[3].quantity``, ``msg``, ``type``), as every 422 answer does."""

    def __init__(self, problems: list[tuple[int, str, str]], n: int) -> None:
        texts = [f"line {i}: {text}" for i, _, text in problems]
        shown = "; ".join(texts[:10]) + ("; ..." if len(texts) > 10 else "")
        lines = len({i for i, _, _ in problems})
        super().__init__(f"{lines} of {n} event lines refused, nothing was stored: {shown}")
        self.detail = [
            {"loc": f"body.events[{i}].{field}", "msg": text, "type": "value_error"}
            for i, field, text in problems
        ]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse(problems: list[tuple[int, str, str]], n: int) -> None:
    raise EventLinesRefused(problems, n)


def bound_problems(
    raw: pd.DataFrame, *, max_value: float = MAX_VALUE
) -> list[tuple[int, str, str]]:
    """Lines no real purchase has (non-text ids, non-finite or huge numbers): one
    ``(line, field, why)`` per problem, by position in the request.

    Parameters
    ----------
    raw
        The request's lines as a frame, shape (n, k).
    max_value
        Largest quantity or price a line may have.

    Returns
    -------
    list of (int, str, str)
        ``(line, field, why)`` per problem.
    """
    problems = []
    for col in _ID_COLUMNS:
        if col not in raw.columns:
            continue
        for i, value in enumerate(raw[col].tolist()):
            if value is not None and not isinstance(value, str) and not pd.isna(value):
                problems.append((i, col, f"{col} must be text, got {value!r}"))
            elif isinstance(value, str) and _CONTROL.search(value):
                # A NUL or other control character: stored as is, it breaks CSV exports.
                problems.append((i, col, f"{col} {value!r} holds a control character"))
    for col in (s.QUANTITY, s.UNIT_PRICE):
        if col not in raw.columns:
            continue
        values = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values) | (np.abs(values) > max_value)
        bad &= raw[col].notna().to_numpy()
        given = raw[col].tolist()
        for i in np.flatnonzero(bad):
            problems.append(
                (int(i), col, f"{col} {given[i]!r} is not a finite number within ±{max_value:,.0f}")
            )
    return problems


def check_events(
    raw: pd.DataFrame,
    *,
    max_future: pd.Timedelta = FUTURE_TOLERANCE,
    now: pd.Timestamp | None = None,
    max_value: float = MAX_VALUE,
) -> pd.DataFrame:
    """Validate event lines as one unit: every line is kept, or the whole set is refused.

    The same validator as training (:func:`features.validate.validate_transactions`)
    plus bounds (:func:`bound_problems`) and a clock check; a refusal names every
    refused line of every check at once, so a client fixes its batch in one round.

    Parameters
    ----------
    raw
        Shape (n, k): the transactions-contract columns (channel and category optional).
    max_future
        A timestamp later than ``now + max_future`` is refused (a wrong clock or unit).
    max_value
        Largest absolute quantity or unit price.
    now
        The clock lines may not be later than (plus ``max_future``); None: the current time.

    Returns
    -------
    pandas.DataFrame
        Validated lines, shape (m, ...), as :func:`validate_transactions` keeps them;
        m < n when lines repeat an earlier line of ``raw`` exactly (kept once).

    Raises
    ------
    KizunaInputError
        Naming each refused line (position in the request) and why.
    """
    if len(raw) == 0:
        raise KizunaInputError("no event lines given")
    raw = raw.reset_index(drop=True)
    problems = bound_problems(raw, max_value=max_value)
    named = {line for line, _, _ in problems}
    checked = validate_transactions(raw)
    # Exact repeats within the request follow training's duplicate_row rule: the
    # first is kept, the repeats are skipped (and counted as duplicates), not refused.
    refused = checked.set_aside[checked.set_aside[s.REASON] != DUPLICATE_ROW]
    problems += [
        (int(row), REASON_FIELDS.get(reason, s.TIMESTAMP), REASON_TEXT.get(reason, reason))
        for row, reason in zip(refused[s.ROW_ID], refused[s.REASON], strict=True)
        if int(row) not in named  # one cause per line: the bound it broke
    ]
    kept = checked.kept
    now = utc_now() if now is None else now
    future = (kept[s.TIMESTAMP] > now + max_future).to_numpy()
    problems += [
        (
            int(kept[s.ROW_ID].iloc[i]),
            s.TIMESTAMP,
            f"timestamp {kept[s.TIMESTAMP].iloc[i]} lies in the future "
            "(send UTC timestamps of purchases that happened)",
        )
        for i in np.flatnonzero(future)
        if int(kept[s.ROW_ID].iloc[i]) not in named
    ]
    if problems:
        _refuse(sorted(problems), len(raw))
    return kept


def check_event_request(
    events: list[Any], *, max_value: float = MAX_VALUE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lines of an ``/events`` request, as given and as checked by :func:`check_events`.

    Parameters
    ----------
    events
        The request's :class:`serving.schemas.PurchaseEvent` lines.
    max_value
        Largest quantity or price a line may have.

    Returns
    -------
    (given, lines)
        ``given``: every field of every line (``recommendation_id`` too), shape
        (n, k); ``lines``: the checked lines without repeats, for the store.
    """
    given = pd.DataFrame([e.model_dump() for e in events])
    return given, check_events(given.drop(columns=["recommendation_id"]), max_value=max_value)
