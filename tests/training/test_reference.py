"""docs/reference.md is what the code generates: every option, key and variable, current."""

from __future__ import annotations

from pathlib import Path

from kizuna.training.reference import render

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_page_equals_what_the_code_generates():
    page = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert page == render(), "regenerate: python -m kizuna.training.reference > docs/reference.md"


def test_the_reference_lists_every_command_key_and_variable():
    page = render()
    for needle in (
        "### `kizuna score offers`",
        "| `--horizon` |",
        "| `data.decimal` |",
        "| `recommender.rerank_params` |",
        "| `churn.params` |",
        "| `KIZUNA_RISK_BANDS` |",
        "| `KIZUNA_DATA_DIR` |",
        "### `POST /similar_items`",
        "| `in_stock_only` |",
        "| `top_reasons` |",
    ):
        assert needle in page, needle
