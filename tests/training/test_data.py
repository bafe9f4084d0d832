"""Reading sources: CSV, Parquet, DataFrames, column maps, experiment data sections."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.validate import validate_transactions
from kizuna.training.data import read_transactions
from kizuna.training.data_source import resolve_source

EXPORT = pd.DataFrame(
    {
        "CustNo": ["007", "008"],
        "Invoice": ["1", "2"],
        "SKU": ["x", "y"],
        "When": ["2024-01-01", "2024-01-02"],
        "Qty": [1, 2],
        "Price": [9.5, 1.0],
    }
)
MAPPING = {
    "customer_id": "CustNo",
    "order_id": "Invoice",
    "item_id": "SKU",
    "timestamp": "When",
    "quantity": "Qty",
    "unit_price": "Price",
}


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_a_mapped_export_loads_from_every_file_type(tmp_path: Path, suffix: str):
    path = tmp_path / f"export{suffix}"
    if suffix == ".parquet":
        EXPORT.to_parquet(path)
    else:
        EXPORT.to_csv(path, index=False)
    raw = read_transactions(path, column_map=MAPPING)
    kept = validate_transactions(raw.frame).kept
    assert kept[s.CUSTOMER_ID].tolist() == ["007", "008"]  # leading zeros survive CSV
    assert kept[s.REVENUE].tolist() == [9.5, 2.0]


def test_a_dataframe_passes_through():
    raw = read_transactions(EXPORT, column_map=MAPPING)
    assert set(s.TRANSACTION_REQUIRED) <= set(raw.frame.columns)


def test_a_map_naming_a_missing_column_says_so():
    with pytest.raises(KizunaInputError, match="Cust_No"):
        read_transactions(EXPORT, column_map={**MAPPING, "customer_id": "Cust_No"})


def test_unknown_file_type_and_missing_file_are_clear(tmp_path: Path):
    with pytest.raises(KizunaInputError, match="no such file"):
        read_transactions(tmp_path / "nope.csv")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(KizunaInputError, match="file type"):
        read_transactions(tmp_path / "data.xlsx")


def test_experiment_data_section_resolves_paths_against_the_file(tmp_path: Path):
    (tmp_path / "exp").mkdir()
    EXPORT.to_csv(tmp_path / "orders.csv", index=False)
    config = tmp_path / "exp" / "e.yaml"
    config.write_text(
        "data:\n  transactions: ../orders.csv\n  column_map:\n"
        + "".join(f"    {k}: {v}\n" for k, v in MAPPING.items())
    )
    data = resolve_source(None, config=config)
    assert data.transactions == (tmp_path / "orders.csv").resolve()
    assert dict(data.column_map) == MAPPING


def test_a_misspelled_setting_is_named(tmp_path: Path):
    config = tmp_path / "e.yaml"
    config.write_text("data:\n  transactions: x.csv\n  fromat: cdnow\n")
    with pytest.raises(KizunaInputError, match="fromat"):
        resolve_source(None, config=config)


def test_a_misspelled_experiment_setting_is_named_too(tmp_path: Path):
    EXPORT.to_csv(tmp_path / "orders.csv", index=False)
    config = tmp_path / "e.yaml"
    config.write_text("name: e\ndata:\n  transactions: orders.csv\nsplt: {as_of: 2024-01-02}\n")
    with pytest.raises(KizunaInputError, match="splt"):
        resolve_source(None, config=config)


def test_a_folder_is_read_as_parquet_or_named(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(KizunaInputError, match="is a folder with no .parquet file"):
        read_transactions(tmp_path / "empty", column_map=MAPPING)
    folder = tmp_path / "tx.parquet"
    folder.mkdir()
    EXPORT.iloc[:1].to_parquet(folder / "part-0.parquet")
    EXPORT.iloc[1:].to_parquet(folder / "part-1.parquet")
    raw = read_transactions(folder, column_map=MAPPING)
    assert raw.frame[s.CUSTOMER_ID].tolist() == ["007", "008"]


def test_several_bad_settings_are_numbered_on_one_line(tmp_path: Path):
    config = tmp_path / "e.yaml"
    config.write_text("data:\n  transactions: x.csv\n  fromat: cdnow\n  header: maybe\n")
    with pytest.raises(KizunaInputError) as caught:
        resolve_source(None, config=config)
    text = str(caught.value)
    assert "\n" not in text and "(1) " in text and "(2) " in text
    assert "fromat" in text and "header" in text


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("recommender: {params: {factors: 64}}", "HybridRecommender has no setting factors"),
        ("recommender: {rerank_params: {bogus: 1}}", "RerankedRecommender has no setting bogus"),
        ("churn: {params: {bogus: 1}}", "churn: params: ChurnClassifier has no setting bogus"),
        ("churn: {search: {grid: {bogus: [1, 2]}}}", "search.grid: ChurnClassifier has no"),
        ("ltv: {params: {bogus: 1}}", "ltv: params: LTVRegressor has no setting bogus"),
        ("recommender: {k: 0}", "recommender.k: Input should be greater than or equal to 1"),
        ("offers: nope.yaml", "offers: no such file"),
    ],
)
def test_a_bad_model_setting_is_named_when_the_experiment_loads(tmp_path: Path, section, words):
    from kizuna.training.config import load_experiment

    config = tmp_path / "e.yaml"
    config.write_text(
        f"name: e\ndata: {{transactions: x.csv}}\nsplit: {{as_of: 2024-01-02}}\n{section}\n"
    )
    with pytest.raises(KizunaInputError, match=words.replace(".", r"\.")):
        load_experiment(config)


def test_one_column_to_drop_is_a_list_of_one(tmp_path: Path):
    from kizuna.training.config import load_experiment

    config = tmp_path / "e.yaml"
    config.write_text(
        "name: e\ndata: {transactions: x.csv}\nsplit: {as_of: 2024-01-02}\n"
        "churn: {params: {drop: region}}\n"
    )
    assert load_experiment(config).churn.params["drop"] == ["region"]


def test_an_unknown_encoding_is_named(tmp_path: Path):
    config = tmp_path / "e.yaml"
    config.write_text("data:\n  transactions: x.csv\n  encoding: klingon\n")
    with pytest.raises(KizunaInputError, match="encoding 'klingon' is not a known text encoding"):
        resolve_source(None, config=config)


def test_validate_checks_the_experiments_model_settings_too(tmp_path: Path):
    EXPORT.to_csv(tmp_path / "orders.csv", index=False)
    config = tmp_path / "e.yaml"
    config.write_text("name: e\ndata:\n  transactions: orders.csv\nchurn: {params: {bogus: 1}}\n")
    with pytest.raises(KizunaInputError, match="ChurnClassifier has no setting bogus"):
        resolve_source(None, config=config)
    config.write_text("name: e\ndata:\n  transactions: orders.csv\noffers: nope.yaml\n")
    with pytest.raises(KizunaInputError, match="offers: no such file"):
        resolve_source(None, config=config)
