"""Customer state: incremental updates from events, weighting, reloads and catch-up."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from implicit.nearest_neighbours import bm25_weight, tfidf_weight

from kizuna.features import schema as s
from kizuna.serving import recommendations, scoring
from kizuna.serving import schemas as api
from kizuna.serving.event_store import EventStore
from kizuna.serving.live import Live, load_served
from kizuna.serving.model_inputs import refresh_user_factors
from kizuna.serving.weighting import fit_weigher
from tests.serving.model_set import purchase


def test_served_weigher_matches_implicit_on_the_population():
    rng = np.random.default_rng(0)
    counts = sp.random(30, 12, density=0.3, format="csr", random_state=rng, dtype=np.float64)
    counts.data = np.ceil(counts.data * 4)
    for weighting, reference in (
        ("bm25", lambda X: bm25_weight(X, K1=100, B=0.8)),
        ("tfidf", tfidf_weight),
    ):
        weigh = fit_weigher(counts, {"weighting": weighting})
        expected = sp.csr_matrix(reference(counts)).toarray()
        got = weigh.transform(counts[[4, 17]]).toarray()
        np.testing.assert_allclose(got, expected[[4, 17]], rtol=1e-5)


def test_an_event_rescores_rfm_against_the_snapshot_population(live):
    """Unchanged rows keep the scores customer_features gave; a changed row is scored
    against the population's cut points learned when the snapshot was written."""
    st = live.current().state
    cid = str(st.features.index[5])
    item = str(st.catalogue.item_ids[0])
    live.ingest(purchase(cid, item, st.as_of + pd.Timedelta(hours=1)))
    expected = st.rfm_scorer.score(st.features.loc[[cid]])
    for col in (s.R_SCORE, s.F_SCORE, s.M_SCORE, s.RFM_SCORE):
        assert st.features.loc[cid, col] == expected[col].iloc[0]
    assert st.features.loc[cid, s.R_SCORE] == 5  # bought just now: the most recent quintile


def test_a_purchase_updates_recency_history_and_exclusions(live):
    served = live.current()
    st = served.state
    cid = str(st.features[s.FREQUENCY].idxmax())
    before = st.features.loc[cid].copy()
    top = (
        recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=1))
        .items[0]
        .item_id
    )
    live.ingest(purchase(cid, top, st.as_of + pd.Timedelta(hours=3)))
    after = st.features.loc[cid]
    assert after["recency_days"] < 1e-6 < before["recency_days"]
    assert after[s.FREQUENCY] == before[s.FREQUENCY] + 1
    assert after[s.R_SCORE] == 5
    assert after["monetary_total"] == pytest.approx(before["monetary_total"] + 9.0)
    assert st.frames["churn"].loc[cid, "recency_days"] < 1e-6
    row = st.history_rows(np.array([st.position(cid)]))
    assert st.catalogue.codes([top])[0] in row.indices
    again = recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=5))
    assert top not in {i.item_id for i in again.items}


def test_a_new_customer_becomes_known_after_a_purchase(live):
    served = live.current()
    st = served.state
    item = str(st.catalogue.item_ids[0])
    assert recommendations.recommend(served, api.RecommendRequest(customer_id="NEWBIE")).fallback
    live.ingest(purchase("NEWBIE", item, st.as_of - pd.Timedelta(days=2)))
    assert st.position("NEWBIE") == st.n_customers - 1
    out = recommendations.recommend(served, api.RecommendRequest(customer_id="NEWBIE", k=3))
    assert not out.fallback and item not in {i.item_id for i in out.items}
    churn = scoring.churn_scores(
        served, api.ChurnRequest(customer_ids=["NEWBIE"]), max_batch=5, bands=(0.3, 0.6)
    )
    assert churn.results[0].known and churn.results[0].churn_probability is not None
    profile = scoring.customer_profile(
        served, api.CustomerRequest(customer_id="NEWBIE"), bands=(0.3, 0.6)
    )
    assert profile.frequency == 1 and profile.recency_days == pytest.approx(2.0)


