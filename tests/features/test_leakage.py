"""Point-in-time guards: what happens at or after ``as_of`` cannot reach the features,
and what happens outside the label window cannot reach the labels.

The extra events are adversarial: existing and new customers, new items and
categories, returns, huge values, events exactly at the boundaries, and they
are interleaved with the original rows (not only appended), so nothing can
rely on row order. Outputs must be *exactly* equal, not approximately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.behaviour import behaviour_vector
from kizuna.features.interactions import build_interactions
from kizuna.features.labels import churn_labels, future_value
from kizuna.features.validate import validate_transactions
from kizuna.simulators.synthetic import ShopConfig, generate_shop

AS_OF = pd.Timestamp("2024-03-15 12:00")
HORIZON = 60
LOOKBACK = 180


@pytest.fixture(scope="module")
def shop():
    return generate_shop(ShopConfig(n_customers=400, n_items=80, seed=7))


@pytest.fixture(scope="module")
def tx(shop) -> pd.DataFrame:
    return validate_transactions(shop.transactions).kept


def _events(tx: pd.DataFrame, seed: int, start: pd.Timestamp, end: pd.Timestamp | None,
            n: int = 300) -> pd.DataFrame:  # fmt: skip
    """``n`` hostile events with timestamps in [start, end) (end=None: up to a year on)."""
    rng = np.random.default_rng(seed)
    ev = tx.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    span = ((end or start + pd.Timedelta(days=365)) - start).value
    offsets = rng.integers(0, span, n)
    offsets[:20] = 0  # exactly at the start of the range
    if end is not None:
        offsets[20:40] = span - 1  # the last nanosecond of the range
    ev[s.TIMESTAMP] = (start.value + offsets).astype("datetime64[ns]")
    new_cust = rng.random(n) < 0.3
    ev.loc[new_cust, s.CUSTOMER_ID] = [f"NEW{i:04d}" for i in range(int(new_cust.sum()))]
    new_item = rng.random(n) < 0.3
    ev.loc[new_item, s.ITEM_ID] = [f"ITEMNEW{i:03d}" for i in range(int(new_item.sum()))]
    ev.loc[new_item, s.CATEGORY] = "brand_new_category"
    ev[s.ORDER_ID] = [f"LEAK{i % 120:05d}" for i in range(n)]  # multi-line, shared orders
    huge = rng.random(n) < 0.2
    ev.loc[huge, s.QUANTITY] = ev.loc[huge, s.QUANTITY] * 1e6
    ret = rng.random(n) < 0.3
    ev.loc[ret, s.QUANTITY] = -ev.loc[ret, s.QUANTITY].abs()
    ev[s.IS_RETURN] = ev[s.QUANTITY] < 0
    ev[s.REVENUE] = ev[s.QUANTITY] * ev[s.UNIT_PRICE]
    return ev


def _interleave(tx: pd.DataFrame, extra: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Insert ``extra`` rows at random places; the original rows keep their order."""
    rng = np.random.default_rng(seed)
    key = np.concatenate([np.arange(len(tx)), rng.uniform(-1, len(tx), len(extra))])
    both = pd.concat([tx, extra], ignore_index=True)
    return both.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


@pytest.fixture(scope="module")
def polluted(tx) -> pd.DataFrame:
    return _interleave(tx, _events(tx, 1, AS_OF, None), seed=2)


def test_the_pollution_is_real(tx, polluted):
    # Guard against a vacuous test: the extra events do change a later snapshot.
    later = AS_OF + pd.Timedelta(days=400)
    assert len(polluted) > len(tx)
    assert not behaviour_vector(polluted, later).equals(behaviour_vector(tx, later))
    assert (polluted[s.TIMESTAMP] == AS_OF).any()


def test_behaviour_vector_ignores_events_at_or_after_as_of(shop, tx, polluted):
    for kwargs in ({}, {"customers": shop.customers, "items": shop.items}):
        pd.testing.assert_frame_equal(
            behaviour_vector(polluted, AS_OF, **kwargs), behaviour_vector(tx, AS_OF, **kwargs),
            check_exact=True,
        )  # fmt: skip


@pytest.mark.parametrize("weighting", ["count", "log", "bm25", "tfidf"])
@pytest.mark.parametrize("half_life_days", [None, 30.0])
def test_interactions_ignore_events_at_or_after_as_of(tx, polluted, weighting, half_life_days):
    clean = build_interactions(tx, AS_OF, weighting=weighting, half_life_days=half_life_days)
    dirty = build_interactions(polluted, AS_OF, weighting=weighting,
                               half_life_days=half_life_days)  # fmt: skip
    assert dirty.user_ids.equals(clean.user_ids) and dirty.item_ids.equals(clean.item_ids)
    assert (dirty.matrix != clean.matrix).nnz == 0
    np.testing.assert_array_equal(dirty.matrix.indptr, clean.matrix.indptr)
    np.testing.assert_array_equal(dirty.matrix.indices, clean.matrix.indices)
    np.testing.assert_array_equal(dirty.matrix.data, clean.matrix.data)
    assert dirty.n_dropped_rows == clean.n_dropped_rows == 0


def test_rfm_summary_ignores_events_at_or_after_as_of(tx, polluted):
    rfm = pytest.importorskip("kizuna.features.rfm", reason="features/rfm.py not written yet")
    pd.testing.assert_frame_equal(
        rfm.rfm_summary(polluted, AS_OF), rfm.rfm_summary(tx, AS_OF), check_exact=True
    )


def test_labels_ignore_events_outside_the_label_window(tx):
    window_end = AS_OF + pd.Timedelta(days=HORIZON)
    lookback_start = AS_OF - pd.Timedelta(days=LOOKBACK)
    after = _events(tx, 3, window_end, None)
    long_before = _events(tx, 4, tx[s.TIMESTAMP].min() - pd.Timedelta(days=30), lookback_start)
    polluted = _interleave(tx, pd.concat([after, long_before], ignore_index=True), seed=5)

    pd.testing.assert_frame_equal(
        churn_labels(polluted, AS_OF, HORIZON, LOOKBACK),
        churn_labels(tx, AS_OF, HORIZON, LOOKBACK),
        check_exact=True,
    )  # fmt: skip
    # future_value's default population is "bought before as_of", which the
    # long-before events do change; with a fixed population they must not matter.
    after_only = _interleave(tx, after, seed=6)
    pd.testing.assert_series_equal(
        future_value(after_only, AS_OF, HORIZON), future_value(tx, AS_OF, HORIZON),
        check_exact=True,
    )  # fmt: skip
    ids = future_value(tx, AS_OF, HORIZON).index
    pd.testing.assert_series_equal(
        future_value(polluted, AS_OF, HORIZON, customers=ids),
        future_value(tx, AS_OF, HORIZON, customers=ids),
        check_exact=True,
    )  # fmt: skip


def test_labels_do_see_the_window(tx):
    # Guard against vacuous label tests: an event inside the window does change them.
    inside = _events(tx, 8, AS_OF, AS_OF + pd.Timedelta(days=HORIZON))
    inside = inside[~inside[s.IS_RETURN] & ~inside[s.CUSTOMER_ID].str.startswith("NEW")]
    polluted = _interleave(tx, inside, seed=9)
    assert not churn_labels(polluted, AS_OF, HORIZON).equals(churn_labels(tx, AS_OF, HORIZON))
    assert not future_value(polluted, AS_OF, HORIZON).equals(future_value(tx, AS_OF, HORIZON))
