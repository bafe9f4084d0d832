"""The synthetic shop: deterministic, on contract, and true to its own ground truth."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.simulators.synthetic import (
    ALIVE_AT_END,
    DROPOUT_PROB,
    DROPOUT_TIME,
    FIRST_PURCHASE,
    IS_COLD_START,
    MEAN_ORDER_VALUE,
    N_ORDERS,
    N_REPEAT,
    PREF_PREFIX,
    PURCHASE_RATE,
    REGION,
    TOP_CATEGORIES,
    Shop,
    ShopConfig,
    config_for_transactions,
    generate_shop,
)
from kizuna.training.shop_io import read_shop, write_shop

SMALL = ShopConfig(n_customers=300, n_items=40, n_categories=6, seed=3)
MEDIUM = ShopConfig(n_customers=20_000, n_cold_start_customers=200, n_cold_start_items=15, seed=7)
FRAMES = ("transactions", "items", "customers", "truth", "item_truth")
WEEK_SECONDS = 7 * 86_400


@pytest.fixture(scope="module")
def shop() -> Shop:
    return generate_shop(MEDIUM)


@pytest.fixture(scope="module")
def purchases(shop: Shop) -> pd.DataFrame:
    tx = shop.transactions
    return tx[tx[s.QUANTITY] > 0]


def _ids_in(ids: pd.Series, other: pd.Series) -> pd.Series:
    # Series.isin against a long string column with repeats is slow in pandas 3.1;
    # against its unique values it is fast.
    return ids.isin(other.unique())


def _buyers(shop: Shop) -> pd.DataFrame:
    return shop.truth[~shop.truth[IS_COLD_START]].set_index(s.CUSTOMER_ID)


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


# --- buy till you die ---------------------------------------------------------------


def test_no_purchase_after_true_dropout(shop: Shop, purchases: pd.DataFrame) -> None:
    truth = _buyers(shop)
    per = purchases.groupby(s.CUSTOMER_ID).agg(
        first=(s.TIMESTAMP, "min"), last=(s.TIMESTAMP, "max"), orders=(s.ORDER_ID, "nunique")
    )
    truth = truth.loc[per.index]
    dropped = ~truth[ALIVE_AT_END]
    assert dropped.mean() > 0.2 and (~dropped).mean() > 0.2  # both states are present
    assert (per["last"] <= truth[DROPOUT_TIME].fillna(MEDIUM.end_ts)).all()
    # BG/NBD drops out right after a purchase: the dropout time is the last purchase.
    assert (per.loc[dropped, "last"] == truth.loc[dropped, DROPOUT_TIME]).all()
    assert truth.loc[~dropped, DROPOUT_TIME].isna().all()
    assert (per["first"] == truth[FIRST_PURCHASE]).all()
    assert (per["orders"] == truth[N_ORDERS]).all()
    assert (truth[N_ORDERS] == truth[N_REPEAT] + 1).all()
    # Customers without a repeat purchase cannot have dropped out.
    assert truth.loc[truth[N_REPEAT] == 0, ALIVE_AT_END].all()


def test_purchase_counts_match_rate_times_alive_time(shop: Shop) -> None:
    """Optional stopping: E[repeats] = E[lambda * alive weeks], E[dropped] = E[p * repeats]."""
    truth = _buyers(shop)
    stop = truth[DROPOUT_TIME].fillna(MEDIUM.end_ts)
    alive_weeks = (stop - truth[FIRST_PURCHASE]).dt.total_seconds() / WEEK_SECONDS
    expected = (truth[PURCHASE_RATE] * alive_weeks).sum()
    assert truth[N_REPEAT].sum() == pytest.approx(expected, rel=0.03)
    expected_dropouts = (truth[DROPOUT_PROB] * truth[N_REPEAT]).sum()
    assert (~truth[ALIVE_AT_END]).sum() == pytest.approx(expected_dropouts, rel=0.05)
    # And the latent rate orders customers: fast buyers buy more per alive week.
    rate = truth[N_REPEAT] / alive_weeks.clip(lower=1)
    long = alive_weeks > 26
    assert np.corrcoef(rate[long], truth.loc[long, PURCHASE_RATE])[0, 1] > 0.7


def test_first_purchases_spread_over_the_history(shop: Shop) -> None:
    truth = _buyers(shop)
    frac = (truth[FIRST_PURCHASE] - MEDIUM.start_ts) / (MEDIUM.end_ts - MEDIUM.start_ts)
    # Uniform acquisition: each quarter of the history gets about a quarter.
    shares = np.bincount((frac * 4).astype(int), minlength=4) / len(frac)
    np.testing.assert_allclose(shares, 0.25, atol=0.02)
    signup = shop.customers.set_index(s.CUSTOMER_ID).loc[truth.index, s.SIGNUP_DATE]
    assert (signup <= truth[FIRST_PURCHASE]).all()


# --- spend -----------------------------------------------------------------------


def test_order_values_track_gamma_gamma_spend(shop: Shop, purchases: pd.DataFrame) -> None:
    truth = _buyers(shop)
    value = purchases[s.QUANTITY] * purchases[s.UNIT_PRICE]
    per_customer = value.groupby(purchases[s.CUSTOMER_ID]).sum() / truth[N_ORDERS]
    expected = (truth[MEAN_ORDER_VALUE] * truth[N_ORDERS]).sum() / truth[N_ORDERS].sum()
    realised = value.sum() / truth[N_ORDERS].sum()
    # Rounding to whole units only ever adds value (documented: about +1 %).
    assert 0.99 < realised / expected < 1.06
    many = truth[N_ORDERS] >= 5
    log_corr = np.corrcoef(np.log(per_customer[many]), np.log(truth.loc[many, MEAN_ORDER_VALUE]))
    assert log_corr[0, 1] > 0.85


# --- preferences and cold start --------------------------------------------------------


def test_stated_preferences_are_the_top_latent_categories(shop: Shop) -> None:
    customers = shop.customers.set_index(s.CUSTOMER_ID)
    truth = shop.truth.set_index(s.CUSTOMER_ID)
    stated = customers[s.PREFERRED_CATEGORIES].dropna()
    buyers = stated.index.isin(truth.index[~truth[IS_COLD_START]])
    assert buyers.mean() > 0.9 and len(stated) / len(customers) == pytest.approx(0.3, abs=0.03)
    assert (stated == truth.loc[stated.index, TOP_CATEGORIES]).all()
    # top_categories lists the largest latent weights, best first.
    prefs = truth.filter(like=PREF_PREFIX)
    names = np.array([c.removeprefix(PREF_PREFIX) for c in prefs.columns])
    order = np.argsort(-prefs.to_numpy(), axis=1, kind="stable")
    for cid in stated.index[:200]:
        parts = stated[cid].split(s.PREFERENCE_SEP)
        row = truth.index.get_loc(cid)
        assert parts == list(names[order[row, : len(parts)]])


def test_realised_category_shares_track_latent_preferences(
    shop: Shop, purchases: pd.DataFrame
) -> None:
    truth = _buyers(shop)
    counts = pd.crosstab(purchases[s.CUSTOMER_ID], purchases[s.CATEGORY])
    names = [c.removeprefix(PREF_PREFIX) for c in truth.filter(like=PREF_PREFIX).columns]
    counts = counts.reindex(columns=names, fill_value=0)
    theta = truth.loc[counts.index].filter(like=PREF_PREFIX).to_numpy()
    lines = counts.to_numpy().sum(axis=1)
    expected = (theta * lines[:, None]).sum(axis=0)
    # Budget cuts thin out expensive categories a little (documented: within ~10 %).
    ratio = counts.to_numpy().sum(axis=0) / expected
    assert np.all((ratio > 0.85) & (ratio < 1.15)), ratio
    heavy = lines >= 30
    realised = counts.to_numpy()[heavy] / lines[heavy, None]
    assert (realised.argmax(axis=1) == theta[heavy].argmax(axis=1)).mean() > 0.9
    total_variation = 0.5 * np.abs(realised - theta[heavy]).sum(axis=1)
    assert np.median(total_variation) < 0.1


def test_item_popularity_within_category_is_zipf_like(shop: Shop, purchases: pd.DataFrame) -> None:
    lines = purchases[s.ITEM_ID].value_counts()
    rank = shop.item_truth.set_index(s.ITEM_ID).loc[lines.index, "popularity_rank"]
    top = lines[rank == 1].sum() / lines[rank == 5].sum()
    assert top > 3  # 5 ** 1.1 = 5.9 before budget cuts and per-category mixing


def test_cold_start_customers_and_items_exist_without_history(shop: Shop) -> None:
    tx = shop.transactions
    cold_customers = shop.truth.loc[shop.truth[IS_COLD_START], s.CUSTOMER_ID]
    assert len(cold_customers) == MEDIUM.n_cold_start_customers
    assert not _ids_in(cold_customers, tx[s.CUSTOMER_ID]).any()
    buyers = shop.truth.loc[~shop.truth[IS_COLD_START], s.CUSTOMER_ID]
    assert _ids_in(buyers, tx[s.CUSTOMER_ID]).all()
    stated = shop.customers.set_index(s.CUSTOMER_ID).loc[cold_customers, s.PREFERRED_CATEGORIES]
    assert 0 < stated.notna().sum() < len(stated)
    cold = shop.truth.set_index(s.CUSTOMER_ID).loc[cold_customers]
    assert cold[FIRST_PURCHASE].isna().all() and (cold[N_ORDERS] == 0).all()
    cold_items = shop.item_truth.loc[shop.item_truth[IS_COLD_START], s.ITEM_ID]
    assert len(cold_items) == MEDIUM.n_cold_start_items
    assert cold_items.isin(shop.items[s.ITEM_ID]).all()
    assert not _ids_in(cold_items, tx[s.ITEM_ID]).any()


# --- returns -----------------------------------------------------------------------


def test_returns_are_negative_lines_after_their_purchase(
    shop: Shop, purchases: pd.DataFrame
) -> None:
    tx = shop.transactions
    returns = tx[tx[s.QUANTITY] < 0]
    assert 0.02 < len(returns) / len(purchases) < 0.08
    assert returns[s.ORDER_ID].str.startswith("R").all()
    assert purchases[s.ORDER_ID].str.startswith("O").all()
    source = returns.assign(**{s.ORDER_ID: "O" + returns[s.ORDER_ID].str[1:]})
    matched = source.merge(
        purchases, on=[s.ORDER_ID, s.ITEM_ID], how="left", suffixes=("", "_p"), validate="1:1"
    )
    assert matched["timestamp_p"].notna().all()
    assert (matched[s.CUSTOMER_ID] == matched["customer_id_p"]).all()
    assert (matched[s.UNIT_PRICE] == matched["unit_price_p"]).all()
    assert (matched[s.TIMESTAMP] - matched["timestamp_p"] >= pd.Timedelta(days=1)).all()
    assert (-matched[s.QUANTITY] <= matched["quantity_p"]).all()


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
def test_a_million_transactions_in_seconds() -> None:
    config = ShopConfig(n_customers=84_000, n_cold_start_customers=800, seed=11)
    started = time.perf_counter()
    shop = generate_shop(config)
    elapsed = time.perf_counter() - started
    tx = shop.transactions
    assert len(tx) == pytest.approx(1_000_000, rel=0.05)
    assert elapsed < 30, f"{elapsed:.1f} s for {len(tx):,} lines"
    truth = _buyers(shop)
    stop = truth[DROPOUT_TIME].fillna(config.end_ts)
    alive_weeks = (stop - truth[FIRST_PURCHASE]).dt.total_seconds() / WEEK_SECONDS
    assert truth[N_REPEAT].sum() == pytest.approx(
        (truth[PURCHASE_RATE] * alive_weeks).sum(), rel=0.01
    )
    last = tx[tx[s.QUANTITY] > 0].groupby(s.CUSTOMER_ID)[s.TIMESTAMP].max()
    assert (last <= stop.loc[last.index]).all()
