"""The offer catalogue: YAML and CSV shapes, defaults, and errors that name offer and field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from kizuna.features.errors import KizunaInputError
from kizuna.models.offer_loading import CSV_COLUMNS, load_offers, offers_to_rows
from kizuna.models.offers import NO_OFFER, OfferCatalogue

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

YAML_TEXT = """
margin: 0.4
contact_policy: {max_contacts: 2, period_days: 30, min_days_between: 7}
offers:
  - offer_id: winback
    type: win_back
    cost: {fixed: 0.3, discount_share: 0.15}
    save_rate: 0.12
    eligibility:
      segments: [At risk, Hibernating]
      churn_probability: {min: 0.4}
      min_ltv: 20
      days_since_last_purchase: {min: 60, max: 365}
      channels: [email, sms]
    caps: {cooldown_days: 60, max_contacts: 2, period_days: 180}
  - offer_id: xsell
    type: cross_sell
    incremental_share: 0.25
    max_items: 3
"""


def catalogue() -> OfferCatalogue:
    return load_offers(yaml.safe_load(YAML_TEXT))


def test_yaml_mapping_parses_with_defaults() -> None:
    cat = catalogue()
    assert cat.offer_ids == ("winback", "xsell")
    assert cat.margin == 0.4
    assert cat.contact_policy.max_contacts == 2
    wb = cat.get("winback")
    assert wb.cost.discount_share == 0.15
    assert wb.eligibility.segments == ("At risk", "Hibernating")
    assert wb.eligibility.churn_probability.bounds() == (0.4, math.inf)
    assert wb.eligibility.days_since_last_purchase.bounds() == (60, 365)
    assert wb.caps.cooldown_days == 60
    assert not wb.is_product
    xs = cat.get("xsell")
    assert xs.is_product and xs.save_rate is None
    assert xs.cost.fixed == 0 and xs.caps.max_contacts is None
    assert xs.eligibility.channels == ()  # every channel


def test_csv_rows_round_trip() -> None:
    cat = catalogue()
    rows = offers_to_rows(cat)
    assert set(rows[0]) == set(CSV_COLUMNS)
    # As a CSV reader gives them: text, empty cells for missing values.
    text_rows = [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]
    policy = {"max_contacts": 2, "period_days": 30, "min_days_between": 7}
    again = load_offers(text_rows, margin=0.4, contact_policy=policy)
    assert again == cat


def test_catalogue_passes_through_and_overrides_apply() -> None:
    cat = catalogue()
    assert load_offers(cat) == cat
    assert load_offers(cat, margin=0.2).margin == 0.2
    assert load_offers(cat, ltv_basis="expected").ltv_basis == "expected"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"save_rate": None}, r"offer 'winback'.*save_rate"),
        ({"cost": {"fixed": -1}}, r"offer 'winback'.*cost\.fixed"),
        ({"cost": {"discount_share": 1.0}}, r"offer 'winback'.*cost\.discount_share"),
        ({"type": "coupon"}, r"offer 'winback'.*field type"),
        (
            {"eligibility": {"churn_probability": {"min": 0.8, "max": 0.2}}},
            r"offer 'winback'.*churn_probability",
        ),
        ({"eligibility": {"segments": "At risk"}}, r"offer 'winback'.*segments"),
        ({"caps": {"max_contacts": 0}}, r"offer 'winback'.*caps\.max_contacts"),
        ({"colour": "red"}, r"offer 'winback'.*colour"),
    ],
)
def test_bad_offers_name_the_offer_and_field(change: dict, needle: str) -> None:
    raw = yaml.safe_load(YAML_TEXT)
    raw["offers"][0].update(change)
    if change.get("save_rate", 0) is None:
        del raw["offers"][0]["save_rate"]
    with pytest.raises(KizunaInputError, match=needle):
        load_offers(raw)


def test_catalogue_level_errors() -> None:
    raw = yaml.safe_load(YAML_TEXT)
    raw["offers"][1]["offer_id"] = "winback"
    with pytest.raises(KizunaInputError, match="appears twice"):
        load_offers(raw)
    raw = yaml.safe_load(YAML_TEXT)
    raw["offers"][0]["offer_id"] = NO_OFFER
    with pytest.raises(KizunaInputError, match="reserved"):
        load_offers(raw)
    with pytest.raises(KizunaInputError, match="offers"):
        load_offers({"margin": 0.3})
    with pytest.raises(KizunaInputError, match="margin"):
        load_offers({**yaml.safe_load(YAML_TEXT), "margin": 0})
    with pytest.raises(KizunaInputError, match="unknown column"):
        load_offers([{"offer_id": "a", "type": "upsell", "colour": "red"}])
    with pytest.raises(KizunaInputError, match="unknown offer"):
        catalogue().get("nope")


@pytest.mark.parametrize("name", ["offers_demo.yaml", "offers_online_retail.yaml"])
def test_shipped_catalogues_parse(name: str) -> None:
    cat = load_offers(yaml.safe_load((EXPERIMENTS / name).read_text()))
    types = {o.type for o in cat.offers}
    # Every kind of offer the issue names is represented.
    assert {"cross_sell", "upsell", "win_back", "discount", "service_contact"} <= types
    assert types & {"loyalty_reward", "tier_upgrade"}
    assert cat.ltv_basis == "expected"
    assert all(o.save_rate is not None for o in cat.offers if not o.is_product)
