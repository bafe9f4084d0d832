"""The two-stage recommender: candidates, timing features, LambdaRank, fallback, determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.features.purchase_timing import purchase_timing
from kizuna.features.validate import validate_transactions
from kizuna.models.recommenders.candidates import GENERATORS, union_candidates
from kizuna.models.recommenders.hybrid import COMPONENTS
from kizuna.models.recommenders.reranker import RerankedRecommender
from kizuna.training.recommender_eval import holdout_split
from kizuna.training.train_reranker import fit_with_timing, score_split, train_reranker
from tests.models.recommender_contract import RecommenderContract, make_category_data

FAST = {"generator_params": {"als_factors": 8, "knn_neighbours": 20, "als_iterations": 5},
        "n_estimators": 20, "min_child_samples": 20}  # fmt: skip


def _pretrained() -> dict:
    """Rankers trained on the contract's category data (labels: its "future" draw)."""
    data = make_category_data()
    model = RerankedRecommender(**FAST).fit(data["train"], item_categories=data["item_category"])
    users = np.arange(data["train"].shape[0])
    stacked = {
        mode: [model.ranking_data(users, data["train"], data["future"], exclude_seen=new)]
        for mode, new in (("all", False), ("new", True))
    }
    return {m: b.model_to_string() for m, b in model.fit_rankers(stacked).rankers_.items()}


class TestRerankedContract(RecommenderContract):
    min_category_share = 0.55
    _rankers: dict | None = None

    def make_model(self) -> RerankedRecommender:
        if TestRerankedContract._rankers is None:
            TestRerankedContract._rankers = _pretrained()
        return RerankedRecommender(**FAST, rankers=TestRerankedContract._rankers)


