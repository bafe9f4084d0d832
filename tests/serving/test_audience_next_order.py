"""Audiences, next-order fields and the CRM columns on the in-process served model set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.serving import schemas as api
from kizuna.serving.answers import error
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
    recent = tx[  # bought or returned it lately: the rule of training's audience evaluation
        (when >= st.as_of - pd.Timedelta(days=45)) & tx["item_id"].astype(str).isin(items)
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
    assert err.value.status == 422 and err.value.loc == "body"
    with pytest.raises(AudienceError) as err:
        audience_frame(served, category="no-such-category")
    assert err.value.status == 422 and err.value.loc == "body.category"


def test_audience_flags_the_campaigns_control_group(served) -> None:
    from kizuna.features.control_groups import in_control

    item = str(served.state.catalogue.item_ids[0])
    plain = audience_frame(served, item_id=item, n=40)[0]
    assert "group" not in plain.columns  # no campaign, no split
    half = audience_frame(served, item_id=item, n=40, campaign_id="spring", control_share=0.5)[0]
    # the same members in the same order: the split flags them, it does not reorder or refill
    pd.testing.assert_frame_equal(half.drop(columns="group"), plain)
    held = half["group"] == "control"
    # the one control-group rule: the split /next_best_offer makes for these customers
    np.testing.assert_array_equal(held, in_control(half["customer_id"], "spring", 0.5))
    assert 0 < held.sum() < 40
    none = audience_frame(served, item_id=item, n=40, campaign_id="spring", control_share=0.0)[0]
    assert (none["group"] == "treated").all()
    answer = audience_response(
        served, api.AudienceRequest(item_id=item, n=40, campaign_id="spring", control_share=0.5)
    )
    assert answer.campaign_id == "spring" and answer.control == int(held.sum())
    assert [m.group for m in answer.customers] == half["group"].tolist()
    with pytest.raises(AudienceError) as err:  # the split hashes the campaign's id
        audience_frame(served, item_id=item, control_share=0.2)
    assert err.value.status == 422 and err.value.loc == "body.campaign_id"


def test_crm_export_has_the_next_order_columns(served) -> None:
    from kizuna.training.batch_score import score_chunks

    chunk = next(score_chunks(served, k=2, chunk_size=50))
    for col in FIELDS:
        assert col in chunk.columns
    assert chunk["p_order_90d"].between(0, 1).all()
    assert pd.api.types.is_datetime64_any_dtype(chunk["next_order_date"])


KEEP = 2**30  # the kept-scores cap these tests use: the test shop always fits


def test_kept_scores_answer_like_scoring_afresh_after_events(live) -> None:
    served = live.current()
    st = served.state
    category = str(pd.Series(st.catalogue.categories).dropna().iloc[0])
    item = str(st.catalogue.item_ids[3])
    asks = ({"category": category, "n": 40}, {"item_id": item, "n": 25, "exclude_days": 0})

    def kept(**ask) -> pd.DataFrame:
        return audience_frame(served, **ask, max_kept_bytes=KEEP)[0]

    def fresh(**ask) -> pd.DataFrame:
        return audience_frame(served, **ask)[0]  # no cap: every customer scored again

    for ask in asks:
        pd.testing.assert_frame_equal(kept(**ask), fresh(**ask))
    assert "audience_scores" in st.extras
    # an audience member buys the item, and a customer the snapshot lacks appears
    member = kept(**asks[1])["customer_id"].iloc[0]
    when = st.as_of - pd.Timedelta(days=1)
    live.ingest(purchase(member, item, when, order="AUD-1"))
    live.ingest(purchase("NEW-AUDIENCE", item, when, order="AUD-2"))
    for ask in asks:
        pd.testing.assert_frame_equal(kept(**ask), fresh(**ask))
    assert len(st.extras["audience_scores"].lo) == st.n_customers
    # the member's rescored row now ranks the bought item as bought before
    again = kept(**asks[1]).set_index("customer_id")
    assert member not in again.index or bool(again.loc[member, "bought_before"])


def test_the_cap_decides_whether_scores_are_kept(live) -> None:
    from kizuna.serving.audience_cache import audience_status
    from kizuna.serving.audience_scores import AudienceScores

    served = live.current()
    st = served.state
    matrix = st.n_customers * st.catalogue.n_items * 8  # bytes of the kept matrix
    assert AudienceScores.fits(st, matrix) and not AudienceScores.fits(st, matrix - 1)
    item = str(st.catalogue.item_ids[0])
    below = audience_frame(served, item_id=item, max_kept_bytes=matrix - 1)[0]
    assert "audience_scores" not in st.extras
    assert audience_status(served, matrix - 1) == {"state": "per request", "max_bytes": matrix - 1}
    at = audience_frame(served, item_id=item, max_kept_bytes=matrix)[0]
    assert "audience_scores" in st.extras
    pd.testing.assert_frame_equal(below, at)
    assert audience_status(served, matrix)["state"] == "ready"


def test_warming_scores_every_customer_and_never_raises(live, monkeypatch) -> None:
    from kizuna.serving import audience_cache, audience_scores

    served = live.current()
    audience_cache.warm(served, KEEP).join()
    kept = served.state.extras["audience_scores"]
    assert len(kept.lo) == served.state.n_customers and kept.scores.shape[1] > 0
    assert audience_cache.warm(served, KEEP) is None  # done: nothing to start
    assert audience_cache.warm(served, 0) is None  # over the cap: nothing kept

    def broken(*args, **kwargs):
        raise RuntimeError("no scores today")

    other = live.current()
    other.state.extras.clear()
    monkeypatch.setattr(audience_scores, "score_rows", broken)
    audience_cache.warm(other, KEEP).join()  # logged, not raised
    kept = other.state.extras["audience_scores"]
    assert len(kept.lo) == 0 and kept.error == "RuntimeError: no scores today"
    status = audience_cache.audience_status(other, KEEP)
    assert status == {"state": "failed", "error": "RuntimeError: no scores today"}


def test_a_request_waits_a_bounded_time_then_is_told_when_to_retry(live, monkeypatch) -> None:
    """Before the background scores are done: 503 with Retry-After, not an open-ended wait."""
    import threading

    from kizuna.serving import audience_cache, audience_scores

    served = live.current()
    st = served.state
    item = str(st.catalogue.item_ids[0])
    expected = audience_frame(served, item_id=item)[0]  # scored afresh, nothing kept
    gate, real = threading.Event(), audience_scores.score_rows
    blocks: list[int] = []

    def slow(state, model, positions):
        if len(positions) > 1:  # the background fill's blocks wait for the gate
            blocks.append(len(positions))
            assert gate.wait(30)
        return real(state, model, positions)

    monkeypatch.setattr(audience_scores, "score_rows", slow)
    filler = audience_cache.warm(served, KEEP)
    assert audience_cache.audience_status(served, KEEP) == {
        "state": "scoring", "customers": st.n_customers, "scored": 0,
    }  # fmt: skip
    with pytest.raises(AudienceError) as err:
        audience_frame(served, item_id=item, max_kept_bytes=KEEP, wait=0.2)
    assert err.value.status == 503
    assert 1 <= err.value.retry_after <= 60
    refusal = error(503, err.value.message, retry_after=err.value.retry_after)  # the service's
    assert refusal.headers["retry-after"] == str(err.value.retry_after)
    assert err.value.message.startswith(
        f"audience scores are being computed (0 of {st.n_customers:,} customers)"
    )
    answers: list = []  # without a wait (the CLI), a caller waits for the scores instead
    ask = api.AudienceRequest(item_id=item)
    patient = threading.Thread(
        target=lambda: answers.append(audience_response(served, ask, max_kept_bytes=KEEP))
    )
    patient.start()
    gate.set()
    filler.join(30)
    patient.join(30)
    assert len(answers[0].customers) > 0
    assert blocks == [st.n_customers]  # one fill, shared (the test shop is one block)
    got = audience_frame(served, item_id=item, max_kept_bytes=KEEP, wait=0.2)[0]
    pd.testing.assert_frame_equal(got, expected)
    assert audience_cache.audience_status(served, KEEP)["state"] == "ready"


def test_a_failed_fill_is_reported_then_started_again(live, monkeypatch) -> None:
    from kizuna.serving import audience_scores

    served = live.current()
    item = str(served.state.catalogue.item_ids[0])
    real = audience_scores.score_rows

    def broken(*args, **kwargs):
        raise RuntimeError("no scores today")

    monkeypatch.setattr(audience_scores, "score_rows", broken)
    with pytest.raises(AudienceError) as err:
        audience_frame(served, item_id=item, max_kept_bytes=KEEP, wait=5)
    assert err.value.status == 503 and err.value.retry_after == 60
    assert "failed (RuntimeError: no scores today); computing them again" in err.value.message
    monkeypatch.setattr(audience_scores, "score_rows", real)
    got = audience_frame(served, item_id=item, max_kept_bytes=KEEP, wait=5)[0]
    pd.testing.assert_frame_equal(got, audience_frame(served, item_id=item)[0])


def test_score_audience_writes_the_group_column(served, monkeypatch, capsys, tmp_path) -> None:
    import json

    from kizuna.features.control_groups import in_control
    from kizuna.serving import live, model_registry
    from kizuna.training import stored_events
    from tests.training.test_cli_user_errors import assert_one_line_error, run_cli

    # the CLI's loading, pointed at the in-process model set; the audience itself is real
    monkeypatch.setattr(live, "load_served", lambda *a, **k: served)
    monkeypatch.setattr(model_registry, "served_experiment", lambda source, name: "x")
    monkeypatch.setattr(stored_events, "served_event_store", lambda *a, **k: None)
    item = str(served.state.catalogue.item_ids[0])
    out = tmp_path / "audience.csv"
    args = ["score", "audience", "--item", item, "--n", "25", "--models", str(tmp_path)]
    args += ["--out", str(out), "--json"]
    code, stdout, err = run_cli(monkeypatch, capsys, *args, "--campaign-id", "c9",
                                "--control-share", "0.4")  # fmt: skip
    assert code in (0, None), err
    written = pd.read_csv(out, dtype={"customer_id": str})
    held = in_control(written["customer_id"], "c9", 0.4)
    assert written["group"].tolist() == np.where(held, "control", "treated").tolist()
    assert json.loads(stdout)["control"] == int(held.sum())
    code, _, err = run_cli(monkeypatch, capsys, *args, "--control-share", "0.4")
    assert_one_line_error(code, err, "--campaign-id", "control_share")
    code, _, err = run_cli(monkeypatch, capsys, *args, "--campaign-id", "c9",
                           "--control-share", "1")  # fmt: skip
    assert_one_line_error(code, err, "--control-share", "[0, 1)")
