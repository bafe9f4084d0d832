"""Reading a cutoff: ``as_of`` values and ISO 8601 text as naive ``pd.Timestamp``.

Each raises a :class:`KizunaInputError` that names the argument and the value.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError


def as_of_timestamp(as_of: Any, *, name: str = "as_of") -> pd.Timestamp:
    """``as_of`` as a naive nanosecond ``pd.Timestamp``.

    Accepts a ``datetime`` (``pd.Timestamp`` is one), a ``date``, a
    ``numpy.datetime64`` or ISO 8601 text starting ``YYYY-MM-DD``. Raises a
    :class:`KizunaInputError` (a ``ValueError``) naming ``name`` and the value
    for anything else, for NaT and for a time zone.

    Parameters
    ----------
    as_of
        The cutoff.
    name
        The argument named in the error.

    Returns
    -------
    pandas.Timestamp
        Naive, nanosecond resolution.
    """
    if isinstance(as_of, str):
        as_of = iso_text_timestamp(as_of, name=name)
    elif not isinstance(as_of, (datetime.date, np.datetime64)):
        # pd.Timestamp would take a number as nanoseconds since 1970 (and a bool as 0 or 1)
        raise KizunaInputError(
            f"must be a datetime, date or ISO 8601 text such as '2024-01-31', not "
            f"{type(as_of).__name__}",
            column=name, values=[as_of],
        )  # fmt: skip
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise KizunaInputError(
            f"must be a timestamp ({exc})", column=name, values=[as_of]
        ) from None
    if ts is pd.NaT:
        raise KizunaInputError("must be a timestamp, not missing", column=name, values=[as_of])
    if ts.tzinfo is not None:
        raise KizunaInputError(
            "must be naive (UTC clock, no time zone), like the validated timestamps",
            column=name, values=[as_of],
        )  # fmt: skip
    return ts.as_unit("ns")


def iso_text_timestamp(text: str, *, name: str | None = "as_of") -> pd.Timestamp:
    """ISO 8601 text, ``YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM]``, as a ``pd.Timestamp``.

    A zone is kept (the caller refuses or converts it). Other text, such as
    ``01/02/2024`` (read differently in different countries) or ``20240131``,
    raises a :class:`KizunaInputError` naming ``name`` (if given) and the text.

    Parameters
    ----------
    text
        The text to read.
    name
        The column or option named in the error; None: none.

    Returns
    -------
    pandas.Timestamp
        Zoned if the text gives an offset.
    """
    stripped = text.strip()
    if not _ISO_TEXT.fullmatch(stripped):
        raise KizunaInputError(
            "must be an ISO 8601 date or time, YYYY-MM-DD[THH:MM[:SS]] (other text, "
            "such as 01/02/2024, reads differently in different countries)",
            column=name, values=[text],
        )  # fmt: skip
    try:
        return pd.Timestamp(stripped)
    except ValueError as exc:
        raise KizunaInputError(f"must be a timestamp ({exc})", column=name, values=[text]) from None


def data_covers(last_purchase: pd.Timestamp, instant: pd.Timestamp) -> bool:
    """Whether a log whose last purchase is ``last_purchase`` still covers ``instant``.

    A day's grace: an export dated by day ends at the start of its last day's
    date, so the rest of that day counts as covered.

    Parameters
    ----------
    last_purchase
        The log's last purchase.
    instant
        An ``as_of`` or the end of a label window.

    Returns
    -------
    bool
    """
    return instant <= last_purchase + pd.Timedelta(days=1)


# ISO 8601 text: a date, optionally a time (T or a space), fractions and an offset (which
# as_of_timestamp then refuses by name, as for a zoned datetime).
_ISO_TEXT = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
