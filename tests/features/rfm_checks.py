"""What the RFM summary tests compare: the summary's columns, equality to the last bits, CDNOW."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.rfm import rfm_summary

COLUMNS = [s.REPEAT_PERIODS, s.RECENCY, s.T, s.MONETARY_VALUE]


def assert_same_summary(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Frequency, recency and T identical; monetary_value to the last bits.

    A period of three or more rows is summed in input order here and in
    (timestamp, value) order by the references, which can move the last bit.
    """
    pd.testing.assert_frame_equal(
        got[COLUMNS[:3]], expected[COLUMNS[:3]], check_exact=True, check_index_type=False
    )
    np.testing.assert_allclose(
        got[s.MONETARY_VALUE], expected[s.MONETARY_VALUE], rtol=1e-14, atol=0
    )


def cdnow_rfm(
    raw: pd.DataFrame, as_of: str, *, time_unit: str = "D", time_scaler: float = 1.0
) -> pd.DataFrame:
    """``rfm_summary`` of a CDNOW frame with the references' columns: customer_id, date,
    dollar_value (every row a purchase)."""
    return rfm_summary(
        raw,
        as_of,
        time_unit=time_unit,
        time_scaler=time_scaler,
        customer_col="customer_id",
        timestamp_col="date",
        monetary_col="dollar_value",
        return_col=None,
    )