def test_a_return_alone_of_an_unknown_customer_is_applied_once_and_scores_nothing(live):
    st = live.current().state
    item = str(st.catalogue.item_ids[0])
    back = purchase("RETURNS-ONLY", item, st.as_of - pd.Timedelta(days=3), order="R1")
    back[s.QUANTITY] = -2.0
    result, updated = live.ingest(back)  # raised "cannot learn quintiles" before
    assert len(result.stored) == 1 and updated == 0 and st.position("RETURNS-ONLY") < 0
    live.ingest(purchase("RETURNS-ONLY", item, st.as_of - pd.Timedelta(days=1), order="R2"))
    lines = st.customer_rows("RETURNS-ONLY")
    assert sorted(lines[s.QUANTITY].tolist()) == [-2.0, 2.0]  # the return counted once
    assert st.position("RETURNS-ONLY") >= 0


def test_refresh_user_factors_resolves_a_known_customer(live):
    st = live.current().state
    model = st.recommender.model
    cid = str(st.features.index[0])
    code = st.recommender_code(cid)
    before = model.als_.user_factors_[code].copy()
    row = st.history_rows(np.array([st.position(cid)])).copy()
    row.data = row.data * 5
    assert refresh_user_factors(model, code, row)
    assert not np.allclose(before, model.als_.user_factors_[code])
    assert not refresh_user_factors(model, -1, row)  # unseen users are solved per call


def test_events_stored_by_another_process_are_folded_in(model_set, tmp_path):
    path = tmp_path / "shared.sqlite"
    a = Live(str(model_set.folder), store=EventStore(path))
    b = Live(str(model_set.folder), store=EventStore(path))
    a.load(), b.load()
    cid = str(a.served.state.features.index[5])
    item = str(a.served.state.catalogue.item_ids[1])
    a.ingest(purchase(cid, item, a.served.state.as_of + pd.Timedelta(hours=1)))
    st = b.current().state
    assert st.features.loc[cid, "recency_days"] < 1e-6 and st.last_event_seq == 1


def test_a_store_numbering_below_the_snapshot_numbers_new_lines_after_it(model_set, tmp_path):
    """A snapshot built from another store (a Bento started on a new data folder)."""
    live = Live(str(model_set.folder), store=EventStore(tmp_path / "fresh.sqlite"))
    live.load()
    st = live.served.state
    st.last_event_seq = 81  # as a snapshot that included the other store's lines 1-81
    live.catch_up()  # what loading such a snapshot does first
    cid = str(st.features.index[4])
    result, updated = live.ingest(purchase(cid, str(st.catalogue.item_ids[1]), st.as_of))
    assert result.stored["seq"].tolist() == [82] and updated == 1  # applied, not skipped
    assert st.last_event_seq == 82


def test_events_stored_during_a_reload_reach_the_new_snapshot(live, monkeypatch, tmp_path):
    import kizuna.serving.live as state_module

    cid = str(live.served.state.features.index[7])
    item = str(live.served.state.catalogue.item_ids[2])
    when = live.served.state.as_of + pd.Timedelta(hours=1)
    original = state_module.load_served

    def slow_load(*args, **kwargs):
        new = original(*args, **kwargs)
        # Arrives after the new state read the store, before the swap.
        EventStore(live.store.path).append(purchase(cid, item, when))
        return new

    monkeypatch.setattr(state_module, "load_served", slow_load)
    assert live.load().reloaded
    assert live.served.state.features.loc[cid, "recency_days"] < 1e-6


def test_a_failed_reload_keeps_the_old_snapshot(live, tmp_path):
    old = live.served
    live.source = str(tmp_path / "no-such-folder")
    outcome = live.load()
    assert not outcome.reloaded and "not found" in outcome.error
    assert live.served is old and live.last_error == outcome.error


def test_load_served_refuses_a_model_set_without_snapshot(model_set, tmp_path):
    import shutil

    from kizuna.features.errors import KizunaInputError

    folder = tmp_path / "bare"
    shutil.copytree(model_set.folder, folder)
    shutil.rmtree(folder / "snapshot")
    with pytest.raises(KizunaInputError, match="no customer snapshot"):
        load_served(str(folder))


def test_the_service_state_never_reads_the_order_log(model_set, tmp_path):
    """The models and the snapshot are all it needs: the raw data may be gone."""
    import shutil

    folder = tmp_path / "moved"
    shutil.copytree(model_set.folder, folder)
    shop = tmp_path / "shop-copy"
    shutil.copytree(model_set.shop_dir, shop)
    shutil.rmtree(model_set.shop_dir)
    try:
        served = load_served(str(folder), store=EventStore(tmp_path / "events.sqlite"))
        assert served.state.n_customers > 0
        cid = str(served.state.features.index[3])
        item = str(served.state.catalogue.item_ids[1])
        when = served.state.as_of + pd.Timedelta(hours=1)
        assert served.state.apply_events(purchase(cid, item, when)) == [cid]
    finally:
        shutil.copytree(shop, model_set.shop_dir)


