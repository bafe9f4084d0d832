"""The CRM export's text columns come back as text: rfm_score "545" is not the number 545."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.training.export_schema import COLUMNS, conform
from kizuna.training.export_writers import write_chunks
from kizuna.training.offer_inputs import read_scores

README = Path(__file__).resolve().parents[2] / "README.md"


def export_rows() -> pd.DataFrame:
    """Two customers as `kizuna score` writes them (the other columns empty)."""
    return conform(
        pd.DataFrame(
            {
                s.CUSTOMER_ID: ["00042", "7"],
                "segment": ["Champions", "Lost"],
                "rfm_score": ["545", "111"],
                "recency_days": [3.5, 400.0],
                "frequency": [9, 1],
                "monetary_total": [120.0, 8.0],
                "churn_probability": [0.1, 0.9],
            }
        )
    )


@pytest.mark.parametrize("name", ["crm.csv", "crm.csv.gz", "crm.parquet"])
def test_read_scores_keeps_rfm_score_and_ids_as_text(tmp_path, name):
    path = tmp_path / name
    assert write_chunks(iter([export_rows()]), str(path)) == 2
    back = read_scores(path)
    assert back["rfm_score"].tolist() == ["545", "111"]
    assert pd.api.types.is_string_dtype(back["rfm_score"].dtype)
    assert back[s.CUSTOMER_ID].tolist() == ["00042", "7"]
    assert back["frequency"].tolist() == [9, 1]  # numbers stay numbers


def test_plain_read_csv_turns_it_into_a_number_which_is_why_the_dtype_is_given(tmp_path):
    path = tmp_path / "crm.csv"
    write_chunks(iter([export_rows()]), str(path))
    assert pd.read_csv(path)["rfm_score"].tolist() == [545, 111]
    documented = pd.read_csv(path, dtype={"customer_id": "string", "rfm_score": "string"})
    assert documented["rfm_score"].tolist() == ["545", "111"]


def test_the_readme_gives_the_export_s_text_columns_and_how_to_read_them():
    assert COLUMNS["rfm_score"] == "string"
    row = next(line for line in README.read_text().splitlines() if "`rfm_score` |" in line)
    assert "**text**" in row
    assert 'dtype={"customer_id": "string", "rfm_score": "string"}' in row
    assert s.TEXT_COLUMNS == {s.CUSTOMER_ID, s.RFM_SCORE}
