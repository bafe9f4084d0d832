"""A seeded synthetic shop whose ground truth is known, so tests can check models.

:func:`generate_shop` draws it (see :mod:`simulators.synthetic.shop` for the
story); the column names of its truth tables are in
:mod:`simulators.synthetic.config`.
"""

from kizuna.simulators.synthetic.config import (
    ALIVE_AT_END,
    CATEGORY_NAMES,
    CATEGORY_POPULARITY,
    DROPOUT_PROB,
    DROPOUT_TIME,
    FIRST_PURCHASE,
    IS_COLD_START,
    MEAN_ORDER_VALUE,
    N_FOCUS,
    N_ORDERS,
    N_REPEAT,
    POPULARITY_RANK,
    PREF_PREFIX,
    PRIMARY_CHANNEL,
    PURCHASE_RATE,
    REGION,
    REGIONS,
    RETURN_PROB,
    SPEND_SCALE,
    TOP_CATEGORIES,
    WITHIN_CATEGORY_POPULARITY,
    ShopConfig,
)
from kizuna.simulators.synthetic.shop import Shop, config_for_transactions, generate_shop

__all__ = [
    "ALIVE_AT_END",
    "CATEGORY_NAMES",
    "CATEGORY_POPULARITY",
    "DROPOUT_PROB",
    "DROPOUT_TIME",
    "FIRST_PURCHASE",
    "IS_COLD_START",
    "MEAN_ORDER_VALUE",
    "N_FOCUS",
    "N_ORDERS",
    "N_REPEAT",
    "POPULARITY_RANK",
    "PREF_PREFIX",
    "PRIMARY_CHANNEL",
    "PURCHASE_RATE",
    "REGION",
    "REGIONS",
    "RETURN_PROB",
    "SPEND_SCALE",
    "Shop",
    "ShopConfig",
    "TOP_CATEGORIES",
    "WITHIN_CATEGORY_POPULARITY",
    "config_for_transactions",
    "generate_shop",
]