def test_one_request_updates_several_customers_at_once(live):
    st = live.current().state
    old = str(st.features.index[9])
    item = str(st.catalogue.item_ids[3])
    when = st.as_of - pd.Timedelta(hours=5)
    lines = pd.concat(
        [purchase(old, item, when, order="M-1"), purchase("FRESH", item, when, order="M-2")]
    )
    _, updated = live.ingest(lines)
    assert updated == 2
    for cid in (old, "FRESH"):
        assert st.features.loc[cid, "recency_days"] == pytest.approx(5 / 24)
        assert (
            st.catalogue.codes([item])[0] in st.history_rows(np.array([st.position(cid)])).indices
        )


def test_cached_reason_contributions_are_refreshed_by_events(live):
    from kizuna.models.reasons import lightgbm_contributions

    served = live.current()
    st = served.state
    cid = str(st.features["recency_days"].idxmax())
    request = api.ChurnRequest(customer_ids=[cid], top_reasons=10)
    before = scoring.churn_scores(served, request, max_batch=5, bands=(0.3, 0.6)).results[0]
    live.ingest(purchase(cid, str(st.catalogue.item_ids[0]), st.as_of + pd.Timedelta(hours=1)))
    after = scoring.churn_scores(served, request, max_batch=5, bands=(0.3, 0.6)).results[0]
    pos = st.position(cid)
    fresh = lightgbm_contributions(served.models.churn.model.booster_, st.matrices["churn"][[pos]])[
        0
    ]
    got = {r.feature: r.contribution for r in after.reasons}
    names = list(served.models.churn.model.feature_names_in_)
    for feature, value in got.items():
        assert value == pytest.approx(fresh[names.index(feature)], rel=1e-5, abs=1e-6)
    assert after.churn_probability != before.churn_probability


def test_cached_rows_compute_each_row_once_and_stay_bounded(live, monkeypatch):
    import kizuna.serving.customer_state as state_module

    st = live.current().state
    calls = []

    def compute(rows):
        calls.append(rows.tolist())
        return [f"r{r}" for r in rows]

    assert st.cached_rows(("k",), np.array([3, 1, 3]), compute) == ["r3", "r1", "r3"]
    assert st.cached_rows(("k",), np.array([1, 2]), compute) == ["r1", "r2"]
    assert calls == [[3, 1], [2]]
    monkeypatch.setattr(state_module, "REASON_CACHE_ROWS", 3)
    st.cached_rows(("k",), np.array([7]), compute)  # a fourth row: the cache starts over
    assert st.cached_rows(("k",), np.array([1]), compute) == ["r1"] and calls[-1] == [1]


def test_upstream_changed_follows_the_folder_versions(live, model_set, tmp_path):
    import json
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(model_set.folder, folder)
    live.source = str(folder)
    assert not live.upstream_changed()
    (folder / "versions.json").write_text(json.dumps({"recommender": 1, "churn": 2, "ltv": 1}))
    assert live.upstream_changed()
    assert live.load().versions["churn"] == 2 and not live.upstream_changed()


def test_item_names_come_from_the_most_frequent_line_description():
    from kizuna.serving.catalogue import item_names_from_lines as _line_names

    lines = pd.DataFrame(
        {
            s.ITEM_ID: ["A", "A", "A", "B"],
            "description": ["HEART HOLDER ", "HEART HOLDER", "heart", None],
        }
    )
    names = _line_names(lines)
    assert names.to_dict() == {"A": "HEART HOLDER"}
    assert _line_names(lines.drop(columns="description")) is None


