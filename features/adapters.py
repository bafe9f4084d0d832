"""Adapters: two public formats mapped onto the canonical transactions table.

Each adapter is a pure function from the file's raw table, as read with
every column as text, to the canonical columns (see :mod:`features.schema`).
Reading the file is the caller's job (``training.data``); typing and
checking are :func:`features.validate.validate_transactions`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.contract import require_columns

ONLINE_RETAIL_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
CDNOW_MASTER_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
CDNOW_SAMPLE_COLUMNS = ("customer_id", "sample_id", "date", "number_of_cds", "dollar_value")
CDNOW_ITEM = "CD"


def from_online_retail(raw: pd.DataFrame) -> pd.DataFrame:
    """Map UCI Online Retail (Chen, Sain & Guo 2012) onto the canonical table.

    Invoices whose number starts with ``C`` are cancellations: they are
    flagged in ``is_return`` (their quantities are already negative).
    ``Description`` and ``Country`` are kept as extra columns.

    Parameters
    ----------
    raw
        The file as read, shape (n_rows, 8), columns ``ONLINE_RETAIL_COLUMNS``.

    Returns
    -------
    pandas.DataFrame
        Shape (n_rows, 9): canonical columns plus ``is_return``,
        ``description`` and ``country``; one row per input row, same order.
    """
    require_columns(raw, ONLINE_RETAIL_COLUMNS, table="Online Retail")
    invoice = raw["InvoiceNo"].astype("string").str.strip()
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: raw["CustomerID"],
            s.ORDER_ID: invoice,
            s.ITEM_ID: raw["StockCode"],
            s.TIMESTAMP: raw["InvoiceDate"],
            s.QUANTITY: raw["Quantity"],
            s.UNIT_PRICE: raw["UnitPrice"],
            s.IS_RETURN: invoice.str.upper().str.startswith("C").fillna(False).astype(bool),
            "description": raw["Description"],
            "country": raw["Country"],
        }
    )


def from_cdnow(raw: pd.DataFrame) -> pd.DataFrame:
    """Map the CDNOW purchase log (Fader & Hardie) onto the canonical table.

    CDNOW records one line per transaction with no order or item id, so each
    line becomes its own order (``<customer>-<YYYYMMDD>-<line>``, which keeps
    two identical purchases on one day apart) of one item, ``"CD"``, with
    ``quantity`` = number of CDs and ``unit_price`` = dollars / CDs.

    Parameters
    ----------
    raw
        The master file (columns ``CDNOW_MASTER_COLUMNS``) or the sample
        file (``CDNOW_SAMPLE_COLUMNS``), shape (n_rows, 4 or 5).

    Returns
    -------
    pandas.DataFrame
        Shape (n_rows, 6), canonical columns, one row per input row.
    """
    require_columns(raw, CDNOW_MASTER_COLUMNS, table="CDNOW")
    customer = raw["customer_id"].astype("string").str.strip()
    date = raw["date"].astype("string").str.strip()
    cds = pd.to_numeric(raw["number_of_cds"], errors="coerce")
    dollars = pd.to_numeric(raw["dollar_value"], errors="coerce")
    line = pd.Series(np.arange(len(raw)), index=raw.index).astype("string")
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: customer,
            s.ORDER_ID: customer + "-" + date + "-" + line,
            s.ITEM_ID: CDNOW_ITEM,
            s.TIMESTAMP: pd.to_datetime(date, format="%Y%m%d", errors="coerce"),
            s.QUANTITY: raw["number_of_cds"],
            # a zero-CD line keeps its dollars so validation names the quantity
            s.UNIT_PRICE: (dollars / cds.where(cds != 0, 1.0)),
        }
    )
