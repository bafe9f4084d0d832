"""Deterministic control groups: a hash of (campaign, customer) decides who is held out.

A customer's place in ``[0, 1)`` is the first 8 bytes of
``blake2b(campaign_id + "\\x1f" + customer_id, digest_size=8)`` read as a big-endian
unsigned integer over 2**64. The customer is in the control group when that
number is below ``control_share``. Consequences:

- the same customer, campaign and share give the same group in every process,
  on every machine and Python version (``hashlib`` is specified; ``hash()`` is
  salted per process);
- a larger share only moves customers from treated to control, never back, so
  raising the share mid-campaign keeps earlier controls;
- different campaigns give independent draws, so one customer is not always
  the one held out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError

TREATED = "treated"
CONTROL = "control"

_SEP = "\x1f"  # unit separator: ids cannot run into each other ("a"+"bc" vs "ab"+"c")


def hash_units(customer_ids: Iterable[Any], campaign_id: str) -> np.ndarray:
    """Each customer's stable place in ``[0, 1)`` for ``campaign_id``.

    Parameters
    ----------
    customer_ids
        Shape (n,): ids, compared as text (``12`` and ``"12"`` are the same).
    campaign_id
        Any text; changes every draw.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64 in ``[0, 1)``. About 1 microsecond per id.
    """
    if not isinstance(campaign_id, str) or not campaign_id:
        raise KizunaInputError(
            "campaign id must be non-empty text", column="campaign_id", values=[campaign_id]
        )
    prefix = (campaign_id + _SEP).encode()
    ids = _as_text(customer_ids)
    digests = b"".join(
        hashlib.blake2b(prefix + cid.encode(), digest_size=8).digest() for cid in ids
    )
    raw = np.frombuffer(digests, dtype=">u8")
    # Top 53 bits: exact in float64, so the unit is strictly below 1.
    return (raw >> np.uint64(11)).astype(np.float64) / float(2**53)


def in_control(customer_ids: Iterable[Any], campaign_id: str, control_share: float) -> np.ndarray:
    """Shape (n,) bool: True for customers held out of ``campaign_id``.

    Parameters
    ----------
    customer_ids
        Customer ids, shape (n,).
    campaign_id
        The campaign: each campaign draws its own control group.
    control_share
        Share of customers held out, in [0, 1].

    Returns
    -------
    numpy.ndarray
        Shape (n,), bool.
    """
    share = _check_share(control_share)
    return hash_units(customer_ids, campaign_id) < share


def assign_groups(
    customer_ids: Iterable[Any],
    campaign_id: str,
    control_share: float,
    *,
    customer_col: str = s.CUSTOMER_ID,
) -> pd.DataFrame:
    """The assignment as a frame, ready to log.

    Parameters
    ----------
    customer_ids
        Customer ids, shape (n,).
    campaign_id
        The campaign: each campaign draws its own control group.
    control_share
        Share of customers held out, in [0, 1].
    customer_col
        Name of the id column of the result.

    Returns
    -------
    pandas.DataFrame
        Shape (n, 4): ``customer_id``, ``campaign_id``, ``group`` ("treated" or
        "control") and ``hash_unit``; same order as the input.
    """
    ids = _as_text(customer_ids)
    units = hash_units(ids, campaign_id)
    control = units < _check_share(control_share)
    return pd.DataFrame({
        customer_col: pd.array(ids, dtype="str"),
        s.CAMPAIGN_ID: pd.array([campaign_id] * len(ids), dtype="str"),
        s.GROUP: pd.array(np.where(control, CONTROL, TREATED), dtype="str"),
        s.HASH_UNIT: units,
    })  # fmt: skip


def _check_share(share: float) -> float:
    value = float(share)
    if not 0.0 <= value <= 1.0:
        raise KizunaInputError(
            "control share must be in [0, 1]", column="control_share", values=[share]
        )
    return value


def _as_text(customer_ids: Iterable[Any]) -> list[str]:
    values = pd.Series(
        list(customer_ids)
        if not isinstance(customer_ids, pd.Series | pd.Index | np.ndarray)
        else customer_ids
    )
    if values.isna().any():
        raise KizunaInputError(
            "customer ids must not be missing",
            column=s.CUSTOMER_ID,
            values=values[values.isna()].index,
        )
    return [str(v) for v in values.tolist()]
