"""The synthetic shops the simulator tests read, and small helpers over them."""

from __future__ import annotations

import pandas as pd

from kizuna.features import schema as s
from kizuna.simulators.synthetic import IS_COLD_START, Shop, ShopConfig

#: A tiny shop for determinism and I/O; MEDIUM is the shop the statistical checks read.
SMALL = ShopConfig(n_customers=300, n_items=40, n_categories=6, seed=3)
MEDIUM = ShopConfig(n_customers=20_000, n_cold_start_customers=200, n_cold_start_items=15, seed=7)
FRAMES = ("transactions", "items", "customers", "truth", "item_truth")
WEEK_SECONDS = 7 * 86_400


def ids_in(ids: pd.Series, other: pd.Series) -> pd.Series:
    """Which of ``ids`` are in ``other``."""
    # Series.isin against a long string column with repeats is slow in pandas 3.1;
    # against its unique values it is fast.
    return ids.isin(other.unique())


def buyers(shop: Shop) -> pd.DataFrame:
    """The ground truth of customers with a history (not cold-start), by customer id."""
    return shop.truth[~shop.truth[IS_COLD_START]].set_index(s.CUSTOMER_ID)
