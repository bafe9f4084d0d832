"""Fixtures of the simulator tests: one generated MEDIUM shop for the whole package."""

from __future__ import annotations

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.simulators.synthetic import Shop, generate_shop
from tests.simulators.shop_data import MEDIUM


@pytest.fixture(scope="package")
def shop() -> Shop:
    """The MEDIUM shop, generated once for the package (test_campaign.py has its own)."""
    return generate_shop(MEDIUM)


@pytest.fixture(scope="package")
def purchases(shop: Shop) -> pd.DataFrame:
    """The shop's purchase lines (returns left out)."""
    tx = shop.transactions
    return tx[tx[s.QUANTITY] > 0]
