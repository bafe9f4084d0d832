"""The synthetic shop is true to its own ground truth: dropout, rates, spend, preferences, returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
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
    TOP_CATEGORIES,
    Shop,
)
from tests.simulators.shop_data import MEDIUM, WEEK_SECONDS, buyers, ids_in

# --- buy till you die ---------------------------------------------------------------


def test_no_purchase_after_true_dropout(shop: Shop, purchases: pd.DataFrame) -> None:
    truth = buyers(shop)
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
    truth = buyers(shop)
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
    truth = buyers(shop)
    frac = (truth[FIRST_PURCHASE] - MEDIUM.start_ts) / (MEDIUM.end_ts - MEDIUM.start_ts)
    # Uniform acquisition: each quarter of the history gets about a quarter.
    shares = np.bincount((frac * 4).astype(int), minlength=4) / len(frac)
    np.testing.assert_allclose(shares, 0.25, atol=0.02)
    signup = shop.customers.set_index(s.CUSTOMER_ID).loc[truth.index, s.SIGNUP_DATE]
    assert (signup <= truth[FIRST_PURCHASE]).all()


# --- spend -----------------------------------------------------------------------


def test_order_values_track_gamma_gamma_spend(shop: Shop, purchases: pd.DataFrame) -> None:
    truth = buyers(shop)
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
    truth = buyers(shop)
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
    assert not ids_in(cold_customers, tx[s.CUSTOMER_ID]).any()
    buyers = shop.truth.loc[~shop.truth[IS_COLD_START], s.CUSTOMER_ID]
    assert ids_in(buyers, tx[s.CUSTOMER_ID]).all()
    stated = shop.customers.set_index(s.CUSTOMER_ID).loc[cold_customers, s.PREFERRED_CATEGORIES]
    assert 0 < stated.notna().sum() < len(stated)
    cold = shop.truth.set_index(s.CUSTOMER_ID).loc[cold_customers]
    assert cold[FIRST_PURCHASE].isna().all() and (cold[N_ORDERS] == 0).all()
    cold_items = shop.item_truth.loc[shop.item_truth[IS_COLD_START], s.ITEM_ID]
    assert len(cold_items) == MEDIUM.n_cold_start_items
    assert cold_items.isin(shop.items[s.ITEM_ID]).all()
    assert not ids_in(cold_items, tx[s.ITEM_ID]).any()


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
