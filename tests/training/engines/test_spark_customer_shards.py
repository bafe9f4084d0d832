"""Each Spark shard gets only its own customers' rows, keyed by the id the validator cleans.

The lines' ids and the customers table's ids meet in one shard when they are
the same customer after :func:`features.contract.ids_to_str`, however the
source writes them: as float numbers (``10007.0`` against ``"10007"``), built
by a column-map expression from two columns, or under another name in the
customers table. Both engines give the same features, and the attributes
really arrive (a join that missed would leave them empty on both sides only
if the pandas engine missed too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kizuna.features import schema as s
from kizuna.training.cli import app
from tests.training.engines.compare import assert_outputs_match

pytestmark = pytest.mark.spark
AS_OF = "2024-04-01"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    from kizuna.simulators.synthetic import ShopConfig, generate_shop

    folder = tmp_path_factory.mktemp("spark-customer-shards")
    shop = generate_shop(
        ShopConfig(n_customers=300, n_items=50, seed=17, start="2023-01-01", end="2024-07-01")
    )
    number = {c: 10_000 + i for i, c in enumerate(sorted(shop.customers[s.CUSTOMER_ID]))}
    tx = shop.transactions.copy()
    tx[s.CUSTOMER_ID] = tx[s.CUSTOMER_ID].map(number).astype("float64")  # 10007.0
    customers = shop.customers.copy()
    customers[s.CUSTOMER_ID] = customers[s.CUSTOMER_ID].map(number).astype("string")  # "10007"
    return folder, tx, customers


def source(kind: str, folder: Path, tx: pd.DataFrame, customers: pd.DataFrame) -> dict[str, Any]:
    """The experiment's ``data:`` for one way of writing the ids."""
    lines, table = folder / f"{kind}-lines.parquet", folder / f"{kind}-customers.parquet"
    data: dict[str, Any] = {"transactions": str(lines), "customers": str(table)}
    if kind == "float-ids":
        tx.to_parquet(lines)
        customers.to_parquet(table)
    elif kind == "expression-ids":
        # "S-10007": the shop code and the number, in two columns of the export.
        split = tx.assign(shop="S", number=tx[s.CUSTOMER_ID].astype("int64").astype("string"))
        split.drop(columns=[s.CUSTOMER_ID]).to_parquet(lines)
        customers.assign(customer_id="S-" + customers[s.CUSTOMER_ID]).to_parquet(table)
        data["column_map"] = {s.CUSTOMER_ID: "{shop}-{number}"}
    elif kind == "renamed-table":
        tx.to_parquet(lines)
        customers.rename(columns={s.CUSTOMER_ID: "Kunde"}).to_parquet(table)
        data["customers_column_map"] = {s.CUSTOMER_ID: "Kunde"}
    else:
        raise AssertionError(kind)
    return data


def run_features(config: Path, out: Path, engine: str) -> None:
    args = ["features", "-c", str(config), "--as-of", AS_OF, "--horizon", "60"]
    result = CliRunner().invoke(app, [*args, "--engine", engine, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", ["float-ids", "expression-ids", "renamed-table"])
def test_each_shard_gets_its_customers(spark, shop, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))
    folder, tx, customers = shop
    config = tmp_path / "experiment.yaml"
    data = source(kind, tmp_path, tx, customers)
    config.write_text(yaml.safe_dump({"name": "shards", "data": data, "split": {"as_of": AS_OF}}))
    run_features(config, tmp_path / "pandas", "pandas")
    run_features(config, tmp_path / "spark", "spark")
    left = assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")
    features = left["features"]
    assert features["region"].notna().mean() > 0.95, features["region"].value_counts(dropna=False)
    assert features[s.SIGNUP_TENURE_DAYS].notna().mean() > 0.5