def test_a_trained_kind_without_a_champion_degrades_only_itself(model_set, tmp_path):
    import shutil

    folder = tmp_path / "partial"
    shutil.copytree(model_set.folder, folder)
    shutil.rmtree(folder / "ltv")  # kinds.json still says the experiment trained ltv
    live = Live(str(folder), store=EventStore(tmp_path / "events.sqlite"))
    assert live.load().reloaded
    ready, reason, degraded = live.readiness()
    assert ready and live.ready and reason is None
    assert list(degraded) == ["ltv"] and "kizuna promote ltv" in degraded["ltv"]
    from kizuna.serving.answers import answer
    from kizuna.serving.scoring import require_model

    named = Live(str(folder), store=EventStore(tmp_path / "events.sqlite"), experiment="shop")
    assert named.load().reloaded
    assert "`kizuna promote ltv VERSION --experiment shop`" in named.degraded["ltv"]
    # The endpoint says what /readyz says (not "train one"), with the experiment named.
    refused = answer(named.served, named, lambda served, _: require_model(served, "ltv"), None)
    assert refused.status_code == 503
    body = json.loads(refused.body)
    assert "no version of it is @champion" in body["error"]
    assert "`kizuna promote ltv VERSION --experiment shop`" in body["error"]
    for kind in ("recommender", "churn"):  # none left: nothing to answer with
        shutil.rmtree(folder / kind)
    assert live.load().reloaded
    assert not live.ready and "no model of it is available" in live.not_ready_reason()
    assert set(live.degraded) == {"recommender", "churn", "ltv"}


def test_booster_inputs_stored_in_the_snapshot_equal_the_ones_computed(model_set):
    from kizuna.serving.model_inputs import input_matrix

    served = load_served(str(model_set.folder))
    st = served.state
    assert (model_set.folder / "snapshot" / "inputs_churn.npy").exists()
    for kind, bundle in st.bundles.items():
        np.testing.assert_array_equal(st.matrices[kind], input_matrix(bundle, st.frames[kind]))


def test_the_reload_message_counts_the_snapshots_version(model_set):
    live = Live(str(model_set.folder))
    assert live.load().message == "loaded"
    assert live.load().message == "reloaded (versions unchanged)"
    current = live.served.models.versions.get("snapshot")
    live.served.models.versions["snapshot"] = -1  # as before a `kizuna snapshot`
    assert live.load().message == f"reloaded (snapshot v-1 → v{current})"


def test_an_event_repeating_a_line_of_the_order_log_is_not_counted_again(live):
    from kizuna.serving.event_checks import check_events

    st = live.current().state
    cid = str(st.features[s.FREQUENCY].idxmax())
    before = st.features.loc[cid, "monetary_total"]
    line = st.customer_rows(cid).iloc[[0]]
    cols = [s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.TIMESTAMP, s.QUANTITY, s.UNIT_PRICE]
    again = check_events(line[cols].reset_index(drop=True), now=st.as_of)
    result, updated = live.ingest(again)  # stored (the store has never seen it), not applied
    assert len(result.stored) == 1 and updated == 0
    assert st.features.loc[cid, "monetary_total"] == before
    assert st.last_event_seq == int(result.stored["seq"].max())


def test_a_kind_the_registry_cannot_give_is_degraded_not_the_whole_service(
    model_set, tmp_path, monkeypatch
):
    """A champion whose artifacts are gone: its endpoints 503, the others serve."""
    import shutil
    from types import SimpleNamespace

    from kizuna.serving import model_registry, model_store

    names = {kind: f"shop-{kind}" for kind in ("recommender", "churn", "ltv", "snapshot")}
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(model_registry, "resolve_experiment", lambda experiment: experiment)
    monkeypatch.setattr(model_registry, "registered_names", lambda name: names)
    version = SimpleNamespace(version="1", run_id=None, tags={"kinds": "recommender,churn,ltv"})
    monkeypatch.setattr(model_registry, "alias_version", lambda reg, alias: version)

    def download_version(reg, number, dst):
        shutil.copytree(model_set.folder / "snapshot", dst / "snapshot")
        return dst

    def download_bundle(reg, number, dst):
        if reg == "shop-ltv":
            raise OSError("No such file or directory: '/mlartifacts/models/m-1/artifacts'")
        return model_set.folder / reg.removeprefix("shop-") / model_store.BUNDLE_FILE

    monkeypatch.setattr(model_registry, "download_version", download_version)
    monkeypatch.setattr(model_registry, "download_bundle", download_bundle)
    folder, _ = model_registry.fetch_from_registry("shop", tmp_path / "set")
    models = model_store.load_champions_from_folder(folder)
    assert models.churn is not None and models.recommender is not None and models.ltv is None
    assert "shop-ltv v1 cannot be read from the registry" in models.broken["ltv"]
    assert "/mlartifacts/models/m-1/artifacts" in models.broken["ltv"]
