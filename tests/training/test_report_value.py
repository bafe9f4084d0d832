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


def test_the_basis_comes_from_the_offer_catalogue_else_its_default(tmp_path: Path) -> None:
    from kizuna.training.report.sources import ltv_basis

    catalogue = tmp_path / "offers.yaml"
    catalogue.write_text(
        "ltv_basis: expected\noffers:\n  - {offer_id: wb, type: win_back, save_rate: 0.1}\n"
    )
    assert ltv_basis(catalogue) == "expected"
    assert ltv_basis(None) == "if_retained"
