"""Recommendations and similar items: pure functions from the served models to responses.

As :mod:`serving.scoring`: each takes a :class:`serving.live.Served` and a validated
request model, returns a response model or raises :class:`serving.scoring.ServingError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizuna.features.errors import KizunaInputError
from kizuna.serving import schemas as api
from kizuna.serving.catalogue import Catalogue
from kizuna.serving.customer_state import CustomerState
from kizuna.serving.live import Served
from kizuna.serving.scoring import ServingError

BOUGHT_BEFORE = "bought before"
SIMILAR_TO = "similar to {}"
BOUGHT_TOGETHER = "often bought together with {}"
CUSTOMERS_LIKE_YOU = "popular with customers like you"
POPULAR_IN = "popular in category {}"
TRENDING = "trending now"

# Component names of models.recommenders.hybrid.COMPONENTS -> reason kind.
_COMPONENT_REASON = {
    "repurchase": "bought",
    "item_knn": "similar",
    "als": "like_you",
    "trending": "popular",
    "ease": "together",
}


def _item_fields(cat: Catalogue, code: int) -> dict[str, Any]:
    return {
        "item_id": str(cat.item_ids[code]),
        "name": cat.names[code],
        "category": cat.categories[code],
    }


def _item_label(cat: Catalogue, code: int) -> str:
    name = cat.names[code]
    return f"{name} ({cat.item_ids[code]})" if name else str(cat.item_ids[code])


def recommend(served: Served, req: api.RecommendRequest) -> api.RecommendResponse:
    """Top-k items for one customer; the cold-start fallback for customers without history.

    Parameters
    ----------
    served
        The snapshot to answer from.
    req
        The ``/recommend`` request.

    Returns
    -------
    RecommendResponse
    """
    st = served.state
    cat = st.catalogue
    try:
        mask = cat.mask(
            categories=req.categories,
            in_stock_only=req.in_stock_only,
            exclude_items=req.exclude_items,
        )
    except KizunaInputError as exc:
        raise ServingError(422, str(exc)) from None
    pos = st.position(req.customer_id)
    rec = served.models.recommender
    picks: list[tuple[int, float, str]] = []
    fallback = True
    if pos >= 0 and rec is not None:
        row = st.history_rows(np.array([pos]))
        if row.nnz:
            picks = _personal(served, req, row, mask)
            fallback = False
    if fallback:
        picks = _cold_start(st, req.customer_id, req.k, mask)
    elif len(picks) < req.k:
        # The model ran out of items it may score (e.g. a neighbour model and a
        # short history): top up with trending items, scored 0 as fill-ins.
        allowed = mask.copy()
        allowed[[code for code, _, _ in picks]] = False
        if rec.model.drops_seen(req.exclude_purchased):  # as the model's own picks
            allowed[st.history_rows(np.array([pos])).indices] = False
        picks += [
            (code, 0.0, reason)
            for code, _, reason in _cold_start(st, None, req.k - len(picks), allowed)
        ]
    items = [
        api.RecommendedItem(score=score, reason=reason, **_item_fields(cat, code))
        for code, score, reason in picks
    ]
    return api.RecommendResponse(
        customer_id=req.customer_id, items=items, fallback=fallback, model_versions=served.versions
    )


def _personal(
    served: Served, req: api.RecommendRequest, row: Any, mask: np.ndarray
) -> list[tuple[int, float, str]]:
    st = served.state
    rec = served.models.recommender
    user = np.array([st.recommender_code(req.customer_id)], dtype=np.int64)
    model = rec.model
    if hasattr(model, "recommend_with_reasons"):
        from kizuna.models.recommenders.hybrid import COMPONENTS

        out = model.recommend_with_reasons(
            user, row, req.k, exclude_seen=req.exclude_purchased, item_mask=mask
        )
        kinds = [
            [
                _COMPONENT_REASON.get(COMPONENTS[c], "popular") if c >= 0 else None
                for c in out.component[0]
            ]
        ]
        codes, scores, anchors = out.item_codes, out.scores, out.anchor_item
    else:
        codes, scores = model.recommend(
            user, row, req.k, exclude_seen=req.exclude_purchased, item_mask=mask
        )
        kinds = [[None] * codes.shape[1]]
        anchors = np.full(codes.shape, -1)
    seen = set(row.indices.tolist())
    picks = []
    for j, code in enumerate(codes[0]):
        if code < 0:
            break
        reason = _reason(st.catalogue, int(code), kinds[0][j], int(anchors[0][j]), seen)
        picks.append((int(code), float(scores[0][j]), reason))
    return picks


def _reason(cat: Catalogue, code: int, kind: str | None, anchor: int, seen: set[int]) -> str:
    """The short reason shown next to a recommended item."""
    if kind == "bought" or (kind is None and code in seen):
        return BOUGHT_BEFORE
    if kind == "similar" and anchor >= 0:
        return SIMILAR_TO.format(_item_label(cat, anchor))
    if kind == "together" and anchor >= 0:
        return BOUGHT_TOGETHER.format(_item_label(cat, anchor))
    if kind == "like_you" or kind is None:
        return CUSTOMERS_LIKE_YOU
    category = cat.categories[code]
    return POPULAR_IN.format(category) if category else TRENDING


def _cold_start(
    st: CustomerState, customer_id: str | None, k: int, mask: np.ndarray
) -> list[tuple[int, float, str]]:
    """Stated preferences first, then trending: items and reasons."""
    prefs = st.preferences.get(customer_id, []) if customer_id is not None else []
    codes, scores = st.cold_start.recommend_for_categories([prefs], k, item_mask=mask)
    wanted = {p.casefold() for p in prefs}
    cat = st.catalogue
    picks = []
    for code, score in zip(codes[0], scores[0], strict=True):
        if code < 0:
            break
        category = cat.categories[code]
        in_pref = category is not None and category.casefold() in wanted
        reason = POPULAR_IN.format(category) if in_pref or (category and not wanted) else TRENDING
        picks.append((int(code), float(score), reason))
    return picks


def similar_items(served: Served, req: api.SimilarItemsRequest) -> api.SimilarItemsResponse:
    """Items bought together with one item ("customers who bought this also bought").

    Parameters
    ----------
    served
        The snapshot to answer from.
    req
        The ``/similar_items`` request.

    Returns
    -------
    SimilarItemsResponse
    """
    st = served.state
    cat = st.catalogue
    code = int(cat.codes([req.item_id])[0])
    if code < 0:
        raise ServingError(404, "unknown item_id: the served catalogue has no such item")
    try:
        mask = cat.mask(categories=req.categories, in_stock_only=req.in_stock_only)
    except KizunaInputError as exc:
        raise ServingError(422, str(exc)) from None
    rec = served.models.recommender
    if rec is not None:
        codes, scores = rec.model.similar_items(np.array([code]), req.k, item_mask=mask)
        codes, scores = codes[0], scores[0]
    else:
        codes, scores = _co_purchase(st, code, req.k, mask)
    items = [
        api.SimilarItem(score=float(sc), **_item_fields(cat, int(c)))
        for c, sc in zip(codes, scores, strict=True)
        if c >= 0
    ]
    return api.SimilarItemsResponse(
        item_id=req.item_id, items=items, model_versions=served.versions
    )


def _co_purchase(
    st: CustomerState, code: int, k: int, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of buyer sets, for a model set without a recommender."""
    buyers = st.buyers()
    counts = np.asarray((buyers[:, [code]].T @ buyers).todense()).ravel().astype(float)
    sizes = np.asarray(buyers.sum(axis=0)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = np.where(sizes > 0, counts / np.sqrt(sizes * max(sizes[code], 1)), 0.0)
    sim[code] = -np.inf
    sim[~mask] = -np.inf
    sim[sim <= 0] = -np.inf
    order = np.argsort(-sim, kind="stable")[:k]
    order = order[np.isfinite(sim[order])]
    return order, sim[order]
