"""Who bought (or returned) an item lately: the one rule that leaves them out of an audience.

``/audience``, ``kizuna score audience`` and the audience evaluation of
``kizuna train`` skip a customer for an item when any of their lines of that
item, a purchase or a return, lies in the ``days`` before ``as_of``: someone
who just bought it or just sent it back is not the audience for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s


def recent_item_lines(lines: pd.DataFrame, as_of: pd.Timestamp, days: float) -> np.ndarray:
    """Bool, shape (len(lines),): the line's ``timestamp`` is in ``[as_of - days, as_of)``.

    Parameters
    ----------
    lines
        Order lines with a ``timestamp`` column (purchases and returns alike).
    as_of
        The end of the window (exclusive).
    days
        The window's length; 0 or less selects nothing.

    Returns
    -------
    numpy.ndarray
        Shape (len(lines),), bool.
    """
    if days <= 0 or len(lines) == 0:
        return np.zeros(len(lines), dtype=bool)
    when = pd.to_datetime(lines[s.TIMESTAMP])
    start = pd.Timestamp(as_of) - pd.Timedelta(days=days)
    return ((when >= start) & (when < pd.Timestamp(as_of))).to_numpy()