def _cycle_shop(days: int = 140, n_users: int = 120, seed: int = 0) -> pd.DataFrame:
    """Each user buys a "cycle" item every 7 days and bulk items heavily, then stops them.

    User ``u``'s cycle item is ``c{u % 10}``, bought every 7 days from a
    random start; their four "old favourites" ``f{...}`` were bought twice a
    week during the first 60 days only, so they have the larger counts.
    Ground truth after any cutoff: the cycle item comes back within 7 days.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows = []
    for u in range(n_users):
        offset = int(rng.integers(0, 7))
        favourites = rng.choice(30, 4, replace=False)
        for d in range(days):
            items = []
            if (d - offset) % 7 == 0:
                items.append(f"c{u % 10}")
            if d < 60 and d % 3 == 0:
                items += [f"f{f}" for f in favourites]
            if rng.random() < 0.05:
                items.append(f"n{int(rng.integers(0, 40))}")
            for item in items:
                rows.append((f"u{u}", f"o{u}-{d}", item, start + pd.Timedelta(days=d, hours=10)))
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "item_id", "timestamp"])
    frame["quantity"] = 1
    frame["unit_price"] = 2.5
    return validate_transactions(frame).kept


@pytest.fixture(scope="module")
def cycle_run():
    tx = _cycle_shop()
    as_of = pd.Timestamp("2024-05-10")  # day 130
    splits = [holdout_split(tx, as_of - pd.Timedelta(days=7 * j), 7) for j in (2, 1, 0)]
    run = train_reranker(
        tx, splits[:2], splits[1], splits[2], k=5, params=FAST, selection_params=FAST, seed=0
    )
    return tx, splits, run


def test_purchase_timing_counts_days_and_orders_by_hand():
    tx = validate_transactions(
        pd.DataFrame({
            "customer_id": ["a", "a", "a", "a", "b"],
            "order_id": ["1", "1", "2", "3", "4"],
            "item_id": ["x", "y", "x", "x", "y"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-08",
                                         "2024-01-15", "2024-01-20"]),
            "quantity": [1, 1, 1, 1, 1],
            "unit_price": [1.0, 3.0, 1.0, 2.0, 5.0],
        })
    ).kept  # fmt: skip
    t = purchase_timing(tx, "2024-01-21", pd.Index(["a", "b"]), pd.Index(["x", "y"]))
    np.testing.assert_allclose(t.last_days.toarray(), [[6, 20], [0, 1]])
    np.testing.assert_allclose(t.first_days.toarray(), [[20, 20], [0, 1]])
    np.testing.assert_allclose(t.user_orders, [3, 1])
    np.testing.assert_allclose(t.user_last_days, [6, 1])
    np.testing.assert_allclose(t.item_interval, [7, np.nan])  # a bought x every 7 days
    np.testing.assert_allclose(t.item_age_days, [20, 20])
    np.testing.assert_allclose(t.item_price, [1.0, 4.0])
    np.testing.assert_allclose(t.recent_orders.toarray(), [[3, 1], [0, 1]])


def test_purchase_timing_leaves_out_ids_outside_the_maps():
    # A training map reused on later data: rows of other customers or items are left out,
    # as documented (an IndexError on garbage order codes, or silently wrong, before).
    rows = {
        "customer_id": ["a", "z", "a", "b", "z", "a"],
        "order_id": ["1", "9", "2", "4", "8", "3"],
        "item_id": ["x", "x", "x", "y", "y", "q"],
        "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-08", "2024-01-20",
                                     "2024-01-09", "2024-01-16"]),
        "quantity": [1] * 6,
        "unit_price": [1.0] * 6,
    }  # fmt: skip
    tx = validate_transactions(pd.DataFrame(rows)).kept
    t = purchase_timing(tx, "2024-01-21", pd.Index(["a", "b"]), pd.Index(["x", "y"]))
    np.testing.assert_allclose(t.user_orders, [2, 1])  # a's order 3 holds only item q
    np.testing.assert_allclose(t.user_last_days, [13, 1])
    np.testing.assert_allclose(t.last_days.toarray(), [[13, 0], [0, 1]])


def test_union_candidates_takes_each_generators_top_and_skips_zeros():
    scores = np.zeros((len(GENERATORS), 1, 6), dtype=np.float32)
    scores[0, 0] = [0, 0, 0, 0, 0.5, 1.0]  # repurchase: items 4, 5
    scores[1, 0] = [1.0, 0.9, 0.8, 0, 0, 0]  # item-kNN: top 2 = items 0, 1
    cols, valid = union_candidates(scores, 2, None)
    assert set(cols[0][valid[0]]) == {0, 1, 4, 5}
    exclude = np.array([[False] * 5 + [True]])
    cols, valid = union_candidates(scores, 2, exclude)
    assert set(cols[0][valid[0]]) == {0, 1, 4}


def test_a_due_repurchase_is_ranked_first(cycle_run):
    """The cycle item, due now, beats the old favourites with larger counts."""
    tx, splits, run = cycle_run
    holdout = splits[-1]
    users = holdout.user_codes
    recs, _ = run.model.recommend(users, holdout.train.matrix[users], 5)
    cycle = holdout.train.item_ids.get_indexer([f"c{u % 10}" for u in range(120)])
    ids = holdout.train.user_ids[users]
    expected = cycle[[int(i[1:]) for i in ids]]
    assert (recs[:, 0] == expected).mean() > 0.95
    # Buy-again by counts alone would pick an old favourite first.
    counts = holdout.train.matrix[users].toarray()
    assert (counts.argmax(axis=1) == expected).mean() < 0.05
    scores = score_split(run.model, holdout, k=5)
    assert (
        scores.query("mode == 'all' and metric == 'ndcg'")["value"].iloc[0] > 0.8
    )  # noise items in the truth


def test_items_outside_the_candidates_score_just_below_them(cycle_run):
    """So an audience's per-customer rescaling spreads the candidates over (0, 1]."""
    from kizuna.models.audience import scaled_scores
    from kizuna.models.recommenders.rerank_scoring import OUTSIDE_MARGIN

    _, splits, run = cycle_run
    holdout = splits[-1]
    users = holdout.user_codes[:20]
    assert "all" in run.model.rank_modes  # score_items ranks the "all" mode
    scores = run.model.score_items(users, holdout.train.matrix[users])
    floor = scores.min(axis=1)
    above = scores > floor[:, None]
    assert above.any(axis=1).all() and (~above).any(axis=1).all()  # candidates and the rest
    lowest = np.where(above, scores, np.inf).min(axis=1)
    np.testing.assert_allclose(lowest - floor, OUTSIDE_MARGIN)
    scaled = scaled_scores(scores)
    candidate = np.where(above, scaled, np.nan)
    assert np.nanmax(candidate, axis=1) == pytest.approx(1.0)
    assert np.nanmedian(candidate) < 0.99  # not squashed against a far floor


