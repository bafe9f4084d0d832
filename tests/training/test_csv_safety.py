"""CSV formula neutralisation: the function, its inverse, and the files kizuna writes with it."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd

from kizuna.training.csv_safety import neutralise_formulas, restore_formulas, restored_from

#: Every formula start, values that only look close, and ones already quoted.
RAW = ["=1+1", "+44 20", "-x", "@SUM(A1)", "\tx", "\rx", "ok", "a=b", "'=x", "''-y", "'ok", ""]
SAFE = ["'=1+1", "'+44 20", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "ok", "a=b", "''=x", "'''-y", "'ok", ""]  # fmt: skip


def test_formula_cells_get_one_quote_and_others_stay():
    frame = pd.DataFrame({"id": RAW})
    assert neutralise_formulas(frame)["id"].tolist() == SAFE
    assert frame["id"].tolist() == RAW  # the caller's frame is not changed


def test_numbers_and_missing_values_are_left_alone():
    frame = pd.DataFrame(
        {
            "amount": [-1.5, 2.0, -3.0],
            "orders": np.array([-1, 0, 1], dtype="int64"),
            "mixed": ["=A1", -4, None],  # an object column: only its text cells change
        }
    )
    out = neutralise_formulas(frame)
    assert out["amount"].tolist() == [-1.5, 2.0, -3.0] and out["amount"].dtype == "float64"
    assert out["orders"].tolist() == [-1, 0, 1] and out["orders"].dtype == "int64"
    assert out["mixed"].tolist() == ["'=A1", -4, None]


def test_string_and_categorical_columns_are_covered():
    frame = pd.DataFrame(
        {
            "s": pd.array(["-1", pd.NA, "x"], dtype="string"),
            "c": pd.Categorical(["@me", "b", "@me"]),
        }
    )
    out = neutralise_formulas(frame)
    assert out["s"].dtype == "string" and out["s"].tolist() == ["'-1", pd.NA, "x"]
    assert out["c"].tolist() == ["'@me", "b", "'@me"]


def test_a_frame_without_formulas_is_returned_as_is():
    frame = pd.DataFrame({"id": ["a", "b"], "v": [-1, 2]})
    assert neutralise_formulas(frame) is frame


def test_restore_undoes_it_exactly():
    safe = neutralise_formulas(pd.DataFrame({"id": RAW}))
    assert restore_formulas(safe)["id"].tolist() == RAW
    # A quote before text that is no formula was never added: it stays.
    assert restore_formulas(pd.DataFrame({"id": ["'ok", "'"]}))["id"].tolist() == ["'ok", "'"]


def test_restored_from_leaves_parquet_values_as_they_are(tmp_path):
    frame = pd.DataFrame({"id": ["'=x"]})
    assert restored_from(frame, tmp_path / "t.parquet")["id"].tolist() == ["'=x"]
    assert restored_from(frame, tmp_path / "t.csv.gz")["id"].tolist() == ["=x"]


def test_the_crm_export_csv_is_neutralised_and_read_back_exactly(tmp_path):
    from kizuna.training.export_writers import write_chunks
    from kizuna.training.offer_inputs import read_scores

    chunks = [
        pd.DataFrame({"customer_id": ["=HYPERLINK(1)", "c2"], "monetary_total": [-5.0, 1.0]}),
        pd.DataFrame({"customer_id": ["+c3"], "monetary_total": [2.5]}),
    ]
    out = tmp_path / "crm.csv.gz"
    assert write_chunks(iter(chunks), str(out)) == 3
    with gzip.open(out, "rt", encoding="utf-8") as handle:
        assert handle.read().splitlines() == [
            "customer_id,monetary_total",
            "'=HYPERLINK(1),-5.0",
            "c2,1.0",
            "'+c3,2.5",
        ]
    # `kizuna score offers --scores crm.csv.gz` sees the ids as they were.
    assert read_scores(out)["customer_id"].tolist() == ["=HYPERLINK(1)", "c2", "+c3"]


def test_offer_decisions_are_neutralised_and_read_back_exactly(tmp_path):
    from kizuna.training.cli_offers import write_decisions
    from kizuna.training.data import read_table

    decisions = pd.DataFrame(
        {
            "customer_id": ["@c1", "c2"],
            "offer_id": ["-10%", "free"],
            "items": [["=i1", "i2"], []],
            "expected_value": [-0.25, 1.5],
        }
    )
    out = tmp_path / "decisions.csv"
    write_decisions(decisions, out)
    assert out.read_text(encoding="utf-8").splitlines() == [
        "customer_id,offer_id,items,expected_value",
        "'@c1,'-10%,'=i1|i2,-0.25",
        "c2,free,,1.5",
    ]
    back = restored_from(read_table(out, string_columns={"customer_id", "offer_id"}), out)
    assert back["customer_id"].tolist() == ["@c1", "c2"]
    assert back["offer_id"].tolist() == ["-10%", "free"]


def test_campaign_files_round_trip_through_outcomes_and_evaluation(tmp_path, monkeypatch):
    # decisions.csv (score offers) -> campaign-outcomes -> outcomes.csv -> evaluate-campaign,
    # with a customer and an offer whose ids a spreadsheet would run.
    import json

    from typer.testing import CliRunner

    from kizuna.training.cli import app
    from kizuna.training.cli_offers import write_decisions

    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))
    pd.DataFrame(
        {
            "customer_id": ["=a", "b", "z"],
            "order_id": ["o1", "o2", "late"],
            "item_id": "i",
            "timestamp": pd.to_datetime(["2024-01-12", "2024-01-03", "2024-03-01"]),
            "quantity": 1,
            "unit_price": [10.0, 5.0, 1.0],
        }
    ).to_csv(tmp_path / "orders.csv", index=False)
    (tmp_path / "exp.yaml").write_text(
        "name: shop\nsplit:\n  as_of: 2024-01-05\ndata:\n  transactions: orders.csv\n"
    )
    decisions = pd.DataFrame(
        {
            "customer_id": ["=a", "b"],
            "offer_id": ["-x", "-x"],
            "rank": [1, 1],
            "group": ["treated", "control"],
            "campaign_id": "spring",
            "decided_at": pd.Timestamp("2024-01-10"),
        }
    )
    write_decisions(decisions, tmp_path / "decisions.csv")
    out = tmp_path / "outcomes.csv"
    args = ["campaign-outcomes", str(tmp_path / "decisions.csv"), "-c", str(tmp_path / "exp.yaml")]
    done = CliRunner().invoke(app, [*args, "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    # =a bought on day 2 after the decision: found under its real id, not "'=a".
    assert json.loads(done.stdout)["treated_bought"] == 1.0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "customer_id,offer_id,campaign_id,treated,outcome,revenue"
    assert lines[1].startswith("'=a,'-x,spring,1,1,10.0")
    evaluated = CliRunner().invoke(app, ["evaluate-campaign", str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert [o["offer_id"] for o in json.loads(evaluated.stdout)["offers"]] == ["-x", "all"]


def test_an_object_column_without_text_is_left_alone():
    frame = pd.DataFrame({"ids": pd.Series([-1, 2, None], dtype=object)})
    assert neutralise_formulas(frame) is frame
    assert restore_formulas(frame) is frame
