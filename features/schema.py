"""Canonical column names: the data contract, in one place.

Every function that reads a table takes ``*_col=`` keyword arguments that
default to these constants, so a caller with other names can pass them
explicitly, and a user's export can be mapped onto them by config
(see :func:`features.contract.apply_column_map`).
"""

from __future__ import annotations

# --- transactions (required) -------------------------------------------------
CUSTOMER_ID = "customer_id"
ORDER_ID = "order_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"
QUANTITY = "quantity"  # negative = return
UNIT_PRICE = "unit_price"
# optional transaction columns
CHANNEL = "channel"
CATEGORY = "category"

# derived by validation
REVENUE = "revenue"  # quantity * unit_price; negative for returns
IS_RETURN = "is_return"  # return or cancellation line, kept and flagged
ROW_ID = "row_id"  # position of the row in the input, for accounting
REASON = "reason"  # why a row was set aside

TRANSACTION_REQUIRED = (CUSTOMER_ID, ORDER_ID, ITEM_ID, TIMESTAMP, QUANTITY, UNIT_PRICE)
TRANSACTION_OPTIONAL = (CHANNEL, CATEGORY)

# --- items (optional) ----------------------------------------------------------
NAME = "name"
PRICE = "price"
MARGIN = "margin"  # share of price kept as profit, in [0, 1]
IN_STOCK = "in_stock"

ITEM_REQUIRED = (ITEM_ID,)
ITEM_OPTIONAL = (NAME, CATEGORY, PRICE, MARGIN, IN_STOCK)

# --- customers (optional) ------------------------------------------------------
SIGNUP_DATE = "signup_date"
# Categories the customer declared themselves, separated by PREFERENCE_SEP.
PREFERRED_CATEGORIES = "preferred_categories"
PREFERENCE_SEP = "|"
CHURN_LABEL = "churned"  # contractual businesses only

CUSTOMER_REQUIRED = (CUSTOMER_ID,)
CUSTOMER_OPTIONAL = (SIGNUP_DATE, PREFERRED_CATEGORIES, CHURN_LABEL)

# --- buy-till-you-die RFM summary ---------------------------------------------
FREQUENCY = "frequency"  # repeat purchase periods
RECENCY = "recency"  # first to last purchase period
T = "T"  # first purchase period to as_of; read as df["T"], never df.T
MONETARY_VALUE = "monetary_value"  # mean value of repeat purchase periods

# --- RFM scores and segments ---------------------------------------------------
R_SCORE = "r_score"
F_SCORE = "f_score"
M_SCORE = "m_score"
RFM_SCORE = "rfm_score"
SEGMENT = "segment"

# --- labels --------------------------------------------------------------------
AS_OF = "as_of"
CHURN = "churn"  # 1 = no purchase in [as_of, as_of + horizon)
FUTURE_VALUE = "future_value"  # net revenue in [as_of, as_of + horizon)
