"""Next-order evaluation on a shop whose customers order like clockwork."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features.pipeline import customer_features
from kizuna.features.validate import validate_transactions
from kizuna.training.next_order_eval import choose_prior_gaps, evaluate_next_order
from kizuna.training.snapshots import btyd_summary, fit_btyd

AS_OF = pd.Timestamp("2024-07-01")


@pytest.fixture(scope="module")
def clockwork() -> tuple[pd.DataFrame, pd.DataFrame, object]:
    # Customer c orders every 10 days from day (c % 10): at AS_OF each is (10 - recency) days
    # from the next order, which the rhythm predicts exactly.
    rows = []
    for c in range(60):
        for k, day in enumerate(range(c % 10, 400, 10)):
            when = AS_OF - pd.Timedelta(days=200) + pd.Timedelta(days=day, hours=12)
            rows.append((f"c{c:02d}", f"o{c}-{k}", "i1", when, 1.0, 10.0))
    raw = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "item_id", "timestamp", "quantity", "unit_price"]
    )
    tx = validate_transactions(raw).kept
    X = customer_features(tx, AS_OF)
    bgnbd, _ = fit_btyd(btyd_summary(X))
    return tx, X, bgnbd


def test_the_rhythm_wins_where_customers_are_regular(clockwork) -> None:
    tx, X, bgnbd = clockwork
    assert choose_prior_gaps(tx, X, bgnbd, AS_OF, horizon_days=30, btyd_unit="W") == 0.0
    out = evaluate_next_order(tx, X, bgnbd, AS_OF, horizon_days=30, btyd_unit="W", prior_gaps=0.0)
    assert out["next_order_returned"] == 60
    assert out["next_order_mae_days_rhythm"] < 0.01  # the rhythm is exact
    assert out["next_order_mae_days"] == out["next_order_mae_days_rhythm"]
    assert out["next_order_mae_days_btyd"] > out["next_order_mae_days"]
    # everyone orders within 30 days: the observed rate is 1 at every horizon
    assert out["next_order_p30_observed"] == 1.0
    assert np.isfinite(out["next_order_p30_brier"])
