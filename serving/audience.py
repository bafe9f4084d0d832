"""Audiences from the served models: who is most likely to buy an item or a category soon.

The scoring rule is :mod:`models.audience`; this module gathers its inputs from a
:class:`serving.live.Served` snapshot (recommender scores over the catalogue, kept
once per snapshot by :mod:`serving.audience_scores`; P(order) from the BG/NBD of the
loaded models; recent buyers from the history).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.control_groups import CONTROL, assign_groups
from kizuna.models.audience import (
    RANK,
    best_target_score,
    scaled_affinity,
    score_ranges,
    target_rank,
    top_audience,
)
from kizuna.serving.audience_cache import kept_scores
from kizuna.serving.audience_inputs import p_order_all, skip_recent_buyers
from kizuna.serving.audience_scores import ScoresPending
from kizuna.serving.catalogue_scores import CHUNK, score_rows


class AudienceError(Exception):
    """A request that cannot be answered, with the HTTP status to use (and when to retry)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        retry_after: int | None = None,
        loc: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.loc = loc  # the request field refused (a 422 names it)


def target_mask(served: Any, *, item_id: str | None, category: str | None) -> np.ndarray:
    """Bool over the catalogue's items: the item, or the category's items.

    Parameters
    ----------
    served
        The loaded snapshot.
    item_id
        The target item, or None.
    category
        The target category, or None.

    Returns
    -------
    numpy.ndarray
        Shape (n_items,), bool.
    """
    cat = served.state.catalogue
    if (item_id is None) == (category is None):
        raise AudienceError(422, "give exactly one of item_id and category", loc="body")
    if item_id is not None:
        code = int(cat.codes([item_id])[0])
        if code < 0:
            raise AudienceError(404, "unknown item_id: the served catalogue has no such item")
        mask = np.zeros(cat.n_items, bool)
        mask[code] = True
        return mask
    if "casefold_categories" not in served.state.extras:
        served.state.extras["casefold_categories"] = np.array(
            [None if c is None else str(c).casefold() for c in cat.categories], dtype=object
        )
    mask = served.state.extras["casefold_categories"] == str(category).casefold()
    if not mask.any():
        raise AudienceError(422, "unknown category: no served item has it", loc="body.category")
    return mask


