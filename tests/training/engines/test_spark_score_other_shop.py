"""Scoring a shop the models were not trained on: both engines give every customer the same scores.

The models are trained on one synthetic shop and score another (same
generator and catalogue, another seed and size), as a retailer scores this
week's customers with last month's champions. Scoring the training shop
itself hid a bug: the Spark engine handed the category inputs (``region``,
``segment``) to the models as missing values, which a small model that never
splits on them does not show.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.training.engines.test_spark_score import (
    K,
    assert_exports_match,
    pandas_export,
    spark_export,
)

pytestmark = pytest.mark.spark
CATEGORY_INPUTS = ("region", "segment")


@pytest.fixture(scope="module")
def trained_and_scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A model folder trained on a 1,000-customer shop; the 600-customer shop it scores."""
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.config import DataConfig
    from kizuna.training.shop_io import write_shop
    from tests.serving.conftest import build_model_set

    root = tmp_path_factory.mktemp("other-shop")
    # 1,000 customers: enough for the trees to split on the category inputs.
    models = build_model_set(root / "models", n_customers=1_000, n_items=60).folder
    shop = generate_shop(
        ShopConfig(n_customers=600, n_items=60, seed=2, start="2023-01-01", end="2024-07-01")
    )
    write_shop(shop, root / "scored-shop")
    data = DataConfig(
        transactions=root / "scored-shop" / "transactions.parquet",
        items=root / "scored-shop" / "items.parquet",
        customers=root / "scored-shop" / "customers.parquet",
    )
    return models, data


def models_with_snapshot_of(models: Path, data: Any, folder: Path) -> Path:
    """A copy of the model folder with the snapshot of ``data``: what pandas scores."""
    from kizuna.serving.live import load_models
    from kizuna.training.data import load_tables, load_transactions
    from kizuna.training.snapshot_build import write_snapshot

    shutil.copytree(models, folder, ignore=shutil.ignore_patterns("snapshot"))
    kept = load_transactions(data, quiet=True, with_events=False).kept
    items, customers = load_tables(data)
    write_snapshot(
        folder / "snapshot", load_models(str(folder)), kept, items=items, customers=customers
    )
    return folder


def predictions_without_categories(source: str) -> dict[str, np.ndarray]:
    """Each model's scores with and without its category inputs, on the snapshot's customers."""
    from kizuna.serving.live import load_served

    served = load_served(source, live=False)
    out = {}
    for kind in ("churn", "ltv"):
        bundle = getattr(served.models, kind)
        X = served.state.frames[kind][bundle.feature_columns]
        blank = X.assign(**{c: pd.NA for c in CATEGORY_INPUTS})
        if kind == "churn":
            scores = [bundle.model.predict_proba(f)[:, 1] for f in (X, blank)]
        else:
            scores = [bundle.model.predict(f) for f in (X, blank)]
        out[kind] = scores[0] - scores[1]
    return out


def test_other_shop_scores_the_same_on_both_engines(spark, trained_and_scored, tmp_path):
    models, data = trained_and_scored
    folder = str(models_with_snapshot_of(models, data, tmp_path / "pandas-models"))
    # The check has teeth: the models' scores depend on the category inputs.
    for kind, change in predictions_without_categories(folder).items():
        assert (change != 0).sum() > 20, f"the {kind} model ignores {CATEGORY_INPUTS}"
    expected = pandas_export(folder)
    assert len(expected) > 500  # the scored shop's customers, not the training shop's
    got = spark_export(str(models), tmp_path / "crm", data)
    assert_exports_match(expected, got)
    assert expected["recommendations"].str.split("|").map(len).eq(K).all()
