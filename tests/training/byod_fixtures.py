"""Exports in the shapes that new users brought, generated from a synthetic shop.

Each writer turns the shop's canonical transactions into a file as a real
export of that shape looks: nothing is written by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kizuna.features import schema as s


def shop_transactions(n_customers: int = 400, seed: int = 3) -> pd.DataFrame:
    """Canonical purchase lines of a small synthetic shop (returns dropped)."""
    from kizuna.simulators.synthetic import ShopConfig, generate_shop

    tx = generate_shop(ShopConfig(n_customers=n_customers, seed=seed)).transactions
    return tx[tx[s.QUANTITY] > 0].reset_index(drop=True)


def write_epoch_log(tx: pd.DataFrame, path: Path) -> Path:
    """An interaction log: tab-separated, no header, user / item / rating / epoch seconds."""
    rating = np.random.default_rng(0).integers(1, 6, len(tx))
    epoch = (
        (pd.to_datetime(tx[s.TIMESTAMP]) - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    ).to_numpy()
    log = pd.DataFrame(
        {"u": tx[s.CUSTOMER_ID], "i": tx[s.ITEM_ID], "r": rating, "t": epoch}
    ).drop_duplicates(["u", "i", "t"])
    log.to_csv(path, sep="\t", header=False, index=False)
    return path


def write_dayfirst_export(tx: pd.DataFrame, path: Path) -> Path:
    """An order export with its own column names and dd/mm/yyyy dates."""
    export = pd.DataFrame(
        {
            "Invoice": tx[s.ORDER_ID],
            "CustNo": tx[s.CUSTOMER_ID],
            "SKU": tx[s.ITEM_ID],
            "Date": pd.to_datetime(tx[s.TIMESTAMP]).dt.strftime("%d/%m/%Y %H:%M"),
            "Qty": tx[s.QUANTITY],
            "Price": tx[s.UNIT_PRICE].round(2),
        }
    )
    export.to_csv(path, index=False)
    return path


def write_churn_table(path: Path, n: int = 1_500, seed: int = 0) -> Path:
    """A subscription export: customers only, text columns, blank numbers, a yes/no label."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    fee = rng.uniform(20, 120, n)
    plan = rng.choice(["monthly", "one year", "two year"], n)
    logit = -1.0 - 0.05 * tenure + 0.02 * fee + 1.5 * (plan == "monthly")
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    pd.DataFrame(
        {
            "AccountId": [f"A{i:05d}" for i in range(n)],
            "Plan": plan,
            "Region": rng.choice(["north", "south", "east", "west"], n),
            "Tenure": [str(t) if i % 40 else "" for i, t in enumerate(tenure)],
            "MonthlyFee": [f"{f:.2f}" if i % 25 else " " for i, f in enumerate(fee)],
            "Joined": signup.strftime("%d/%m/%Y"),
            "Cancelled": np.where(churned, "yes", "no"),
        }
    ).to_csv(path, index=False)
    return path