def test_reasons_come_from_the_top_generator(cycle_run):
    _, splits, run = cycle_run
    holdout = splits[-1]
    users = holdout.user_codes[:10]
    out = run.model.recommend_with_reasons(users, holdout.train.matrix[users], 5)
    plain, _ = run.model.recommend(users, holdout.train.matrix[users], 5)
    np.testing.assert_array_equal(out.item_codes, plain)
    assert np.all(out.component[:, 0] == COMPONENTS.index("repurchase"))
    assert np.all((out.component >= 0) == (out.item_codes >= 0))


def test_training_twice_gives_identical_rankings():
    tx = _cycle_shop(days=100, n_users=60, seed=1)
    as_of = pd.Timestamp("2024-04-05")
    splits = [holdout_split(tx, as_of - pd.Timedelta(days=7 * j), 7) for j in (2, 1, 0)]
    tables = [
        score_split(
            train_reranker(tx, splits[:2], splits[1], splits[2], k=5, params=FAST, selection_params=FAST, seed=3).model,
            splits[-1], k=5,
        )
        for _ in range(2)
    ]  # fmt: skip
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_live_purchase_updates_the_timing_and_survives_pickle(cycle_run):
    """A purchase through update_user marks the item as bought just now."""
    tx, splits, run = cycle_run
    holdout = splits[-1]
    model = pickle.loads(pickle.dumps(run.model))
    fit_with_timing(
        model, tx, holdout.train.matrix, holdout.train.user_ids, holdout.train.item_ids,
        holdout.as_of, recent=holdout.recent, categories=None,
    )  # fmt: skip
    u = int(holdout.user_codes[0])
    row = holdout.train.matrix[[u]].copy()
    before = model.score_items(np.array([u]), row)
    item = int(np.argmax(before[0]))  # the due cycle item
    row[0, item] += 1
    assert model.update_user(u, sp.csr_matrix(row))
    assert model.timing_.update(np.array([u]), sp.csr_matrix(row)) == 0  # nothing new now
    assert np.isfinite(model.score_items(np.array([u]), row)).all()
    last, _, _, user = model.timing_.rows(np.array([u]))
    assert last[0, item] == 0 and user[0, 0] == 0


def test_without_the_ranker_a_mode_falls_back_to_the_blend(cycle_run):
    from kizuna.models.recommenders import HybridRecommender

    _, splits, run = cycle_run
    holdout = splits[-1]
    users = holdout.user_codes
    model = pickle.loads(pickle.dumps(run.model)).set_params(rank_modes=())
    hybrid = HybridRecommender(**FAST["generator_params"]).fit(
        holdout.train.matrix, recent_items=holdout.recent
    )
    for new in (False, True):
        a, _ = model.recommend(users, holdout.train.matrix[users], 5, exclude_seen=new)
        b, _ = hybrid.recommend(users, holdout.train.matrix[users], 5, exclude_seen=new)
        np.testing.assert_array_equal(a, b)


def test_a_blended_mode_follows_the_generators_seen_in_all(cycle_run):
    # Without an all-mode ranker the blend orders that mode, and a blend tuned to leave
    # seen items out (seen_in_all=False) leaves them out there too; a ranker decides alone.
    from kizuna.models.recommenders import HybridRecommender

    _, splits, run = cycle_run
    holdout = splits[-1]
    users = holdout.user_codes
    history = holdout.train.matrix[users]
    params = {**FAST["generator_params"], "seen_in_all": False}
    hybrid = HybridRecommender(**params).fit(holdout.train.matrix, recent_items=holdout.recent)
    model = pickle.loads(pickle.dumps(run.model))
    model.set_params(rank_modes=(), generator_params=params)
    a, _ = model.recommend(users, history, 5)
    b, _ = hybrid.recommend(users, history, 5)
    np.testing.assert_array_equal(a, b)
    assert model.drops_seen(False)
    ranked = pickle.loads(pickle.dumps(run.model))
    before, _ = ranked.recommend(users, history, 5)
    ranked.set_params(generator_params=params)
    after, _ = ranked.recommend(users, history, 5)
    np.testing.assert_array_equal(after, before)
    assert not ranked.drops_seen(False)


