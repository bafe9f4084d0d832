"""Next-best offers decided per customer shard on Spark equal the pandas decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from kizuna.features import schema as s
from kizuna.features.segments import SEGMENTS
from kizuna.models.next_best_offer import decide
from kizuna.models.offer_loading import load_offers

pytestmark = pytest.mark.spark
OFFERS = Path(__file__).resolve().parents[3] / "experiments" / "offers_demo.yaml"
NOW = pd.Timestamp("2024-07-01")


def test_offers_per_shard_equal_the_whole_table(spark):
    from kizuna.training.engines.spark_offers import decide_offers

    rng = np.random.default_rng(4)
    n = 400
    scores = pd.DataFrame(
        {
            s.CUSTOMER_ID: [f"C{i:04d}" for i in range(n)],
            s.SEGMENT: rng.choice(list(SEGMENTS), n),
            s.CHURN_PROBABILITY: rng.uniform(0, 1, n),
            s.PREDICTED_VALUE: rng.gamma(2.0, 80.0, n),
            s.DAYS_SINCE_LAST_PURCHASE: rng.integers(0, 400, n).astype(float),
            s.MONETARY_MEAN: rng.gamma(2.0, 30.0, n),
        }
    )
    catalogue = load_offers(yaml.safe_load(OFFERS.read_text()))
    # Recent contacts for a tenth of the customers, so cooldowns and caps bite.
    contacted = scores[s.CUSTOMER_ID].iloc[::10]
    log = pd.DataFrame(
        {
            s.CUSTOMER_ID: contacted.to_numpy(),
            "offer_id": catalogue.offers[0].offer_id,
            "contacted_at": NOW - pd.Timedelta(days=3),
        }
    )
    expected = decide(scores, catalogue, contact_log=log, now=NOW, k=2)
    got = decide_offers(
        spark.createDataFrame(scores), catalogue, contact_log=log, now=NOW, k=2, shards=3
    ).toPandas()
    key = [s.CUSTOMER_ID, s.RANK]
    expected = expected.sort_values(key).reset_index(drop=True)
    got = got.sort_values(key).reset_index(drop=True)[list(expected.columns)]
    assert len(got) == len(expected) and got[s.CUSTOMER_ID].nunique() == n
    for col in expected.columns:
        a, b = expected[col], got[col]
        if pd.api.types.is_float_dtype(a.dtype):
            np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=1e-9)
        else:
            assert [str(list(v)) if not isinstance(v, str) and hasattr(v, "__len__") else str(v)
                    for v in b] == [str(list(v)) if not isinstance(v, str) and hasattr(v, "__len__")
                                    else str(v) for v in a], col  # fmt: skip