def audience_frame(
    served: Any,
    *,
    item_id: str | None = None,
    category: str | None = None,
    n: int = 100,
    horizon_days: int = 90,
    exclude_days: float = 30.0,
    max_kept_bytes: int = 0,
    wait: float | None = None,
    campaign_id: str | None = None,
    control_share: float = 0.0,
) -> tuple[pd.DataFrame, int, np.ndarray]:
    """The audience, best first, with the raw parts of its score.

    Parameters
    ----------
    max_kept_bytes
        Keep the recommender's scores of every customer with the snapshot
        (:mod:`serving.audience_scores`) when they fit in this many bytes;
        0: score in blocks, keep nothing (a one-off audience).
    wait
        Longest wait in seconds for kept scores still being computed, then an
        :class:`AudienceError` 503 with ``retry_after``; None: compute them here.
    served
        The snapshot to answer from.
    item_id, category
        The target: one item, or every item of a category.
    n
        Most customers returned.
    horizon_days
        Horizon of the order probability.
    exclude_days
        Customers who bought a target item this many days before are left out.
    campaign_id, control_share
        With a campaign: a ``group`` column, "control" for the members the
        campaign holds out (:func:`features.control_groups.assign_groups`, the
        split ``/next_best_offer`` makes), else "treated".

    Returns
    -------
    (audience, excluded, targets)
        ``audience``: :func:`models.audience.top_audience` columns plus
        ``item_rank`` and ``bought_before``; ``excluded``: recent buyers skipped
        while filling it (customers ranked above the last member who bought
        the target recently).
    """
    if not 0 <= control_share < 1:  # 1 would hold everyone out (the request model's bounds)
        raise AudienceError(422, "must be in [0, 1)", loc="body.control_share")
    if control_share > 0 and not campaign_id:  # the split hashes the campaign's id
        raise AudienceError(422, "required with control_share above 0", loc="body.campaign_id")
    rec = served.models.recommender
    if rec is None:
        raise AudienceError(503, "no recommender model is loaded: audiences need one")
    st = served.state
    targets = target_mask(served, item_id=item_id, category=category)
    kept = kept_scores(served, max_kept_bytes)
    if kept is not None:
        try:
            aff, best = kept.affinity(st, targets, wait=wait)
        except ScoresPending as exc:
            raise AudienceError(503, exc.message, retry_after=exc.retry_after) from None
        ranks = kept.ranks
    else:
        aff, best = np.full(st.n_customers, np.nan), np.full(st.n_customers, -np.inf)
        for lo in range(0, st.n_customers, CHUNK):
            pos = np.arange(lo, min(lo + CHUNK, st.n_customers))
            scores = score_rows(st, rec.model, pos)
            best[pos] = best_target_score(scores[:, targets])
            lo_, hi_ = score_ranges(scores)
            aff[pos] = scaled_affinity(best[pos], lo_, hi_)

        def ranks(rows: np.ndarray, best_rows: np.ndarray) -> np.ndarray:
            return target_rank(score_rows(st, rec.model, rows), best_rows)

    p_order = p_order_all(served, horizon_days)
    excluded = skip_recent_buyers(st, aff * p_order, targets, exclude_days, n)
    out = top_audience(st.features.index, aff, p_order, excluded, n)
    rows = st.positions(out[s.CUSTOMER_ID].tolist())
    out[RANK] = ranks(rows, best[rows]) if len(rows) else np.zeros(0, np.int64)
    history = st.history_rows(rows) if len(rows) else None
    out["bought_before"] = (
        np.asarray(history[:, targets].sum(axis=1)).ravel() > 0 if history is not None else []
    )
    if campaign_id:
        groups = assign_groups(out[s.CUSTOMER_ID], campaign_id, control_share)
        out[s.GROUP] = groups[s.GROUP].to_numpy()
    return out, int(excluded.sum()), targets


def audience_response(
    served: Any, req: Any, *, max_kept_bytes: int = 0, wait: float | None = None
) -> Any:
    """``/audience``: :func:`audience_frame` as an :class:`serving.schemas.AudienceResponse`.

    Parameters
    ----------
    served
        The snapshot to answer from.
    req
        The ``/audience`` request.
    max_kept_bytes
        Memory budget of the kept scores (0: score per request).
    wait
        Seconds to wait for a background scoring, or None to score in the caller.

    Returns
    -------
    serving.schemas.AudienceResponse
    """
    from kizuna.models.audience import reasons
    from kizuna.serving import schemas as api

    frame, excluded, _ = audience_frame(
        served, item_id=req.item_id, category=req.category, n=req.n,
        horizon_days=req.horizon_days, exclude_days=req.exclude_days,
        max_kept_bytes=max_kept_bytes, wait=wait,
        campaign_id=req.campaign_id, control_share=req.control_share,
    )  # fmt: skip
    n_items = served.state.catalogue.n_items
    members = [
        {
            "customer_id": row["customer_id"],
            "score": float(row["score"]),
            "affinity": float(row["affinity"]),
            "p_order": float(row["p_order"]),
            **({"group": row[s.GROUP]} if s.GROUP in row else {}),
            "reasons": reasons(
                row,
                horizon_days=req.horizon_days,
                n_items=n_items,
                bought_before=bool(row["bought_before"]),
            ),
        }
        for row in frame.to_dict("records")  # plain dicts: a Series per row costs far more
    ]
    return api.AudienceResponse.model_validate(
        {
            "item_id": req.item_id,
            "category": req.category,
            "horizon_days": req.horizon_days,
            "customers": members,
            "excluded_recent_buyers": excluded,
            "campaign_id": req.campaign_id,
            "control": int((frame[s.GROUP] == CONTROL).sum()) if s.GROUP in frame else 0,
            "model_versions": served.versions,
        }
    )
