"""Scoring without HTTP: risk bands, reasons, filters, cold start, batches."""

from __future__ import annotations

import numpy as np
import pytest

from kizuna.features import schema as s
from kizuna.serving import recommendations, scoring
from kizuna.serving import schemas as api
from kizuna.serving.scoring import ServingError, risk_band

BANDS = (0.3, 0.6)
REASON_PREFIXES = (
    "bought before",
    "similar to ",
    "often bought together with ",
    "popular with customers like you",
    "popular in category ",
    "trending now",
)


def heavy_buyer(served) -> str:
    return str(served.state.features[s.FREQUENCY].idxmax())


def purchased(served, customer_id: str) -> set[str]:
    st = served.state
    row = st.history_rows(np.array([st.position(customer_id)]))
    return set(st.catalogue.item_ids[row.indices])


def test_risk_bands_split_at_the_cut_points():
    assert [risk_band(p, BANDS) for p in (0.0, 0.29, 0.3, 0.59, 0.6, 1.0)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_recommend_gives_k_new_items_with_reasons(served):
    cid = heavy_buyer(served)
    out = recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=7))
    ids = [item.item_id for item in out.items]
    assert not out.fallback and len(ids) == 7 and len(set(ids)) == 7
    assert not set(ids) & purchased(served, cid)
    assert all(item.reason.startswith(REASON_PREFIXES) for item in out.items)
    assert [item.score for item in out.items] == sorted((i.score for i in out.items), reverse=True)
    assert out.model_versions == {"recommender": 1, "churn": 1, "ltv": 1}


def test_bought_before_items_come_back_when_allowed(served):
    cid = heavy_buyer(served)
    out = recommendations.recommend(
        served, api.RecommendRequest(customer_id=cid, k=5, exclude_purchased=False)
    )
    again = [i for i in out.items if i.reason == "bought before"]
    assert again and {i.item_id for i in again} <= purchased(served, cid)


def test_similar_to_reasons_name_an_item_the_customer_bought(served):
    st = served.state
    named = []
    prefixes = ("similar to ", "often bought together with ")  # item-kNN and EASE picks
    for cid in st.features.index[:80]:
        out = recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=10))
        named += [(cid, i.reason) for i in out.items if i.reason.startswith(prefixes)]
    assert named, "no item-to-item reason in 80 customers"
    for cid, reason in named:
        anchor = reason.rsplit("(", 1)[-1].rstrip(")")
        assert anchor in purchased(served, cid)


def test_filters_restrict_categories_and_exclude_items(served):
    cid = heavy_buyer(served)
    first = (
        recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=3))
        .items[0]
        .item_id
    )
    out = recommendations.recommend(
        served,
        api.RecommendRequest(
            customer_id=cid, k=5, categories=["Electronics"], exclude_items=[first]
        ),
    )
    assert out.items and all(i.category == "electronics" for i in out.items)
    assert first not in {i.item_id for i in out.items}


def test_in_stock_only_drops_out_of_stock_items(served, monkeypatch):
    cid = heavy_buyer(served)
    cat = served.state.catalogue
    top = recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=3)).items
    loose_before = recommendations.recommend(
        served, api.RecommendRequest(customer_id=cid, k=3, in_stock_only=False)
    ).items
    stock = cat.in_stock.copy()
    stock[cat.codes([i.item_id for i in top])] = False
    monkeypatch.setattr(cat, "in_stock", stock)
    kept = recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=3))
    assert not {i.item_id for i in top} & {i.item_id for i in kept.items}
    loose = recommendations.recommend(
        served, api.RecommendRequest(customer_id=cid, k=3, in_stock_only=False)
    )
    assert [i.item_id for i in loose.items] == [i.item_id for i in loose_before]


def test_unknown_category_is_a_422(served):
    with pytest.raises(ServingError) as err:
        recommendations.recommend(
            served, api.RecommendRequest(customer_id="x", categories=["nope"])
        )
    assert err.value.status == 422 and "nope" in err.value.message


def test_a_narrow_filter_returns_fewer_items_not_an_error(served):
    cid = heavy_buyer(served)
    garden = int((served.state.catalogue.categories == "garden").sum())
    out = recommendations.recommend(
        served,
        api.RecommendRequest(customer_id=cid, k=50, categories=["garden"], exclude_purchased=False),
    )
    assert len(out.items) == garden


def test_unknown_customer_gets_trending_items_as_fallback(served):
    out = recommendations.recommend(served, api.RecommendRequest(customer_id="never-seen", k=5))
    assert out.fallback and len(out.items) == 5
    recent = served.state.catalogue.recent_buyers
    codes = served.state.catalogue.codes([i.item_id for i in out.items])
    assert list(recent[codes]) == sorted(recent[codes], reverse=True)
    assert recent[codes].min() >= np.sort(recent)[-5]


def test_cold_start_customer_gets_stated_categories_first(served):
    st = served.state
    cid, prefs = next((c, p) for c, p in st.preferences.items() if st.position(c) < 0)
    out = recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=3))
    assert out.fallback
    assert all(i.category in prefs for i in out.items)
    assert all(i.reason == f"popular in category {i.category}" for i in out.items)


def test_similar_items_excludes_the_item_and_unknown_is_404(served):
    item = str(served.state.catalogue.item_ids[0])
    out = recommendations.similar_items(served, api.SimilarItemsRequest(item_id=item, k=4))
    assert len(out.items) == 4 and item not in {i.item_id for i in out.items}
    with pytest.raises(ServingError) as err:
        recommendations.similar_items(served, api.SimilarItemsRequest(item_id="no-such-item"))
    assert err.value.status == 404


