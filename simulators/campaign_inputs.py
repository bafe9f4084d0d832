"""Who is in a simulated campaign, with their baseline and spend: from a shop or a customer frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.simulators.campaign_config import P_CONTROL, CampaignConfig
from kizuna.simulators.synthetic import DROPOUT_TIME, PURCHASE_RATE, SPEND_SCALE, Shop

DEFAULT_SPEND_SHAPE = 6.0  # basket shape when simulating from a plain frame


def from_shop(
    shop: Shop, cfg: CampaignConfig, as_of: pd.Timestamp | str | None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, float, np.ndarray]:
    """Step 1 from a shop: its customers' features at ``as_of`` and their latent baseline.

    Returns
    -------
    (features, p_control, expected_basket, spend_shape, alive)
        Features indexed by customer id (n rows); shape (n,) arrays of the
        purchase probability without the offer, the mean basket and whether
        each customer is alive at ``as_of``.
    """
    from kizuna.features.pipeline import customer_features
    from kizuna.features.validate import validate_transactions

    end = shop.config.end_ts
    as_of_ts = end if as_of is None else pd.Timestamp(as_of)
    if as_of_ts > end:
        raise KizunaInputError(
            f"as_of must not be after the shop's end ({end})", column="as_of", values=[as_of]
        )
    kept = validate_transactions(shop.transactions).kept
    features = customer_features(kept, as_of_ts)
    features.index = features.index.astype("str")
    truth = shop.truth.set_index(s.CUSTOMER_ID)
    truth.index = truth.index.astype("str")
    truth = truth.loc[features.index]
    dropout = truth[DROPOUT_TIME]
    alive = (dropout.isna() | (dropout >= as_of_ts)).to_numpy()
    rate = truth[PURCHASE_RATE].to_numpy(dtype=float)
    p0 = alive * (1.0 - np.exp(-rate * cfg.horizon_days / 7.0))
    spend_shape = shop.config.spend_p
    # Gamma(spend_p, rate nu) has mean spend_p / nu: the shop's true mean order value.
    expected = spend_shape / truth[SPEND_SCALE].to_numpy(dtype=float)
    return features, p0, expected, spend_shape, alive


def from_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Step 1 from a customer frame: its checked features, baseline and mean basket.

    Returns
    -------
    (features, p_control, expected_basket)
        Features indexed by customer id (n rows, without ``p_control``); shape
        (n,) arrays of the purchase probability without the offer and the mean basket.
    """
    table = frame.set_index(s.CUSTOMER_ID) if s.CUSTOMER_ID in frame.columns else frame
    table = table.copy()
    table.index = table.index.astype("str")
    if table.index.has_duplicates:
        raise KizunaInputError(
            "each customer must appear once",
            column=s.CUSTOMER_ID,
            values=table.index[table.index.duplicated()],
        )
    for col in (s.RECENCY_DAYS, s.FREQUENCY, s.MONETARY_MEAN):
        if col not in table.columns:
            raise KizunaInputError(
                f"a customer frame needs {[s.RECENCY_DAYS, s.FREQUENCY, s.MONETARY_MEAN]}",
                column=col,
            )
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() | (values < 0) | ~np.isfinite(values)
        if bad.any():
            raise KizunaInputError(
                "expected non-negative numbers", column=col, values=table[col][bad].unique()
            )
        table[col] = values.astype(float)
    if (table[s.FREQUENCY] < 1).any():
        raise KizunaInputError(
            "frequency counts orders and must be at least 1",
            column=s.FREQUENCY,
            values=table[s.FREQUENCY][table[s.FREQUENCY] < 1],
        )
    if P_CONTROL in table.columns:
        p0 = pd.to_numeric(table[P_CONTROL], errors="coerce").to_numpy(dtype=float)
        if np.isnan(p0).any() or ((p0 < 0) | (p0 > 1)).any():
            raise KizunaInputError(
                "must be probabilities in [0, 1]",
                column=P_CONTROL,
                values=table[P_CONTROL][~((p0 >= 0) & (p0 <= 1))],
            )
    else:
        p0 = 0.85 * np.exp(-table[s.RECENCY_DAYS].to_numpy(dtype=float) / 150.0)
    expected = np.maximum(table[s.MONETARY_MEAN].to_numpy(dtype=float), 1e-9)
    # The baseline is truth, not a feature: a model must not see it.
    return table.drop(columns=[P_CONTROL], errors="ignore"), p0, expected
