"""Time-split recommender evaluation on a hand-made log, and the Online Retail reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders import PersonalPopularityRecommender, PopularityRecommender
from kizuna.training.recommender_eval import (
    default_models,
    evaluate_recommenders,
    holdout_split,
    margins,
)

AS_OF = "2024-01-10"
LOG2_3 = np.log2(3.0)


def _log(extra: list[tuple] | None = None) -> pd.DataFrame:
    """Customers A, B, C before as_of; the window [01-10, 01-20) has A and B.

    Training counts (distinct orders): A: x 2, y 1; B: y 1; C: z 1.
    Window: A buys x (exactly at as_of) and w (a new item); B buys y; B's
    return of z is not a purchase; C buys at 01-20 00:00 (outside); D is new.
    """
    rows = [
        ("A", "o1", "x", "2024-01-01", 1.0, False),
        ("A", "o1", "y", "2024-01-01", 1.0, False),
        ("A", "o2", "x", "2024-01-05", 3.0, False),
        ("B", "o3", "y", "2024-01-08", 1.0, False),
        ("C", "o4", "z", "2024-01-02", 1.0, False),
        ("A", "o5", "x", "2024-01-10 00:00", 1.0, False),
        ("A", "o5", "w", "2024-01-10 00:00", 1.0, False),
        ("B", "o6", "y", "2024-01-19 23:00", 1.0, False),
        ("B", "r1", "z", "2024-01-12", -1.0, True),
        ("C", "o7", "z", "2024-01-20 00:00", 1.0, False),
        ("D", "o8", "x", "2024-01-12", 1.0, False),
    ] + (extra or [])
    df = pd.DataFrame(rows, columns=[s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.TIMESTAMP,
                                     s.QUANTITY, s.IS_RETURN])  # fmt: skip
    df[s.TIMESTAMP] = pd.to_datetime(df[s.TIMESTAMP], format="ISO8601")
    df[s.UNIT_PRICE] = 2.0
    df[s.REVENUE] = df[s.QUANTITY] * df[s.UNIT_PRICE]
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID):
        df[col] = df[col].astype("string")
    return df


def test_holdout_split_by_hand() -> None:
    h = holdout_split(_log(), AS_OF, 10, trend_days=7)
    assert list(h.train.user_ids) == ["A", "B", "C"]
    assert list(h.train.item_ids) == ["x", "y", "z"]
    np.testing.assert_array_equal(h.train.matrix.toarray(), [[2, 1, 0], [0, 1, 0], [0, 0, 1]])
    # Recent window [01-03, 01-10): A's o2 and B's o3.
    np.testing.assert_array_equal(h.recent.toarray(), [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(h.user_codes, [0, 1])
    assert list(h.new_item_ids) == ["w"]
    # Columns x, y, z, then w (new, code 3).
    np.testing.assert_array_equal(h.truth["all"].toarray(), [[1, 0, 0, 1], [0, 1, 0, 0]])
    np.testing.assert_array_equal(h.truth["new"].toarray(), [[0, 0, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_allclose(h.item_share, [1 / 3, 2 / 3, 1 / 3])
    assert h.item_categories is None


def test_rows_outside_the_windows_change_nothing() -> None:
    base = holdout_split(_log(), AS_OF, 10)
    extra = [
        ("A", "o9", "z", "2024-01-25", 1.0, False),
        ("B", "o10", "v", "2024-01-20", 1.0, False),
    ]
    later = holdout_split(_log(extra), AS_OF, 10)
    np.testing.assert_array_equal(later.train.matrix.toarray(), base.train.matrix.toarray())
    for mode in ("all", "new"):
        np.testing.assert_array_equal(later.truth[mode].toarray(), base.truth[mode].toarray())


def test_evaluation_by_hand() -> None:
    h = holdout_split(_log(), AS_OF, 10)
    res = evaluate_recommenders(
        {"pop": PopularityRecommender(), "own": PersonalPopularityRecommender()}, h, k=2
    )
    value = res.set_index(["model", "mode", "metric"])["value"]
    # Popularity x (2) then y (2, tie -> lower code): A hits rank 1 of truth {x, w},
    # B hits rank 2 of truth {y}.
    a_ndcg, b_ndcg = 1 / (1 + 1 / LOG2_3), 1 / LOG2_3
    assert value["pop", "all", "ndcg"] == pytest.approx((a_ndcg + b_ndcg) / 2)
    assert value["pop", "all", "precision"] == pytest.approx(0.5)
    assert value["pop", "all", "recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert value["pop", "all", "map"] == pytest.approx((0.5 + 0.5) / 2)
    assert value["pop", "all", "coverage"] == pytest.approx(2 / 3)
    assert value["pop", "all", "mean_popularity"] == pytest.approx(0.5)
    # New items only: A gets z (w is unknown to the model); B has no new truth.
    assert value["pop", "new", "ndcg"] == 0.0
    assert value["pop", "new", "n_users"] == 1
    # Buy again: A [x, y] as popularity; B [y] -> NDCG 1. No `new` rows.
    assert value["own", "all", "ndcg"] == pytest.approx((a_ndcg + 1.0) / 2)
    assert ("own", "new", "ndcg") not in value.index
    assert {"fit_seconds", "recommend_seconds"} <= set(res["metric"])


def test_item_categories_take_each_items_most_common_category() -> None:
    log = _log()
    # Rows from as_of on say "e": the labels come from training rows only.
    log[s.CATEGORY] = pd.array(["b", "c", "a", "c", "d", "e", "e", "e", None, "e", "e"],
                               dtype="string")  # fmt: skip
    h = holdout_split(log, AS_OF, 10)
    # x: b, a -> tie, the lower label; y: c, c; z: d.
    assert list(h.item_categories) == ["a", "c", "d"]


def test_margins_pick_the_best_other_model() -> None:
    res = pd.DataFrame(
        {
            "model": ["hybrid", "knn", "pop", "hybrid", "knn"],
            "mode": ["all", "all", "all", "new", "new"],
            "metric": "ndcg",
            "value": [0.44, 0.40, 0.10, 0.12, 0.10],
        }
    )
    out = margins(res)
    assert out.loc["all", "best_baseline"] == "knn"
    assert out.loc["all", "margin"] == pytest.approx(0.10)
    assert out.loc["new", "margin"] == pytest.approx(0.20)


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(KizunaInputError, match="horizon_days"):
        holdout_split(_log(), AS_OF, 0)
    with pytest.raises(KizunaInputError, match="no purchases before"):
        holdout_split(_log(), "2023-01-01", 10)
    with pytest.raises(KizunaInputError, match=s.ORDER_ID):
        holdout_split(_log().drop(columns=[s.ORDER_ID]), AS_OF, 10)
    h = holdout_split(_log(), AS_OF, 10)
    with pytest.raises(KizunaInputError, match="modes"):
        evaluate_recommenders({"pop": PopularityRecommender()}, h, modes=["some"])


# --- the reference table on Online Retail ------------------------------------------------

# NDCG@10 from ../shared/datasets/README.md (as_of 2011-09-10, 90 days).
REFERENCE = {
    ("global_popularity", "all"): 0.120, ("global_popularity", "new"): 0.050,
    ("als", "all"): 0.331, ("als", "new"): 0.107,
    ("item_knn_bm25", "all"): 0.348, ("item_knn_bm25", "new"): 0.109,
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.dataset
def test_online_retail_reference_table(online_retail_path) -> None:
    from kizuna.features.validate import validate_transactions
    from kizuna.training.data import read_transactions

    raw = read_transactions(online_retail_path, format="online-retail")
    tx = validate_transactions(raw.frame, **raw.validate_kwargs).kept
    h = holdout_split(tx, "2011-09-10", 90)
    assert len(h.user_codes) == 1919
    res = evaluate_recommenders(default_models(), h)
    ndcg = res[res.metric == "ndcg"].set_index(["model", "mode"])["value"]
    for key, expected in REFERENCE.items():
        assert ndcg[key] == pytest.approx(expected, abs=0.003), key
    # The reference's buy-again list breaks ties by item id (0.339); ours by
    # popularity, which is better.
    assert ndcg["personal_popularity", "all"] >= 0.339
    # The served hybrid beats every single model in both modes.
    found = margins(res)
    assert (found["margin"] > 0).all(), found


# --- blend tuning (training.blend_tuning.tune_blend) -------------------------------


def test_candidates_are_the_union_of_each_components_top_items() -> None:
    from kizuna.training.blend_tuning import _candidates

    # Two components, two users, five items; top 2 of each component.
    unit = np.array([
        [[0.9, 0.8, 0.0, 0.0, 0.1], [0.0, 0.0, 0.5, 0.4, 0.3]],
        [[0.0, 0.9, 0.8, 0.0, 0.0], [0.0, 0.0, 0.9, 0.8, 0.0]],
    ])  # fmt: skip
    cols, valid = _candidates(unit, 2, None)
    # User 0: {0, 1} | {1, 2}; user 1: {2, 3} | {2, 3} -> padded to width 3.
    np.testing.assert_array_equal(cols[0][valid[0]], [0, 1, 2])
    np.testing.assert_array_equal(cols[1][valid[1]], [2, 3])
    assert cols.shape == (2, 3) and valid[1].sum() == 2
    # Excluding user 0's item 1 moves each component's top 2 down the list.
    exclude = np.zeros((2, 5), dtype=bool)
    exclude[0, 1] = True
    cols, valid = _candidates(unit, 2, exclude)
    np.testing.assert_array_equal(cols[0][valid[0]], [0, 2, 4])


def test_tune_blend_leaves_seen_items_out_where_nobody_buys_twice() -> None:
    # The same shop with every repeat purchase removed from the window: the all mode's
    # truth holds only new items, so the all blend is tuned without the customer's own.
    from kizuna.models.recommenders import HybridRecommender
    from kizuna.training.blend_tuning import tune_blend
    from kizuna.training.config import RecommenderConfig

    as_of = pd.Timestamp("2024-03-01")
    tx = _synthetic_log(as_of, 30)
    before = tx[tx[s.TIMESTAMP] < as_of]
    bought = set(zip(before[s.CUSTOMER_ID], before[s.ITEM_ID], strict=True))
    repeat = [(c, i) in bought for c, i in zip(tx[s.CUSTOMER_ID], tx[s.ITEM_ID], strict=True)]
    no_repeats = tx[~((tx[s.TIMESTAMP] >= as_of).to_numpy() & np.array(repeat))]
    params = {"als_factors": 8, "knn_neighbours": 20}
    config = RecommenderConfig(params=params)
    weights, records = tune_blend(no_repeats, as_of, 30, config, seed=0)
    assert weights["seen_in_all"] is False and weights["repurchase_weight"] == 0.0
    kept = [r for r in records if r["mode"] == "all" and r["params"]["seen_in_all"]]
    dropped = [r for r in records if r["mode"] == "all" and not r["params"]["seen_in_all"]]
    best_kept = max(r["validation"]["all_ndcg_at_10"] for r in kept)
    best_dropped = max(r["validation"]["all_ndcg_at_10"] for r in dropped)
    assert best_dropped > best_kept
    # recommend() in the all mode gives the tuned figure: the choice holds at serving.
    holdout = holdout_split(no_repeats, as_of, 30, trend_days=7)
    res = evaluate_recommenders({"hybrid": HybridRecommender(**params, **weights)}, holdout)
    ndcg = res[res.metric == "ndcg"].set_index("mode")["value"]
    assert ndcg["all"] == pytest.approx(best_dropped, abs=1e-9)
    # With repeats the buy-again blend wins and keeps the customer's items.
    assert tune_blend(tx, as_of, 30, config, seed=0)[0]["seen_in_all"] is True


def _synthetic_log(as_of: pd.Timestamp, days: int) -> pd.DataFrame:
    """Purchases of make_category_data: ``train`` before as_of, ``future`` in the window."""
    from tests.models.recommender_contract import make_category_data

    data = make_category_data(n_users=150, n_items=40, purchases=10, seed=1)
    frames = []
    for name, start in (("train", as_of - pd.Timedelta(days=60)), ("future", as_of)):
        coo = data[name].tocoo()
        rng = np.random.default_rng(len(name))
        offset = rng.integers(0, days * 24, size=coo.nnz)
        frames.append(pd.DataFrame({
            s.CUSTOMER_ID: [f"c{u}" for u in coo.row],
            s.ORDER_ID: [f"{name}{u}-{o}" for u, o in zip(coo.row, offset // 24, strict=True)],
            s.ITEM_ID: [f"i{i:02d}" for i in coo.col],
            s.TIMESTAMP: start + pd.to_timedelta(offset, unit="h"),
        }))  # fmt: skip
    df = pd.concat(frames, ignore_index=True)
    df[s.QUANTITY] = 1.0
    df[s.UNIT_PRICE] = 2.0
    df[s.REVENUE] = 2.0
    df[s.IS_RETURN] = False
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID):
        df[col] = df[col].astype("string")
    return df


def test_tune_blend_picks_each_modes_best_and_matches_a_full_evaluation(monkeypatch) -> None:
    from kizuna.models.recommenders import HybridRecommender
    from kizuna.training import blend_tuning
    from kizuna.training.blend_tuning import (
        DEFAULT_WEIGHT_GRID,
        TUNED_NAMES,
        WEIGHT_NAMES,
        tune_blend,
    )
    from kizuna.training.config import RecommenderConfig

    # Candidates: each component's top 12 of the 40 items, so the shortcut is exercised.
    monkeypatch.setattr(blend_tuning, "TUNING_CANDIDATES", 12)

    as_of = pd.Timestamp("2024-03-01")
    tx = _synthetic_log(as_of, 30)
    params = {"als_factors": 8, "knn_neighbours": 20}
    weights, records = tune_blend(tx, as_of, 30, RecommenderConfig(params=params), seed=0)
    assert set(weights) == set(TUNED_NAMES)
    assert all(weights[name] in DEFAULT_WEIGHT_GRID[name] for name in WEIGHT_NAMES)
    for mode in ("all", "new"):
        values = [r["validation"][f"{mode}_ndcg_at_10"] for r in records if r["mode"] == mode]
        chosen = next(r for r in records if r["mode"] == mode
                      and all(weights[k] == v for k, v in r["params"].items()))  # fmt: skip
        assert chosen["validation"][f"{mode}_ndcg_at_10"] == max(values)
    # The candidate shortcut gives what recommend() gives for the chosen weights.
    holdout = holdout_split(tx, as_of, 30, trend_days=7)
    model = HybridRecommender(**params, **weights)
    res = evaluate_recommenders({"hybrid": model}, holdout)
    ndcg = res[res.metric == "ndcg"].set_index("mode")["value"]
    for mode in ("all", "new"):
        best = max(r["validation"][f"{mode}_ndcg_at_10"] for r in records if r["mode"] == mode)
        assert ndcg[mode] == pytest.approx(best, abs=1e-9)