def test_a_mode_without_ranking_data_gets_no_ranker_and_is_blended(cycle_run):
    # Nobody bought a candidate in the new mode (a one-item shop, say): that mode has no
    # ranker and the blend orders it, while the other mode is ranked (before: an error
    # that ended the whole training).
    _, splits, run = cycle_run
    holdout = splits[-1]
    users = holdout.user_codes
    history = holdout.train.matrix[users]
    model = pickle.loads(pickle.dumps(run.model))
    data = model.ranking_data_by_mode(users, history, {m: holdout.truth[m] for m in ("all", "new")})
    nothing = tuple(np.zeros((0,) + a.shape[1:], a.dtype) for a in data["new"])
    model.fit_rankers({"all": [data["all"]], "new": [nothing]})
    assert list(model.rankers_) == ["all"]
    blended = pickle.loads(pickle.dumps(model)).set_params(rank_modes=("all",))
    for rank_modes in (("all", "new"), ("all",)):
        a, _ = model.set_params(rank_modes=rank_modes).recommend(
            users, history, 5, exclude_seen=True
        )
        b, _ = blended.recommend(users, history, 5, exclude_seen=True)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rank_modes", [("all", "new"), ("new",), ()])
def test_by_mode_calls_equal_one_call_per_mode(cycle_run, rank_modes):
    # One generator scoring per block serves every mode: the same lists and data.
    _, splits, run = cycle_run
    split = splits[-1]
    users, history = split.user_codes, split.train.matrix[split.user_codes]
    model = pickle.loads(pickle.dumps(run.model)).set_params(rank_modes=rank_modes)
    both = model.recommend_by_mode(users, history, 7)
    assert set(both) == {"all", "new"}
    for mode in ("all", "new"):
        items, scores = model.recommend(users, history, 7, exclude_seen=mode == "new")
        np.testing.assert_array_equal(both[mode][0], items)
        np.testing.assert_array_equal(both[mode][1], scores)
    data = model.ranking_data_by_mode(users, history, split.truth)
    for mode in ("all", "new"):
        alone = model.ranking_data(users, history, split.truth[mode], exclude_seen=mode == "new")
        assert len(alone[2]) > 0
        for got, want in zip(data[mode], alone, strict=True):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(KizunaInputError, match="modes"):
        model.recommend_by_mode(users, history, 7, modes=("sometimes",))


def test_rank_modes_are_the_modes_where_the_ranker_wins_on_validation():
    from kizuna.training.train_reranker import RERANKED, choose_rank_modes, with_modes

    def table(model, all_, new):
        return pd.DataFrame({"model": model, "mode": ["all", "new"], "metric": "ndcg",
                             "value": [all_, new]})  # fmt: skip

    ranked, blend = table(RERANKED, 0.40, 0.20), table("hybrid", 0.45, 0.10)
    assert choose_rank_modes(ranked, blend) == ("new",)
    both = with_modes(ranked, blend, ("new",)).set_index("mode")["value"]
    assert both.to_dict() == {"new": 0.20, "all": 0.45}
    assert choose_rank_modes(ranked, ranked.assign(model="hybrid")) == ()  # a tie keeps the blend


def test_items_without_a_category_are_fitted_as_unknown():
    # An item posted live that the items table lacks has category pd.NA (the catalogue
    # reindexed over every item): it is "no category", not an error that ends training.
    data = make_category_data()
    labels = pd.Series(data["item_category"], dtype="string")
    labels.iloc[[0, 3]] = pd.NA
    model = RerankedRecommender(**FAST).fit(data["train"], item_categories=labels)
    codes = model.items_.category
    assert codes[0] == codes[3] == -1 and (np.delete(codes, [0, 3]) >= 0).all()
    expected = pd.factorize(labels.dropna().astype(str), sort=True)[0]
    np.testing.assert_array_equal(np.delete(codes, [0, 3]), expected)
