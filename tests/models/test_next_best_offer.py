"""Next-best offer: expected values by hand, eligibility and no-offer; caps in test_offer_contacts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.models.next_best_offer import decide, decide_one
from kizuna.models.offer_loading import load_offers
from kizuna.models.offers import NO_OFFER
from tests.models.offer_data import CAT, NOW, RAW, candidates, customers


def test_expected_values_and_ranking_by_hand() -> None:
    d = decide(customers(), CAT, product_candidates=candidates(), k=3)
    a = d[d["customer_id"] == "a"]
    assert list(a["offer_id"]) == ["wb", "xs"]  # loy: wrong segment
    assert list(a["rank"]) == [1, 2]
    wb, xs = a.iloc[0], a.iloc[1]
    # wb: uplift 0.8 * 0.2 = 0.16; benefit 0.5 * 100 * 0.16 = 8; P(buy | offered) = 0.2 + 0.16;
    # cost 1 + 0.1 * 40 * 0.36 = 2.44.
    assert wb["retention_uplift"] == pytest.approx(0.16)
    assert wb["expected_benefit"] == pytest.approx(8.0)
    assert wb["expected_cost"] == pytest.approx(2.44)
    assert wb["expected_value"] == pytest.approx(5.56)
    assert wb["uplift_source"] == "assumed" and wb["items"] == []
    # xs: item values 2.0, 2.0, 5.0 -> top two i3 (5.0) and i1 (2.0, first of the tie);
    # benefit 0.5 * 7 = 3.5, cost 0.5.
    assert xs["items"] == ["i3", "i1"]
    assert xs["expected_value"] == pytest.approx(3.0)
    assert np.isnan(xs["retention_uplift"]) and xs["uplift_source"] == "recommender"
    assert any("cross-sell 'xs'" in r for r in xs["reasons"])
    assert any("save rate 20%" in r for r in wb["reasons"])


def test_k_limits_the_rows() -> None:
    d = decide(customers(), CAT, product_candidates=candidates(), k=1)
    assert list(d["customer_id"]) == ["a", "b", "c"]
    assert d.loc[d["customer_id"] == "a", "offer_id"].item() == "wb"
    with pytest.raises(KizunaInputError, match="k must"):
        decide(customers(), CAT, k=0)


def test_no_offer_when_nothing_has_positive_value() -> None:
    d = decide(customers(), CAT, product_candidates=candidates(), channel="app", k=3)
    b = d[d["customer_id"] == "b"].iloc[0]
    # loy: uplift 0.1 * 0.1 = 0.01, benefit 0.5 * 200 * 0.01 = 1 < 3; xs: 0.5 * 0.3 < 0.5;
    # wb: churn 0.1 below its 0.3 minimum.
    assert b["offer_id"] == NO_OFFER and b["expected_value"] == 0.0 and b["rank"] == 1
    assert "nothing has a positive expected value" in b["reasons"][0]
    assert "'xs'" in b["reasons"][1] and "-0.35" in b["reasons"][1]
    c = d[d["customer_id"] == "c"].iloc[0]
    # wb: benefit 0.5 * 5 * 0.1 = 0.25 < 1 + 0.1 * 5 * 0.6; no candidates for c.
    assert c["offer_id"] == NO_OFFER
    assert (d.groupby("customer_id").size() >= 1).all()


def test_eligibility_rules() -> None:
    raw = {"offers": [{"offer_id": "r", "type": "discount", "save_rate": 0.5,
                       "eligibility": {"segments": ["At risk", "Lost"],
                                       "churn_probability": {"min": 0.2, "max": 0.9},
                                       "min_ltv": 10,
                                       "days_since_last_purchase": {"min": 30, "max": 365},
                                       "channels": ["email"]}}]}  # fmt: skip
    cust = customers()
    cust.loc[3] = ["d", "At risk", 0.5, 50.0, np.nan, 10.0]  # unknown recency fails the days rule
    chosen = decide(cust, raw, channel="email").set_index("customer_id")["offer_id"]
    # a: eligible; b: wrong segment; c: ltv 5 < 10 and 400 days > 365; d: days unknown.
    assert chosen.to_dict() == {"a": "r", "b": NO_OFFER, "c": NO_OFFER, "d": NO_OFFER}
    assert (decide(cust, raw, channel="sms")["offer_id"] == NO_OFFER).all()
    assert decide(cust, raw, channel=None).set_index("customer_id").loc["a", "offer_id"] == "r"
    reason = decide(cust, raw, channel="sms")["reasons"].iloc[0][0]
    assert "none is eligible" in reason and "channel 'sms'" in reason


def test_learned_uplift_replaces_the_save_rate() -> None:
    up = pd.DataFrame({"customer_id": ["a"], "offer_id": ["wb"], "uplift": [0.3]})
    a = decide(customers(), CAT, uplift=up).iloc[0]
    # benefit 0.5 * 100 * 0.3 = 15; P(buy | offered) 0.2 + 0.3; cost 1 + 0.1 * 40 * 0.5 = 3.
    assert a["uplift_source"] == "learned"
    assert a["expected_value"] == pytest.approx(12.0)
    assert "learned uplift +30.0%" in a["reasons"][1]
    # A customer the model thinks reacts badly (a sleeping dog) gets nothing.
    dog = pd.DataFrame({"customer_id": ["a"], "offer_id": ["wb"], "uplift": [-0.1]})
    assert decide(customers(), CAT, uplift=dog)["offer_id"].iloc[0] == NO_OFFER


class FixedModel:
    def __init__(self, values: list[float]) -> None:
        self.values = np.asarray(values)
        self.seen: list[str] = []

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        self.seen = list(X.columns)
        return self.values


def test_uplift_models_and_numbers() -> None:
    model = FixedModel([0.3, 0.0, 0.0])
    d = decide(customers(), CAT, uplift={"wb": model})
    assert d["expected_value"].iloc[0] == pytest.approx(12.0)
    assert "monetary_mean" in model.seen  # the model reads its features from the frame
    d = decide(customers(), CAT, uplift={"wb": 0.3})
    assert d["expected_value"].iloc[0] == pytest.approx(12.0)
    with pytest.raises(KizunaInputError, match="retention offers"):
        decide(customers(), CAT, uplift={"xs": 0.1})
    with pytest.raises(KizunaInputError, match="not in the catalogue"):
        decide(customers(), CAT, uplift={"nope": 0.1})
    with pytest.raises(KizunaInputError, match="returned 2 values"):
        decide(customers(), CAT, uplift={"wb": FixedModel([0.1, 0.2])})


def test_expected_ltv_basis_values_the_customer_if_kept() -> None:
    cat = load_offers(RAW, ltv_basis="expected")
    a = decide(customers(), cat).iloc[0]
    # Value at stake 100 / (1 - 0.8) = 500; benefit 0.5 * 500 * 0.16 = 40.
    assert a["expected_benefit"] == pytest.approx(40.0)
    assert "value if retained 500.00" in a["reasons"][0]


def test_product_candidates_with_price_margin_discount_and_type() -> None:
    raw = {"offers": [
        {"offer_id": "up", "type": "upsell", "max_items": 1, "cost": {"discount_share": 0.2}},
        {"offer_id": "x2", "type": "cross_sell", "max_items": 5},
    ]}  # fmt: skip
    cands = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a"],
            "item_id": ["u1", "u2", "x1"],
            "p_purchase": [0.5, 0.4, 0.1],
            "price": [20.0, 100.0, 10.0],
            "margin": [0.5, 0.5, 0.5],
            "offer_type": ["upsell", "upsell", "cross_sell"],
        }
    )
    d = decide(customers().iloc[:1], raw, product_candidates=cands, k=2)
    up = d[d["offer_id"] == "up"].iloc[0]
    # u2 is worth 0.4 * 50 = 20 > u1's 0.5 * 10; discount 0.2 * 0.4 * 100 = 8.
    assert up["items"] == ["u2"] and up["expected_value"] == pytest.approx(20.0 - 8.0)
    x2 = d[d["offer_id"] == "x2"].iloc[0]
    assert x2["items"] == ["x1"] and x2["expected_value"] == pytest.approx(0.1 * 5.0)
    with pytest.raises(KizunaInputError, match="price"):
        decide(
            customers(),
            raw,
            product_candidates=cands.drop(columns=["price", "margin"]).assign(margin_value=1.0),
        )
    with pytest.raises(KizunaInputError, match="P\\(purchase\\)"):
        decide(customers(), raw, product_candidates=cands.assign(p_purchase=1.5))


def test_decide_one_matches_the_batch_and_is_json_ready() -> None:
    import json

    row = customers().iloc[0].to_dict()
    one = decide_one(
        row,
        CAT,
        product_candidates=candidates().iloc[:3].drop(columns="customer_id").to_dict("records"),
        k=2,
        now=NOW,
        contact_log=[],
    )
    batch = decide(customers(), CAT, product_candidates=candidates(), k=2)
    batch = batch[batch["customer_id"] == "a"]
    assert [r["offer_id"] for r in one] == list(batch["offer_id"])
    assert [r["expected_value"] for r in one] == pytest.approx(list(batch["expected_value"]))
    json.dumps(one)
    assert one[1]["retention_uplift"] is None and one[1]["items"] == ["i3", "i1"]


def test_bad_customer_inputs_fail_loudly() -> None:
    with pytest.raises(KizunaInputError, match="churn_probability"):
        decide(customers().assign(churn_probability=[0.5, 1.2, 0.1]), CAT)
    with pytest.raises(KizunaInputError, match="predicted_value"):
        decide(customers().drop(columns="predicted_value"), CAT)
    with pytest.raises(KizunaInputError, match="appear once"):
        decide(pd.concat([customers(), customers()]), CAT)
    with pytest.raises(KizunaInputError, match="missing"):
        decide(customers().assign(predicted_value=[1.0, np.nan, 2.0]), CAT)


def test_customer_id_may_be_the_index() -> None:
    d = decide(customers().set_index("customer_id"), CAT, k=1)
    assert list(d["customer_id"]) == ["a", "b", "c"]


@pytest.mark.slow
def test_a_million_customers_in_one_batch() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    cust = pd.DataFrame({
        "customer_id": pd.array([f"C{i:08d}" for i in range(n)], dtype="str"),
        "segment": rng.choice(["At risk", "Champions", "Lost"], n),
        "churn_probability": rng.random(n), "predicted_value": rng.gamma(2, 50, n),
        "days_since_last_purchase": rng.uniform(0, 500, n), "monetary_mean": rng.gamma(6, 8, n),
    })  # fmt: skip
    cands = pd.DataFrame(
        {
            "customer_id": cust["customer_id"].to_numpy()[rng.integers(0, n, 3 * n)],
            "item_id": "i",
            "p_purchase": rng.random(3 * n) * 0.3,
            "margin_value": rng.gamma(2, 5, 3 * n),
        }
    )
    d = decide(cust, CAT, product_candidates=cands, k=2)
    assert d["customer_id"].nunique() == n
