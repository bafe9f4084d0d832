"""What the serving benchmark sends (request bodies per scenario) and times in process (the floors)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
from serving_load import floor

API_KEY = "bench-key-0123456789"
#: scenario name -> (url, request body of the i-th request, headers)
Scenarios = dict[str, tuple[str, Callable[[int], bytes], dict[str, str]]]


def scenarios(
    kurl: str, murl: str, ids: list[str], order: np.ndarray, features: Any, batch: list[str]
) -> tuple[Scenarios, Scenarios]:
    """(open-loop scenarios, closed-loop scenarios): the same plus the 1,000-id batches."""
    kh = {"content-type": "application/json", "X-API-Key": API_KEY}
    mh = {"content-type": "application/json"}
    rows_json = json.loads(features.to_json(orient="split", index=False))

    def rec_body(i: int) -> bytes:
        return json.dumps({"customer_id": ids[order[i % len(ids)]], "k": 10}).encode()

    def churn1_body(i: int) -> bytes:
        return json.dumps({"customer_ids": [ids[order[i % len(ids)]]]}).encode()

    churn1000 = json.dumps({"customer_ids": batch}).encode()
    churn1000_bare = json.dumps({"customer_ids": batch, "top_reasons": 0}).encode()
    positions = [int(order[j % len(ids)]) for j in range(1000)]
    mlflow1000 = json.dumps(
        {
            "dataframe_split": {
                "columns": rows_json["columns"],
                "data": [rows_json["data"][p] for p in positions],
            }
        }
    ).encode()

    def mlflow1_body(i: int) -> bytes:
        row = rows_json["data"][int(order[i % len(ids)])]
        return json.dumps(
            {"dataframe_split": {"columns": rows_json["columns"], "data": [row]}}
        ).encode()

    opened: Scenarios = {
        "kizuna /recommend (k=10)": (f"{kurl}/recommend", rec_body, kh),
        "kizuna /churn_score, 1 id": (f"{kurl}/churn_score", churn1_body, kh),
        "mlflow /invocations, 1 row": (f"{murl}/invocations", mlflow1_body, mh),
    }
    closed: Scenarios = {
        **opened,
        "kizuna /churn_score, 1,000 ids": (f"{kurl}/churn_score", lambda i: churn1000, kh),
        "kizuna /churn_score, 1,000 ids, no reasons": (
            f"{kurl}/churn_score",
            lambda i: churn1000_bare,
            kh,
        ),
        "mlflow /invocations, 1,000 rows": (f"{murl}/invocations", lambda i: mlflow1000, mh),
    }
    return opened, closed


def model_floors(
    served: Any, ids: list[str], order: np.ndarray, features: Any, batch: list[str]
) -> dict[str, dict[str, float]]:
    """The model calls and scoring functions alone, in this process (no HTTP)."""
    from kizuna.serving import recommendations, scoring
    from kizuna.serving import schemas as api

    st = served.state
    bundle = served.models.churn
    model = served.models.recommender.model
    mask = st.catalogue.in_stock

    def rec_model(i: int) -> Any:
        cid = ids[order[i % len(ids)]]
        pos = st.position(cid)
        return model.recommend_with_reasons(
            np.array([st.recommender_code(cid)]),
            st.history_rows(np.array([pos])),
            10,
            exclude_seen=True,
            item_mask=mask,
        )

    matrix = st.matrices["churn"]
    return {
        "recommender model call (1 customer, k=10)": floor(rec_model),
        "recommend, scoring function (no HTTP)": floor(
            lambda i: recommendations.recommend(
                served, api.RecommendRequest(customer_id=ids[order[i % len(ids)]])
            )
        ),
        "churn booster + calibration (1 row)": floor(
            lambda i: bundle.model.predict_matrix(matrix[[order[i % len(ids)]]])
        ),
        "churn predict_proba on a 1-row DataFrame (pyfunc path)": floor(
            lambda i: bundle.model.predict_proba(features.iloc[[order[i % len(ids)]]]), n=500
        ),
        "churn_score, scoring function, 1 id (no HTTP)": floor(
            lambda i: scoring.churn_scores(
                served,
                api.ChurnRequest(customer_ids=[ids[order[i % len(ids)]]]),
                max_batch=10_000,
                bands=(0.3, 0.6),
            )
        ),
        "churn_score, scoring function, 1,000 ids (no HTTP)": floor(
            lambda i: scoring.churn_scores(
                served, api.ChurnRequest(customer_ids=batch), max_batch=10_000, bands=(0.3, 0.6)
            ),
            n=20,
        ),
    }
