"""The synthetic shop: deterministic, on contract, configurable, written and read back.

Its truth to its own ground truth: ``test_synthetic_truth.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.simulators.synthetic import (
    DROPOUT_TIME,
    FIRST_PURCHASE,
    N_REPEAT,
    PREF_PREFIX,
    PURCHASE_RATE,
    REGION,
    Shop,
    ShopConfig,
    config_for_transactions,
    generate_shop,
)
from kizuna.training.shop_io import read_shop, write_shop
from tests.simulators.shop_data import FRAMES, MEDIUM, SMALL, WEEK_SECONDS, buyers

# --- determinism -----------------------------------------------------------------


def test_same_config_gives_identical_frames() -> None:
    a, b = generate_shop(SMALL), generate_shop(SMALL)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_another_seed_gives_another_shop() -> None:
    a = generate_shop(SMALL)
    b = generate_shop(dataclasses.replace(SMALL, seed=SMALL.seed + 1))
    assert not a.transactions.equals(b.transactions)
    assert not a.truth.equals(b.truth)


# --- contract --------------------------------------------------------------------


def test_transactions_have_canonical_columns_and_dtypes(shop: Shop) -> None:
    tx = shop.transactions
    assert list(tx.columns) == [
        s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.TIMESTAMP,
        s.QUANTITY, s.UNIT_PRICE, s.CHANNEL, s.CATEGORY,
    ]  # fmt: skip
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.CHANNEL, s.CATEGORY):
        assert pd.api.types.is_string_dtype(tx[col]), col
    assert tx[s.TIMESTAMP].dtype == np.dtype("datetime64[us]")
    assert tx[s.QUANTITY].dtype == np.float64 and tx[s.UNIT_PRICE].dtype == np.float64
    assert not tx.isna().any().any()
    assert (tx[s.UNIT_PRICE] > 0).all() and (tx[s.QUANTITY] != 0).all()
    assert (tx[s.QUANTITY] == np.round(tx[s.QUANTITY])).all()
    assert tx[s.CUSTOMER_ID].str.fullmatch(r"C\d{7}").all()
    assert tx[s.ORDER_ID].str.fullmatch(r"[OR]\d{9}").all()
    assert tx[s.ITEM_ID].str.fullmatch(r"I\d{5}").all()
    assert set(tx[s.CHANNEL]) <= set(MEDIUM.channels)
    assert tx[s.TIMESTAMP].is_monotonic_increasing
    assert tx[s.TIMESTAMP].min() >= MEDIUM.start_ts and tx[s.TIMESTAMP].max() < MEDIUM.end_ts


def test_catalogue_customers_and_truth_are_keyed_and_consistent(shop: Shop) -> None:
    items, customers, truth = shop.items, shop.customers, shop.truth
    assert list(items.columns) == [s.ITEM_ID, s.NAME, s.CATEGORY, s.PRICE, s.MARGIN, s.IN_STOCK]
    assert list(customers.columns) == [
        s.CUSTOMER_ID, s.SIGNUP_DATE, s.PREFERRED_CATEGORIES, REGION,
    ]  # fmt: skip
    assert items[s.ITEM_ID].is_unique and customers[s.CUSTOMER_ID].is_unique
    assert len(items) == MEDIUM.n_items + MEDIUM.n_cold_start_items
    assert len(customers) == MEDIUM.n_customers + MEDIUM.n_cold_start_customers
    assert items[s.MARGIN].between(0, 1).all() and (items[s.PRICE] > 0).all()
    assert items[s.IN_STOCK].dtype == bool
    assert truth[s.CUSTOMER_ID].equals(customers[s.CUSTOMER_ID])
    assert shop.item_truth[s.ITEM_ID].equals(items[s.ITEM_ID])
    # Every transaction's price and category are the catalogue's.
    cat = items.set_index(s.ITEM_ID)
    tx = shop.transactions
    assert np.array_equal(cat.loc[tx[s.ITEM_ID], s.PRICE].to_numpy(), tx[s.UNIT_PRICE].to_numpy())
    assert np.array_equal(cat.loc[tx[s.ITEM_ID], s.CATEGORY].to_numpy(), tx[s.CATEGORY].to_numpy())
    # Latent preferences are distributions.
    prefs = truth.filter(like=PREF_PREFIX).to_numpy()
    assert prefs.shape[1] == MEDIUM.n_categories
    np.testing.assert_allclose(prefs.sum(axis=1), 1.0)


def test_every_order_has_one_customer_time_and_channel(shop: Shop) -> None:
    tx = shop.transactions.assign(purchase=shop.transactions[s.QUANTITY] > 0)
    columns = [s.CUSTOMER_ID, s.TIMESTAMP, s.CHANNEL, "purchase"]
    per_order = tx.groupby(s.ORDER_ID)[columns].nunique()
    assert (per_order == 1).all().all()
    assert not shop.transactions.duplicated([s.ORDER_ID, s.ITEM_ID]).any()


def test_order_numbers_follow_time(purchases: pd.DataFrame) -> None:
    first = purchases.drop_duplicates(s.ORDER_ID)
    assert first[s.ORDER_ID].is_monotonic_increasing


# --- config and I/O ------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"n_items": 5, "n_categories": 12},
        {"stated_preference_share": 1.5},
        {"rate_alpha": 0.0},
        {"channel_weights": (1.0,)},
        {"end": "2022-01-01"},
    ],
)
def test_bad_config_is_refused(change: dict) -> None:
    with pytest.raises(KizunaInputError):
        dataclasses.replace(SMALL, **change)


def test_more_categories_than_names_get_generic_names() -> None:
    shop = generate_shop(dataclasses.replace(SMALL, n_categories=14, n_items=60))
    assert shop.items[s.CATEGORY].nunique() == 14
    assert "cat_14" in set(shop.items[s.CATEGORY])


def test_config_for_transactions_hits_the_target() -> None:
    config = config_for_transactions(40_000, SMALL, pilot_customers=5_000)
    assert len(generate_shop(config).transactions) == pytest.approx(40_000, rel=0.08)


def test_write_then_read_gives_the_same_shop(tmp_path) -> None:
    shop = generate_shop(SMALL)
    paths = write_shop(shop, tmp_path / "shop")
    assert set(paths) == set(FRAMES)
    assert all(p.exists() and p.suffix == ".parquet" for p in paths.values())
    back = read_shop(tmp_path / "shop")
    assert back.config == shop.config
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(shop, name))


def test_reading_a_folder_without_a_shop_fails_loudly(tmp_path) -> None:
    with pytest.raises(KizunaInputError, match="truth.parquet"):
        read_shop(tmp_path)


# --- scale ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_transactions_keep_the_ground_truth() -> None:
    # Its speed is benchmarks/bench_generate.py's (BENCHMARKS.md), not a timed test.
    config = ShopConfig(n_customers=84_000, n_cold_start_customers=800, seed=11)
    shop = generate_shop(config)
    tx = shop.transactions
    assert len(tx) == pytest.approx(1_000_000, rel=0.05)
    truth = buyers(shop)
    stop = truth[DROPOUT_TIME].fillna(config.end_ts)
    alive_weeks = (stop - truth[FIRST_PURCHASE]).dt.total_seconds() / WEEK_SECONDS
    assert truth[N_REPEAT].sum() == pytest.approx(
        (truth[PURCHASE_RATE] * alive_weeks).sum(), rel=0.01
    )
    last = tx[tx[s.QUANTITY] > 0].groupby(s.CUSTOMER_ID)[s.TIMESTAMP].max()
    assert (last <= stop.loc[last.index]).all()
