"""The column registry: every column name kizuna reads or writes, one name per quantity.

Input tables (the data contract), the feature frame (behaviour vector, BTYD
summary, RFM scores), labels, model outputs and the offer decision all take
their names from here; no other module spells a column name. Every function
that reads a table takes ``*_col=`` keyword arguments that default to these
constants, so a caller with other names can pass them explicitly, and a
user's export can be mapped onto them by config (see
:func:`features.column_map.apply_column_map`).

One word, one quantity: ``frequency`` is the number of distinct orders (the
F of RFM); the BTYD summary's count of repeat purchase periods is
``repeat_periods``. ``future_value`` is realised net revenue after ``as_of``
(a label); ``predicted_value`` is the LTV model's estimate of it.
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
#: What makes two lines the same purchase: the event store's key, the duplicate rule of
#: stored events (``validate_transactions(stored_rows=)``) and of the service's events.
PURCHASE_KEY = TRANSACTION_REQUIRED

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

# --- behaviour vector (features.behaviour): one row per customer at as_of ----
RECENCY_DAYS = "recency_days"  # days from the last purchase to as_of
FREQUENCY = "frequency"  # distinct orders before as_of (not BTYD's repeat periods)
MONETARY_TOTAL = "monetary_total"  # net spend before as_of
MONETARY_MEAN = "monetary_mean"  # net spend per order
MONETARY_STD = "monetary_std"  # spread of spend per order
TENURE_DAYS = "tenure_days"  # days from the first purchase to as_of
GAP_MEAN_DAYS = "gap_mean_days"  # mean days between consecutive orders
GAP_STD_DAYS = "gap_std_days"
RECENCY_RATIO = "recency_ratio"  # recency_days / gap_mean_days: overdue when > 1
REVENUE_TREND = "revenue_trend"  # recent vs prior window, in [-1, 1]
ORDER_TREND = "order_trend"
BASKET_LINES = "basket_lines_mean"  # lines per order
BASKET_QUANTITY = "basket_quantity_mean"  # units per order
DISTINCT_ITEMS = "distinct_items"
DISTINCT_CATEGORIES = "distinct_categories"
TOP_CATEGORY_SHARE = "top_category_share"  # share of lines in the customer's top category
RETURN_RATE = "return_rate"  # returned lines / purchase lines
SIGNUP_TENURE_DAYS = "signup_tenure_days"  # days from signup_date to as_of

# --- buy-till-you-die RFM summary (features.rfm, models.btyd) -----------------
# Named after lifetimes' frequency / recency / T / monetary_value, except that
# "frequency" is spelled repeat_periods here (see FREQUENCY above).
REPEAT_PERIODS = "repeat_periods"  # repeat purchase periods (lifetimes' frequency)
RECENCY = "recency"  # first to last purchase period
T = "T"  # first purchase period to as_of; read as df["T"], never df.T
MONETARY_VALUE = "monetary_value"  # mean value of repeat purchase periods

# --- RFM scores and segments ---------------------------------------------------
R_SCORE = "r_score"
F_SCORE = "f_score"
M_SCORE = "m_score"
RFM_SCORE = "rfm_score"
SEGMENT = "segment"
# Columns of kizuna's own tables (features, the CRM export) that hold text which can look
# like a number: readers keep them text, or "00042" loses its zeros and "545" becomes 545.
TEXT_COLUMNS = frozenset({CUSTOMER_ID, RFM_SCORE})

# --- labels --------------------------------------------------------------------
AS_OF = "as_of"
CHURN = "churn"  # 1 = no purchase in [as_of, as_of + horizon)
FUTURE_VALUE = "future_value"  # net revenue in [as_of, as_of + horizon): the LTV label

# --- model outputs (the service, the CRM export and the offer decision) --------
CHURN_PROBABILITY = "churn_probability"  # calibrated P(churn) in [0, 1]
PREDICTED_VALUE = "predicted_value"  # the LTV model's expected future_value
DAYS_SINCE_LAST_PURCHASE = "days_since_last_purchase"  # offer rules; recency_days if absent

# --- campaigns: control groups, contact log, outcomes ---------------------------
CAMPAIGN_ID = "campaign_id"
GROUP = "group"  # control-group assignment: "treated" or "control"
HASH_UNIT = "hash_unit"  # a customer's stable place in [0, 1) for a campaign
CONTACTED_AT = "contacted_at"  # when an offer was sent (contact log)
TREATED = "treated"  # outcomes: the customer got the offer (bool or 0/1)
OUTCOME = "outcome"  # outcomes: the customer bought in the campaign window (0/1)

# --- offer decision (models.next_best_offer) -----------------------------------
# Product candidates (what the recommender produces).
P_PURCHASE = "p_purchase"  # probability the customer buys the candidate
MARGIN_VALUE = "margin_value"  # profit per purchase, in currency
OFFER_TYPE = "offer_type"  # "cross_sell" / "upsell" on candidates; the offer's type on decisions
# Learned uplift frame.
OFFER_ID = "offer_id"
UPLIFT = "uplift"
# Decisions.
RANK = "rank"
EXPECTED_VALUE = "expected_value"
EXPECTED_BENEFIT = "expected_benefit"
EXPECTED_COST = "expected_cost"
RETENTION_UPLIFT = "retention_uplift"
UPLIFT_SOURCE = "uplift_source"  # "assumed", "learned", "recommender" or "" (no offer)
ITEMS = "items"
REASONS = "reasons"