def test_churn_scores_match_the_model_and_flag_unknown_ids(served):
    st = served.state
    ids = [str(st.features.index[0]), "ghost", str(st.features.index[1]), "ghost"]
    out = scoring.churn_scores(
        served, api.ChurnRequest(customer_ids=ids, top_reasons=2), max_batch=10, bands=BANDS
    )
    assert [r.known for r in out.results] == [True, False, True, False] and out.unknown == 2
    bundle = served.models.churn
    expected = bundle.model.predict_proba(
        st.frames["churn"].loc[[ids[0], ids[2]], bundle.feature_columns]
    )[:, 1]
    got = [out.results[0].churn_probability, out.results[2].churn_probability]
    np.testing.assert_allclose(got, expected)
    for r in (out.results[0], out.results[2]):
        assert r.risk_band == risk_band(r.churn_probability, BANDS)
        assert 1 <= len(r.reasons) <= 2 and all(x.contribution > 0 for x in r.reasons)


def test_churn_score_reasons_equal_the_models_own_with_custom_phrases(served, monkeypatch):
    """One reasons method: the service's reasons are the model's predict_with_reasons ones."""
    st = served.state
    bundle = served.models.churn
    phrases = {".*": ["custom high {name} ({value})", "custom low {name} ({value})"]}
    monkeypatch.setattr(bundle.model, "reason_phrases", phrases)
    ids = [str(c) for c in st.frames["churn"].index[:6]]
    # top_reasons=7 is asked by no other test, so no reason cached with the default phrases.
    out = scoring.churn_scores(
        served, api.ChurnRequest(customer_ids=ids, top_reasons=7), max_batch=10, bands=BANDS
    )
    proba, expected = bundle.model.predict_with_reasons(
        st.frames["churn"].loc[ids, bundle.feature_columns], top_n=7
    )
    got = [[r.model_dump() for r in res.reasons] for res in out.results]
    assert got == expected
    assert any(got) and all(r["phrase"].startswith("custom ") for row in got for r in row)
    np.testing.assert_array_equal([r.churn_probability for r in out.results], proba)


def test_batches_outside_the_limits_are_422(served):
    for ids in ([], ["a"] * 11):
        with pytest.raises(ServingError) as err:
            scoring.churn_scores(
                served, api.ChurnRequest(customer_ids=ids), max_batch=10, bands=BANDS
            )
        assert err.value.status == 422


def test_ltv_matches_the_model_and_btyd_outputs(served):
    st = served.state
    cid = str(st.features.index[3])
    out = scoring.ltv_scores(served, api.LTVRequest(customer_ids=[cid, "ghost"]), max_batch=5)
    bundle = served.models.ltv
    frame = st.frames["ltv"].loc[[cid]]
    assert out.results[0].predicted_value == pytest.approx(
        bundle.model.predict(frame[bundle.feature_columns])[0]
    )
    assert out.results[0].p_alive == pytest.approx(frame["p_alive"].iloc[0])
    assert not out.results[1].known and out.horizon_days == 90


def test_profile_puts_rfm_and_scores_together(served):
    st = served.state
    cid = heavy_buyer(served)
    prof = scoring.customer_profile(served, api.CustomerRequest(customer_id=cid), bands=BANDS)
    row = st.features.loc[cid]
    assert prof.known and prof.frequency == row[s.FREQUENCY]
    assert prof.segment == row[s.SEGMENT] and prof.rfm_score == row[s.RFM_SCORE]
    assert 0 < prof.churn_probability < 1 and prof.predicted_value >= 0
    unknown = scoring.customer_profile(
        served, api.CustomerRequest(customer_id="ghost"), bands=BANDS
    )
    assert not unknown.known and unknown.segment is None


def test_a_model_that_runs_out_of_items_is_topped_up_with_trending(served):
    from dataclasses import replace

    from kizuna.models.recommenders import PersonalPopularityRecommender

    rec = served.models.recommender
    buy_again = PersonalPopularityRecommender().fit(rec.history)
    other = replace(
        served, models=replace(served.models, recommender=replace(rec, model=buy_again))
    )
    cid = heavy_buyer(served)
    bought = purchased(served, cid)
    out = recommendations.recommend(other, api.RecommendRequest(customer_id=cid, k=5))
    assert not out.fallback and len(out.items) == 5
    assert all(i.score == 0.0 for i in out.items) and not {i.item_id for i in out.items} & bought
    again = recommendations.recommend(
        other, api.RecommendRequest(customer_id=cid, k=3, exclude_purchased=False)
    )
    assert all(i.reason == "bought before" and i.item_id in bought for i in again.items)


def test_the_top_up_leaves_out_what_the_model_leaves_out(served):
    # A model that learned nobody buys an item twice (the hybrid's seen_in_all=False)
    # drops bought items even when they are allowed: so does the trending top-up.
    from dataclasses import replace

    from kizuna.models.recommenders import PersonalPopularityRecommender

    class NoRepeats(PersonalPopularityRecommender):
        def drops_seen(self, exclude_seen: bool) -> bool:
            return True

    rec = served.models.recommender
    model = NoRepeats().fit(rec.history)
    other = replace(served, models=replace(served.models, recommender=replace(rec, model=model)))
    cid = heavy_buyer(served)
    bought = purchased(served, cid)
    out = recommendations.recommend(
        other, api.RecommendRequest(customer_id=cid, k=20, exclude_purchased=False)
    )
    assert not out.fallback and len(out.items) == 20
    assert not {i.item_id for i in out.items} & bought
