"""Cooldowns and contact caps, read off a log of past contacts (pure; no I/O).

The contact log is a frame with one row per contact made: who, which offer,
when (and optionally the channel and campaign). Appending to a durable log is
I/O and lives in :mod:`serving.contact_store`.

Rules, per customer, at decision time ``now`` (contacts after ``now`` are ignored,
so a back-test at an earlier ``now`` sees only the past):

- offer cooldown: an offer made at ``t`` may not be made again while
  ``now - t < cooldown_days``;
- offer cap: at most ``max_contacts`` contacts with that offer with
  ``now - t < period_days``;
- contact policy (all offers together): at most ``max_contacts`` contacts with
  ``now - t < period_days``, and none while ``now - t_last < min_days_between``.

A decision run contacts each customer at most once (with the rank-1 offer), so
caps that hold on the log before the run still hold after it is appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import NO_OFFER, OfferCatalogue

LOG_COLUMNS: tuple[str, ...] = (s.CUSTOMER_ID, s.OFFER_ID, s.CONTACTED_AT, s.CHANNEL, s.CAMPAIGN_ID)

_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class ContactBlocks:
    """What the log forbids now, for n customers and m offers.

    Attributes
    ----------
    cooldown
        Shape (n, m): the offer was made to the customer within its cooldown.
    offer_cap
        Shape (n, m): the offer's own contact cap is reached.
    policy
        Shape (n,): the customer's cross-offer cap or minimum gap is reached.
    last_contact
        Shape (n, m): days since the offer was last made (inf if never).
    recent_contacts
        Shape (n,): contacts (any offer) within the policy period.
    """

    cooldown: np.ndarray
    offer_cap: np.ndarray
    policy: np.ndarray
    last_contact: np.ndarray
    recent_contacts: np.ndarray

    @property
    def blocked(self) -> np.ndarray:
        """Shape (n, m): the offer may not be made now."""
        return self.cooldown | self.offer_cap | self.policy[:, None]


def empty_log() -> pd.DataFrame:
    """A contact log with no rows and the right dtypes.

    Returns
    -------
    pandas.DataFrame
        Shape (0, k), the log's columns.
    """
    return pd.DataFrame({
        s.CUSTOMER_ID: pd.Series([], dtype="str"),
        s.OFFER_ID: pd.Series([], dtype="str"),
        s.CONTACTED_AT: pd.Series([], dtype="datetime64[us]"),
        s.CHANNEL: pd.Series([], dtype="str"),
        s.CAMPAIGN_ID: pd.Series([], dtype="str"),
    })  # fmt: skip


def contact_blocks(
    log: pd.DataFrame | None,
    customer_ids: Sequence[Any] | pd.Index,
    catalogue: OfferCatalogue,
    now: pd.Timestamp | str,
    *,
    customer_col: str = s.CUSTOMER_ID,
    offer_col: str = s.OFFER_ID,
    time_col: str = s.CONTACTED_AT,
) -> ContactBlocks:
    """Apply cooldowns and caps of ``catalogue`` to ``log`` for the given customers.

    Parameters
    ----------
    log
        Past contacts, shape (n_contacts, >= 3); ``None`` or empty: nothing blocks.
        Rows for customers or offers not asked about are ignored; ``no_offer``
        rows never count.
    customer_ids
        Shape (n,): the customers deciding now, unique.
    catalogue
        Offers (m of them) with their caps, and the contact policy.
    now
        Decision time (naive timestamp).
    customer_col, offer_col, time_col
        The log's columns (the canonical ones by default).

    Returns
    -------
    ContactBlocks
        Vectorised: O(n_contacts + n * m).
    """
    now_ts = pd.Timestamp(now)
    ids = pd.Index(np.asarray(customer_ids, dtype=object).astype(str), dtype=object)
    n, m = len(ids), len(catalogue.offers)
    never = np.full((n, m), np.inf)
    if log is None or len(log) == 0:
        return ContactBlocks(
            cooldown=np.zeros((n, m), bool), offer_cap=np.zeros((n, m), bool),
            policy=np.zeros(n, bool), last_contact=never, recent_contacts=np.zeros(n, np.int64),
        )  # fmt: skip
    for col in (customer_col, offer_col, time_col):
        if col not in log.columns:
            raise KizunaInputError(
                f"the contact log needs columns {[customer_col, offer_col, time_col]}",
                column=col,
            )
    times = _timestamps(log[time_col], time_col)
    age_days = (now_ts.as_unit("ns").value - times) / _NS_PER_DAY
    cust = positions(ids, log[customer_col].astype("str"))
    offer_text = log[offer_col].astype("str")
    offer_pos = positions(pd.Index(catalogue.offer_ids), offer_text)
    is_offer = offer_text.to_numpy(dtype=object, na_value=None) != NO_OFFER
    past = (age_days >= 0) & (cust >= 0) & is_offer
    # Policy: every real contact counts, also offers no longer in the catalogue.
    policy_cfg = catalogue.contact_policy
    p_cust, p_age = cust[past], age_days[past]
    in_period = p_age < policy_cfg.period_days
    recent = np.bincount(p_cust[in_period], minlength=n)
    last_any = np.full(n, np.inf)
    np.minimum.at(last_any, p_cust, p_age)
    policy = last_any < policy_cfg.min_days_between
    if policy_cfg.max_contacts is not None:
        policy |= recent >= policy_cfg.max_contacts
    # Per offer.
    known = past & (offer_pos >= 0)
    k_cust, k_offer, k_age = cust[known], offer_pos[known], age_days[known]
    pair = k_cust * m + k_offer
    last = np.full(n * m, np.inf)
    np.minimum.at(last, pair, k_age)
    last = last.reshape(n, m)
    cooldown_days = np.array([o.caps.cooldown_days for o in catalogue.offers], dtype=float)
    period = np.array([o.caps.period_days for o in catalogue.offers], dtype=float)
    cap = np.array(
        [np.inf if o.caps.max_contacts is None else o.caps.max_contacts for o in catalogue.offers]
    )
    counted = k_age < period[k_offer]
    count = np.bincount(pair[counted], minlength=n * m).reshape(n, m)
    return ContactBlocks(
        cooldown=last < cooldown_days[None, :],
        offer_cap=count >= cap[None, :],
        policy=policy,
        last_contact=last,
        recent_contacts=recent,
    )


def contacts_from_decisions(
    decisions: pd.DataFrame,
    now: pd.Timestamp | str,
    *,
    channel: str | None = None,
    campaign_id: str | None = None,
) -> pd.DataFrame:
    """Contact-log rows for the decisions that will be sent: rank 1, not ``no_offer``,
    and not in a control group.

    Parameters
    ----------
    decisions
        Output of :func:`models.next_best_offer.decide` (optionally with a
        ``group`` column from a control-group assignment).
    now
        Contact time written to the log.
    channel
        The channel written to the log, or None.
    campaign_id
        The campaign written to the log, or None.

    Returns
    -------
    pandas.DataFrame
        Contact-log rows, shape (n_sent, k).
    """
    keep = (decisions["rank"] == 1) & (decisions[s.OFFER_ID] != NO_OFFER)
    if s.GROUP in decisions.columns:
        keep &= decisions[s.GROUP] != "control"
    sent = decisions.loc[keep]
    n = len(sent)
    chan = sent[s.CHANNEL] if s.CHANNEL in sent.columns else pd.Series([channel] * n, dtype="str")
    return pd.DataFrame({
        s.CUSTOMER_ID: sent[s.CUSTOMER_ID].astype("str").to_numpy(),
        s.OFFER_ID: sent[s.OFFER_ID].astype("str").to_numpy(),
        s.CONTACTED_AT: np.full(n, pd.Timestamp(now).as_unit("us").to_datetime64()),
        s.CHANNEL: pd.array(np.asarray(chan, dtype=object), dtype="str"),
        s.CAMPAIGN_ID: pd.array([campaign_id] * n, dtype="str"),
    })  # fmt: skip


def positions(keys: pd.Index, query: Any) -> np.ndarray:
    """Position of each ``query`` value in the unique ``keys``, -1 when absent; shape (len(query),).

    One factorize over both: several times faster than ``Index.get_indexer``
    on text ids (1M customers, 3M lookups in about a second).

    Parameters
    ----------
    keys
        Unique keys, shape (n_keys,).
    query
        Values to look up, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (len(query),), int64; -1 when absent.
    """
    key_values = np.asarray(keys, dtype=object)
    q = (
        query.to_numpy(dtype=object, na_value=None)
        if isinstance(query, pd.Series | pd.Index)
        else np.asarray(query, dtype=object)
    )
    codes, _ = pd.factorize(np.concatenate([key_values, q]))
    n = key_values.size
    found = codes[n:]
    return np.where((found >= 0) & (found < n), found, -1)


def _timestamps(values: pd.Series, column: str) -> np.ndarray:
    """Shape (n,) int64 nanoseconds since the epoch; bad or missing values fail."""
    parsed = (
        values
        if pd.api.types.is_datetime64_any_dtype(values.dtype)
        else pd.to_datetime(values, errors="coerce")
    )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise KizunaInputError(
            "contact times must be dates and times", column=column, values=values[bad].unique()
        )
    return parsed.astype("datetime64[ns]").to_numpy().astype(np.int64)


def fatigue_summary(
    log: pd.DataFrame | None,
    customer_ids: Sequence[Any] | pd.Index,
    catalogue: OfferCatalogue,
    now: pd.Timestamp | str,
) -> dict[str, Any]:
    """How many customers the global contact cap (the catalogue's contact policy) holds back now.

    Parameters
    ----------
    log, customer_ids, catalogue, now
        As for :func:`contact_blocks`; the cap counts every contact, whatever
        its offer and channel.

    Returns
    -------
    dict
        ``customers``, ``contacted_in_period`` (customers with at least one
        contact in the policy period), ``contacts_in_period``, ``capped`` (customers
        the policy blocks now: at ``max_contacts`` or within ``min_days_between``),
        and the policy's ``max_contacts``, ``period_days`` and ``min_days_between``.
    """
    blocks = contact_blocks(log, customer_ids, catalogue, now)
    policy = catalogue.contact_policy
    return {
        "customers": int(len(blocks.policy)),
        "contacted_in_period": int((blocks.recent_contacts > 0).sum()),
        "contacts_in_period": int(blocks.recent_contacts.sum()),
        "capped": int(blocks.policy.sum()),
        "max_contacts": policy.max_contacts,
        "period_days": float(policy.period_days),
        "min_days_between": float(policy.min_days_between),
    }


def own_contacts(log: pd.DataFrame | None, campaign_id: str | None, at: pd.Timestamp) -> np.ndarray:
    """Bool over ``log``'s rows: contacts a run of this same decision logged already.

    A rerun of ``kizuna score offers`` with the same ``campaign_id`` and
    decision time (a scheduler's retry) finds its first run's contacts in the
    log; they are not past contacts of this decision, so caps and cooldowns
    leave them out and they are not logged twice. Shape (len(log),).

    Parameters
    ----------
    log
        The contact log, or None.
    campaign_id
        This decision's campaign, or None.
    at
        This decision's time.

    Returns
    -------
    numpy.ndarray
        Shape (len(log),), bool.
    """
    if log is None or not campaign_id or s.CAMPAIGN_ID not in log.columns:
        return np.zeros(0 if log is None else len(log), dtype=bool)
    when = pd.to_datetime(log[s.CONTACTED_AT]).to_numpy()
    same = (log[s.CAMPAIGN_ID].astype("str") == campaign_id).to_numpy()
    return same & (when == pd.Timestamp(at).as_unit("us").to_datetime64())
