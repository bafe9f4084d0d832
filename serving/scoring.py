"""Pure functions from the served models and customer state to responses.

Nothing here knows about HTTP: each function takes a :class:`serving.live.Served`
and a validated request model and returns a response model, or raises
:class:`ServingError` with the status the service should answer with. So all
the decisions (risk bands, reasons, filters, the cold-start fallback) are
unit-testable without a server.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.models.btyd_features import EXPECTED_PURCHASES, P_ALIVE
from kizuna.serving import next_order
from kizuna.serving import schemas as api
from kizuna.serving.live import Served
from kizuna.serving.row_scores import column_values, predict_rows, reasons_for_rows


class ServingError(Exception):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(
        self, status: int, message: str, *, loc: str | None = None, kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: The request field at fault (``body.customer_ids``): a 422 then names it in ``detail``.
        self.loc = loc
        #: The model kind a 503 lacks: the service words its cause as ``/readyz`` does.
        self.kind = kind


# --- shared helpers --------------------------------------------------------------------


def risk_band(probability: float, bands: tuple[float, float]) -> str:
    """``low`` below ``bands[0]``, ``high`` from ``bands[1]``, ``medium`` between.

    Parameters
    ----------
    probability
        A churn probability.
    bands
        The two thresholds, low then high.

    Returns
    -------
    str
        ``low``, ``medium`` or ``high``.
    """
    low, high = bands
    if probability >= high:
        return "high"
    return "medium" if probability >= low else "low"


def json_number(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become None.

    Parameters
    ----------
    value
        A number, or anything ``float`` reads.

    Returns
    -------
    float or None
    """
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def require_model(served: Served, kind: str) -> Any:
    bundle = getattr(served.models, kind)
    if bundle is None:
        if kind in served.models.broken:
            raise ServingError(503, served.models.broken[kind])
        if kind in served.missing_kinds:
            raise ServingError(503, f"no {kind} model is served", kind=kind)
        raise ServingError(
            503,
            f"no {kind} model is loaded: the model set has none "
            "(train one, or check KIZUNA_MODEL_SOURCE)",
        )
    return bundle


def check_batch(ids: list[str], limit: int) -> None:
    if not 1 <= len(ids) <= limit:
        raise ServingError(
            422,
            f"must hold 1 to {limit:,} ids, got {len(ids):,} (KIZUNA_MAX_BATCH); split the batch",
            loc="body.customer_ids",
        )


# --- churn, value, profile --------------------------------------------------------------------


def churn_scores(
    served: Served, req: api.ChurnRequest, *, max_batch: int, bands: tuple[float, float]
) -> api.ChurnResponse:
    """Calibrated churn probability, risk band and reasons per id; unknown ids flagged.

    Parameters
    ----------
    served
        The snapshot to answer from.
    req
        The ``/churn_score`` request.
    max_batch
        Most ids per request.
    bands
        The risk band thresholds, low then high.

    Returns
    -------
    ChurnResponse
    """
    check_batch(req.customer_ids, max_batch)
    bundle = require_model(served, "churn")
    st = served.state
    pos = _positions(st.frames["churn"].index, req.customer_ids)
    known = np.flatnonzero(pos >= 0)
    proba: np.ndarray = np.empty(0)
    reasons: list[list[dict[str, Any]]] = []
    if known.size:
        proba = predict_rows(st, "churn", bundle, pos[known])
        if req.top_reasons:
            reasons = reasons_for_rows(st, "churn", bundle, pos[known], req.top_reasons)
    # Plain dicts validated in one call: per-object construction would cost
    # more than the scoring for a batch of 10,000.
    results: list[dict[str, Any]] = [
        {"customer_id": cid, "known": False} for cid in req.customer_ids
    ]
    for j, i in enumerate(known):
        p = float(proba[j])
        results[i] = {
            "customer_id": req.customer_ids[i],
            "known": True,
            "churn_probability": p,
            "risk_band": risk_band(p, bands),
            "reasons": reasons[j] if reasons else [],
        }
    return api.ChurnResponse.model_validate(
        {
            "results": results,
            "unknown": len(results) - int(known.size),
            "horizon_days": bundle.horizon_days,
            "model_versions": served.versions,
        }
    )


