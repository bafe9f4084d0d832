"""The report's value at risk is the offer engine's: value if retained x churn probability."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

# a: 100 x 0.2; b: 30 x 0.5; c: 2 x 0.95 (a near-certain churner).
SCORES = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c"],
        "segment": ["champions", "at_risk", "hibernating"],
        "predicted_value": [100.0, 30.0, 2.0],
        "churn_probability": [0.2, 0.5, 0.95],
    }
)


def test_an_expected_ltv_is_valued_if_retained_before_weighing_by_churn() -> None:
    from kizuna.training.report.sections import worth_keeping

    keep = worth_keeping(SCORES, top=3, ltv_basis="expected")
    # value if retained: a 100 / 0.8 = 125, b 30 / 0.5 = 60, c 2 / max(0.05, 0.1) = 20;
    # x churn: a 25, b 30, c 19. Predicted value x churn (20, 15, 1.9) put a first.
    assert keep["customer_id"].tolist() == ["b", "a", "c"]
    assert keep["value_at_risk"].tolist() == pytest.approx([30.0, 25.0, 19.0])


def test_an_ltv_if_retained_is_weighed_by_churn_as_is() -> None:
    from kizuna.training.report.sections import worth_keeping

    keep = worth_keeping(SCORES, top=2, ltv_basis="if_retained")
    assert keep["customer_id"].tolist() == ["a", "b"]
    assert keep["value_at_risk"].tolist() == pytest.approx([20.0, 15.0])


def test_the_value_section_says_which_value_it_weighs() -> None:
    from kizuna.training.report.sections import value_section

    section = value_section(SCORES, {}, ltv_basis="expected")
    assert "value if retained × churn probability" in section.intro
    assert any("1 − churn probability" in note for note in section.notes)
    table = section.tables[0][1]
    assert table.index.tolist() == ["b", "a", "c"]
    assert table["value_at_risk"].tolist() == ["30", "25", "19"]


def test_the_basis_comes_from_the_offer_catalogue_else_kizunas_ltv(tmp_path: Path) -> None:
    from kizuna.training.report.sources import ltv_basis

    catalogue = tmp_path / "offers.yaml"
    catalogue.write_text(
        "ltv_basis: expected\noffers:\n  - {offer_id: wb, type: win_back, save_rate: 0.1}\n"
    )
    assert ltv_basis(catalogue) == "expected"
    assert ltv_basis(None) == "expected"  # the champion LTV: an expected value


def _catalogue(path: Path, basis: str) -> Path:
    path.write_text(
        f"ltv_basis: {basis}\noffers:\n  - {{offer_id: wb, type: win_back, save_rate: 0.1}}\n"
    )
    return path


@pytest.mark.parametrize(
    ("env_offers", "order"),
    [(None, ["b", "a", "c"]), ("if_retained", ["a", "b", "c"])],
)
def test_the_report_weighs_by_the_catalogue_the_offer_engine_reads(
    monkeypatch, tmp_path: Path, env_offers, order
) -> None:
    import re

    import kizuna.training.report as report
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.config import DataConfig, ExperimentConfig, SplitConfig
    from kizuna.training.shop_io import write_shop

    write_shop(
        generate_shop(
            ShopConfig(n_customers=20, n_items=12, seed=1, start="2024-01-01", end="2024-03-01")
        ),
        tmp_path / "shop",
    )
    config = ExperimentConfig(
        name="value-test",
        data=DataConfig(transactions=tmp_path / "shop" / "transactions.parquet"),
        split=SplitConfig(as_of="2024-02-01", horizon_days=14),
        offers=_catalogue(tmp_path / "experiment_offers.yaml", "expected"),
    )
    seen = []

    def scores(options, config, basis, *, quiet):  # the champions' scores, without models
        seen.append(basis)
        return SCORES, {}, None

    monkeypatch.setattr(report, "_scores", scores)
    # KIZUNA_OFFERS, when set, is the catalogue /next_best_offer reads first.
    offers = _catalogue(tmp_path / "env.yaml", env_offers) if env_offers else None
    options = report.ReportOptions(models="a-folder", offers=offers)
    page, _ = report.build_report(config, options, quiet=True)
    assert seen == [env_offers or "expected"]
    table = page.split("<caption>Most worth keeping</caption>")[1]
    assert re.findall(r"<tr><td>(\w)</td>", table)[:3] == order
