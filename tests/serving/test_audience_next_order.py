"""Audiences, next-order fields and the CRM columns on the in-process served model set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.serving import schemas as api
from kizuna.serving.audience import AudienceError, audience_frame, audience_response
from kizuna.serving.next_order import FIELDS, next_order_rows
from kizuna.serving.scoring import customer_profile, ltv_scores
from tests.serving.model_set import purchase


def test_next_order_rows_are_ordered_probabilities_and_future_dates(served) -> None:
    out = next_order_rows(served, np.arange(20))
    assert list(out.columns) == list(FIELDS)
    assert (out["p_order_30d"] <= out["p_order_60d"]).all()
    assert (out["p_order_60d"] <= out["p_order_90d"]).all()
    assert ((out["p_order_90d"] > 0) & (out["p_order_90d"] < 1)).all()
    assert (out["next_order_date"] >= served.state.as_of.normalize()).all()


def test_ltv_and_profile_carry_the_next_order(served) -> None:
    cid = str(served.state.frames["ltv"].index[0])
    ltv = ltv_scores(served, api.LTVRequest(customer_ids=[cid, "nobody"]), max_batch=10)
    known, unknown = ltv.results
    assert known.p_order_90d is not None and unknown.p_order_90d is None
    profile = customer_profile(served, api.CustomerRequest(customer_id=cid), bands=(0.3, 0.6))
    assert profile.next_order_date == known.next_order_date
    assert profile.p_order_30d == pytest.approx(known.p_order_30d)


def test_audience_for_a_category_leaves_out_recent_buyers(served, model_set) -> None:
    st = served.state
    category = str(pd.Series(st.catalogue.categories).dropna().iloc[0])
    frame, excluded, targets = audience_frame(served, category=category, n=30, exclude_days=45)
    assert len(frame) == 30
    assert frame["score"].is_monotonic_decreasing
    np.testing.assert_allclose(frame["score"], frame["affinity"] * frame["p_order"])
    items = set(np.asarray(st.catalogue.item_ids, dtype=object)[targets].astype(str))
    tx = model_set.transactions
    when = pd.to_datetime(tx["timestamp"])
    recent = tx[
        (when >= st.as_of - pd.Timedelta(days=45))
        & tx["item_id"].astype(str).isin(items)
        & (tx["quantity"] > 0)
    ]
    recent_ids = set(recent["customer_id"].astype(str))
    # the recent buyers met while filling the audience are skipped and counted
    assert 0 < excluded <= len(recent_ids)
    assert not set(frame["customer_id"]) & recent_ids
    answer = audience_response(served, api.AudienceRequest(category=category, n=5))
    assert len(answer.customers) == 5 and answer.customers[0].reasons


def test_audience_refuses_unknown_targets(served) -> None:
    with pytest.raises(AudienceError) as err:
        audience_frame(served, item_id="no-such-item")
    assert err.value.status == 404
    with pytest.raises(AudienceError) as err:
        audience_frame(served, item_id="x", category="y")
    assert err.value.status == 422


def test_crm_export_has_the_next_order_columns(served) -> None:
    from kizuna.training.batch_score import score_chunks

    chunk = next(score_chunks(served, k=2, chunk_size=50))
    for col in FIELDS:
        assert col in chunk.columns
    assert chunk["p_order_90d"].between(0, 1).all()
    assert pd.api.types.is_datetime64_any_dtype(chunk["next_order_date"])


def test_kept_scores_answer_like_scoring_afresh_after_events(live, monkeypatch) -> None:
    from kizuna.serving import audience_scores

    served = live.current()
    st = served.state
    category = str(pd.Series(st.catalogue.categories).dropna().iloc[0])
    item = str(st.catalogue.item_ids[3])
    asks = ({"category": category, "n": 40}, {"item_id": item, "n": 25, "exclude_days": 0})

    def fresh(**ask) -> pd.DataFrame:
        with monkeypatch.context() as m:
            m.setattr(audience_scores, "MAX_CACHE_BYTES", 0)  # score every customer again
            return audience_frame(served, **ask)[0]

    for ask in asks:
        pd.testing.assert_frame_equal(audience_frame(served, **ask)[0], fresh(**ask))
    assert "audience_scores" in st.extras
    # an audience member buys the item, and a customer the snapshot lacks appears
    member = audience_frame(served, **asks[1])[0]["customer_id"].iloc[0]
    when = st.as_of - pd.Timedelta(days=1)
    live.ingest(purchase(member, item, when, order="AUD-1"))
    live.ingest(purchase("NEW-AUDIENCE", item, when, order="AUD-2"))
    for ask in asks:
        kept = audience_frame(served, **ask)[0]
        pd.testing.assert_frame_equal(kept, fresh(**ask))
    assert len(st.extras["audience_scores"].lo) == st.n_customers
    # the member's rescored row now ranks the bought item as bought before
    again = audience_frame(served, **asks[1])[0].set_index("customer_id")
    assert member not in again.index or bool(again.loc[member, "bought_before"])


def test_warming_scores_every_customer_and_never_raises(live, monkeypatch) -> None:
    from kizuna.serving import audience_scores

    served = live.current()
    audience_scores.warm(served)
    kept = served.state.extras["audience_scores"]
    assert len(kept.lo) == served.state.n_customers and kept.scores.shape[1] > 0

    def broken(*args, **kwargs):
        raise RuntimeError("no scores today")

    other = live.current()
    other.state.extras.clear()
    monkeypatch.setattr(audience_scores, "score_rows", broken)
    audience_scores.warm(other)  # logged, not raised
    assert "audience_scores" in other.state.extras  # made, still empty: a request scores it
    assert len(other.state.extras["audience_scores"].lo) == 0
