"""Without a customers table, a customer's lines meet in one Spark shard however the
source writes the id: the partition key is the id the validator cleans, not the raw value.

Two ways the raw values of one customer differ while ``ids_to_str`` makes them
one id: an id built by the column map from two columns split at different
places (``"{a}{b}"``: ``C0`` + ``012`` and ``C00`` + ``12``), and whitespace
that pandas strips and Spark's ``trim`` does not (a tab, a no-break space).
Before the fix such a customer's lines fell into several shards, and each
shard built features for its part of them. Many shards make every customer's
raw variants land apart.
"""

from __future__ import annotations

import numpy as np
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
def lines() -> pd.DataFrame:
    from kizuna.simulators.synthetic import ShopConfig, generate_shop

    shop = generate_shop(
        ShopConfig(n_customers=120, n_items=40, seed=23, start="2023-01-01", end="2024-07-01")
    )
    return shop.transactions.reset_index(drop=True)


def run_both(tmp_path, data: dict) -> pd.DataFrame:
    config = tmp_path / "experiment.yaml"
    experiment = {"name": "keys", "data": data, "split": {"as_of": AS_OF}, "spark": {"shards": 8}}
    config.write_text(yaml.safe_dump(experiment))
    for engine in ("pandas", "spark"):
        args = ["features", "-c", str(config), "--as-of", AS_OF, "--horizon", "60", "--json"]
        result = CliRunner().invoke(
            app, [*args, "--engine", engine, "--out", str(tmp_path / engine)]
        )
        assert result.exit_code == 0, result.output
    return assert_outputs_match(tmp_path / "pandas", tmp_path / "spark")["features"]


def test_an_id_built_from_two_columns_is_one_shard_key(spark, lines, tmp_path, monkeypatch):
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))
    ids = lines[s.CUSTOMER_ID].astype(str)
    cut = 1 + np.arange(len(lines)) % (ids.str.len().min() - 1)  # where each line splits its id
    split = lines.drop(columns=[s.CUSTOMER_ID]).assign(
        a=[i[:c] for i, c in zip(ids, cut, strict=True)],
        b=[i[c:] for i, c in zip(ids, cut, strict=True)],
    )
    path = tmp_path / "lines.parquet"
    split.to_parquet(path)
    data = {"transactions": str(path), "column_map": {s.CUSTOMER_ID: "{a}{b}"}}
    assert run_both(tmp_path, data).index.is_unique


def test_ids_with_whitespace_pandas_strips_are_one_shard_key(spark, lines, tmp_path, monkeypatch):
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "no-events.sqlite"))
    ids = lines[s.CUSTOMER_ID].astype(str)
    edges = ["", "\t", "\u00a0", " \n"]
    padded = [edges[i % 4] + v + edges[(i // 4) % 4] for i, v in enumerate(ids)]
    path = tmp_path / "lines.parquet"
    lines.assign(**{s.CUSTOMER_ID: padded}).to_parquet(path)
    assert run_both(tmp_path, {"transactions": str(path)}).index.is_unique
