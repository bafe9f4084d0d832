"""A sent campaign's outcomes from the order log: hand-worked windows, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kizuna.features.errors import KizunaInputError
from kizuna.training.cli import app
from kizuna.training.measured_outcomes import outcomes_of_decisions

DECIDED = pd.Timestamp("2024-01-10")


def decisions() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "d"],
        "offer_id": ["x", "x", "no_offer", "y", "x"],
        "rank": [1, 1, 1, 1, 2],
        "group": ["treated", "control", "treated", "treated", "treated"],
        "campaign_id": "spring",
        "decided_at": DECIDED,
    })  # fmt: skip


def purchases() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "b", "d", "c"],
        "timestamp": pd.to_datetime(
            ["2024-01-12", "2024-02-15", "2024-01-11", "2024-01-09", "2024-01-11"]
        ),
        "revenue": [10.0, 99.0, -5.0, 7.0, 3.0],
        "is_return": [False, False, True, False, False],
    })  # fmt: skip


def test_outcomes_count_the_window_after_each_decision() -> None:
    got = outcomes_of_decisions(
        decisions(), purchases(), days=30, data_end=pd.Timestamp("2024-03-01")
    ).set_index("customer_id")
    # c got no offer (nothing sent or held back); d's second-ranked offer was not sent
    assert got.index.tolist() == ["a", "b", "d"]
    assert got["offer_id"].tolist() == ["x", "x", "y"]
    assert got["treated"].tolist() == [1, 0, 1]
    # a bought on day 2 (the line on day 36 is outside); b only returned; d bought before
    assert got["outcome"].tolist() == [1, 0, 0]
    assert got["revenue"].tolist() == [10.0, -5.0, 0.0]
    assert (got["campaign_id"] == "spring").all()


def test_a_window_past_the_order_log_is_refused() -> None:
    with pytest.raises(KizunaInputError, match="needs data up to 2024-02-09"):
        outcomes_of_decisions(
            decisions(), purchases(), days=30, data_end=pd.Timestamp("2024-02-01")
        )
    twice = pd.concat([decisions(), decisions().head(1)])
    with pytest.raises(KizunaInputError, match="two offers"):
        outcomes_of_decisions(twice, purchases(), days=30, data_end=pd.Timestamp("2024-03-01"))


def test_the_command_measures_what_evaluate_campaign_reads(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))
    lines = purchases()[~purchases()["is_return"]].assign(
        order_id=[f"o{i}" for i in range(4)], item_id="i", quantity=1, unit_price=[10.0, 99, 7, 3]
    )
    lines = pd.concat([lines, pd.DataFrame({"customer_id": ["z"], "order_id": ["late"],
        "item_id": ["i"], "timestamp": [pd.Timestamp("2024-03-01")], "quantity": [1],
        "unit_price": [1.0]})])  # fmt: skip
    lines.drop(columns=["revenue", "is_return"]).to_csv(tmp_path / "orders.csv", index=False)
    (tmp_path / "exp.yaml").write_text(
        "name: shop\nsplit:\n  as_of: 2024-01-05\ndata:\n  transactions: orders.csv\n"
    )
    decisions().to_parquet(tmp_path / "decisions.parquet", index=False)
    out = tmp_path / "outcomes.csv"
    args = [
        "campaign-outcomes",
        str(tmp_path / "decisions.parquet"),
        "-c",
        str(tmp_path / "exp.yaml"),
    ]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["treated"], summary["control"], summary["treated_bought"]) == (2, 1, 0.5)
    table = pd.read_csv(out)
    assert table.columns.tolist() == [
        "customer_id", "offer_id", "campaign_id", "treated", "outcome", "revenue"
    ]  # fmt: skip
    evaluated = CliRunner().invoke(app, ["evaluate-campaign", str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert [o["offer_id"] for o in json.loads(evaluated.stdout)["offers"]][-1] == "all"
