"""Timestamps of an ``/events`` request read as one column, as the file validator reads a file's.

The same parser (:func:`features.timestamps.parse_timestamps`, the default
rule) settles the day/month order over every line of a request, and its
errors say what an HTTP client can do instead of naming experiment settings.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import parse_timestamps


def settle_timestamps(events: Any) -> Any:
    """The request's text timestamps read as one column, as a file's are.

    The day/month order of ``05/02/2024`` is settled over every line (a
    ``13/01/2024`` elsewhere makes them all day-first), not line by line;
    both orders in one request are refused. Lines the column rule cannot read
    stay text, for their own line's error. Anything not a list of objects is
    left to the schema.

    Parameters
    ----------
    events
        The request's ``events`` as parsed JSON.

    Returns
    -------
    Any
        ``events`` with the text timestamps read; anything else unchanged.
    """
    if not isinstance(events, list):
        return events
    at = [
        i
        for i, e in enumerate(events)
        if isinstance(e, dict) and isinstance(e.get("timestamp"), str)
    ]
    if len(at) < 2:
        return events
    try:
        parsed = parse_timestamps(pd.Series([events[i]["timestamp"] for i in at], dtype=object))
    except KizunaInputError as exc:
        if any(_unreadable_alone(events[i]["timestamp"]) for i in at):
            return events  # each such line gets its own error, at its own path
        raise ValueError(for_events(str(exc))) from None  # readable alone, not together
    out = list(events)
    for i, stamp in zip(at, parsed, strict=True):
        if not pd.isna(stamp):
            out[i] = {**events[i], "timestamp": stamp.to_pydatetime(warn=False)}
    return out


def for_events(message: str) -> str:
    """A timestamp error of the file validator, with what an ``/events`` client can do:
    an experiment setting means nothing to it.

    Parameters
    ----------
    message
        The validator's message.

    Returns
    -------
    str
    """
    reason = message.removeprefix("column 'timestamp': ").split("; declare")[0]
    return f"timestamp {reason}; send ISO 8601 text, e.g. 2024-01-13T10:00:00"


def _unreadable_alone(text: str) -> bool:
    try:
        parse_timestamps(pd.Series([text], dtype=object))
    except KizunaInputError:
        return True
    return False