def ltv_scores(served: Served, req: api.LTVRequest, *, max_batch: int) -> api.LTVResponse:
    """Predicted horizon value, P(alive) and expected orders per id; unknown ids flagged.

    Parameters
    ----------
    served
        The snapshot to answer from.
    req
        The ``/ltv`` request.
    max_batch
        Most ids per request.

    Returns
    -------
    LTVResponse
    """
    check_batch(req.customer_ids, max_batch)
    bundle = require_model(served, "ltv")
    st = served.state
    frame = st.frames["ltv"]
    pos = _positions(frame.index, req.customer_ids)
    known = np.flatnonzero(pos >= 0)
    results: list[dict[str, Any]] = [
        {"customer_id": cid, "known": False} for cid in req.customer_ids
    ]
    if known.size:
        value = predict_rows(st, "ltv", bundle, pos[known])
        alive = column_values(frame, P_ALIVE, pos[known])
        orders = column_values(frame, EXPECTED_PURCHASES, pos[known])
        for j, i in enumerate(known):
            results[i] = {
                "customer_id": req.customer_ids[i],
                "known": True,
                "predicted_value": json_number(value[j]),
                "p_alive": json_number(alive[j]),
                "expected_orders": json_number(orders[j]),
            }
        rows = next_order.positions_in(served, [req.customer_ids[i] for i in known])
        found = rows >= 0
        if found.any():
            predicted = next_order.next_order_rows(served, rows[found])
            for i, (_, row) in zip(known[found], predicted.iterrows(), strict=True):
                results[i].update(next_order.as_fields(row))
    return api.LTVResponse.model_validate(
        {
            "results": results,
            "unknown": len(results) - int(known.size),
            "horizon_days": bundle.horizon_days,
            "model_versions": served.versions,
        }
    )


def _positions(index: pd.Index, ids: list[str]) -> np.ndarray:
    """Row of each id, -1 if absent; one id by hash lookup (``get_indexer`` costs 0.1 ms)."""
    if len(ids) == 1:
        try:
            loc = index.get_loc(ids[0])
        except KeyError:
            return np.array([-1])
        return np.array([loc if isinstance(loc, int | np.integer) else -1])
    return index.get_indexer(ids)


def customer_profile(
    served: Served, req: api.CustomerRequest, *, bands: tuple[float, float]
) -> api.CustomerProfile:
    """RFM values, scores, segment and every model score of one customer.

    Parameters
    ----------
    served
        The snapshot to answer from.
    req
        The ``/customer`` request.
    bands
        The risk band thresholds, low then high.

    Returns
    -------
    CustomerProfile
    """
    st = served.state
    cid = req.customer_id
    prefs = st.preferences.get(cid, [])
    pos = st.position(cid)
    if pos < 0:
        return api.CustomerProfile(
            customer_id=cid, known=False, stated_preferences=prefs, model_versions=served.versions
        )
    row = st.features.iloc[pos]
    out: dict[str, Any] = {
        "recency_days": json_number(row.get("recency_days")),
        "frequency": int(row[s.FREQUENCY]),
        "monetary_total": json_number(row.get("monetary_total")),
        "monetary_mean": json_number(row.get("monetary_mean")),
        "r_score": int(row[s.R_SCORE]),
        "f_score": int(row[s.F_SCORE]),
        "m_score": int(row[s.M_SCORE]),
        "rfm_score": str(row[s.RFM_SCORE]),
        "segment": None if row[s.SEGMENT] is None else str(row[s.SEGMENT]),
    }
    if served.models.churn is not None and cid in st.frames["churn"].index:
        churn = churn_scores(
            served, api.ChurnRequest(customer_ids=[cid], top_reasons=0), max_batch=1, bands=bands
        ).results[0]
        out.update(churn_probability=churn.churn_probability, risk_band=churn.risk_band)
    if served.models.ltv is not None and cid in st.frames["ltv"].index:
        ltv = ltv_scores(served, api.LTVRequest(customer_ids=[cid]), max_batch=1)
        out.update(
            predicted_value=ltv.results[0].predicted_value,
            p_alive=ltv.results[0].p_alive,
            expected_orders=ltv.results[0].expected_orders,
            horizon_days=ltv.horizon_days,
        )
        out.update(ltv.results[0].model_dump(include=set(next_order.FIELDS)))
    return api.CustomerProfile(
        customer_id=cid,
        known=True,
        as_of=st.as_of.to_pydatetime(),
        stated_preferences=prefs,
        model_versions=served.versions,
        **out,
    )
