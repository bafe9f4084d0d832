"""The drawn arrays as the tables a user would have, plus the ground-truth tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from kizuna.features import schema as s
from kizuna.simulators.synthetic.config import (
    ALIVE_AT_END,
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
    US,
    WITHIN_CATEGORY_POPULARITY,
    ShopConfig,
)


def _ids(prefix: str | np.ndarray, numbers: np.ndarray, width: int) -> pd.arrays.ArrowStringArray:
    """Zero-padded ids such as "C0000001", built as raw bytes (10M ids in < 1 s).

    ``prefix`` is one ASCII character, or one byte code per row.
    """
    numbers = np.asarray(numbers)
    n = numbers.size
    # Digits are written column by column into a (width + 1, n) array, so every
    # write is contiguous; one transpose then gives the row-major string bytes.
    buf = np.empty((width + 1, n), dtype=np.uint8)
    buf[0] = ord(prefix) if isinstance(prefix, str) else prefix
    x = numbers.astype(np.uint32 if n == 0 or numbers.max() < 2**32 else np.uint64)
    for row in range(width, 0, -1):
        q = x // 10
        x -= q * 10
        x += 48
        buf[row] = x
        x = q
    data = np.ascontiguousarray(buf.T)
    offsets = np.arange(n + 1, dtype=np.int64) * (width + 1)
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pd.array(arr, dtype="str")


def _labels(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    """Strings from a small vocabulary by code, without a Python loop over rows."""
    vocab = pa.array(list(names), type=pa.large_string())
    return pd.array(vocab.take(pa.array(np.asarray(codes, dtype=np.int64))), dtype="str")


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(n)))


def _timestamps(cfg: ShopConfig, seconds: np.ndarray) -> np.ndarray:
    base = cfg.start_ts.value // 1000  # Timestamp.value is in ns whatever the unit
    return (base + np.asarray(seconds, dtype=np.int64) * US).view("datetime64[us]")


def transactions_frame(
    cfg: ShopConfig,
    cust: dict[str, np.ndarray],
    cat: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    lines: dict[str, np.ndarray],
    returns: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Rows sorted by time; at equal times purchases come before returns, then by
    order number; lines keep their order within an order."""
    line_order, item = lines["order"], lines["item"]
    n_orders = orders["cust"].size
    # Purchase lines in order-number (= time) order, without a sort: lay out each
    # order's contiguous block of lines in order-number sequence.
    count = np.bincount(line_order, minlength=n_orders)
    start = np.cumsum(count) - count
    chrono = np.empty(n_orders, dtype=np.int64)
    chrono[orders["number"] - 1] = np.arange(n_orders)
    count_c = count[chrono]
    perm = np.repeat(start[chrono] - (np.cumsum(count_c) - count_c), count_c)
    perm += np.arange(perm.size)
    sec_p = orders["sec"][line_order[perm]]
    # Returns (a few per cent of lines) are sorted and slotted in by time.
    r_line, r_sec = returns["line"], returns["sec"]
    r_perm = np.lexsort((orders["number"][line_order[r_line]], r_sec))
    r_line, r_sec, r_qty = r_line[r_perm], r_sec[r_perm], returns["quantity"][r_perm]
    slot = np.searchsorted(sec_p, r_sec, side="right") + np.arange(r_line.size)
    is_ret = np.zeros(perm.size + r_line.size, dtype=bool)
    is_ret[slot] = True
    src_line = np.empty(is_ret.size, dtype=np.int64)
    src_line[~is_ret] = perm
    src_line[is_ret] = r_line
    sec = np.empty(is_ret.size, dtype=np.int64)
    sec[~is_ret] = sec_p
    sec[is_ret] = r_sec
    qty = np.empty(is_ret.size)
    qty[~is_ret] = lines["quantity"][perm]
    qty[is_ret] = -r_qty
    order_idx = line_order[src_line]
    item_idx = item[src_line]
    cust_idx = orders["cust"][order_idx]
    n_cust = cust["id_number"].size
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: _ids("C", cust["id_number"][cust_idx], _width(n_cust, 7)),
            s.ORDER_ID: _ids(
                np.where(is_ret, ord("R"), ord("O")).astype(np.uint8),
                orders["number"][order_idx],
                _width(n_orders, 9),
            ),
            s.ITEM_ID: _ids("I", cat["id_number"][item_idx], _width(cat["price"].size, 5)),
            s.TIMESTAMP: _timestamps(cfg, sec),
            s.QUANTITY: qty,
            s.UNIT_PRICE: cat["price"][item_idx],
            s.CHANNEL: _labels(cfg.channels, orders["channel"][order_idx]),
            s.CATEGORY: _labels(cfg.category_names, cat["category"][item_idx]),
        },
        copy=False,  # every column is a fresh array
    )


def items_frame(cfg: ShopConfig, cat: dict[str, np.ndarray]) -> pd.DataFrame:
    n = cat["price"].size
    order = np.argsort(cat["id_number"])
    names = [f"{cfg.category_names[c].title()} #{i:0{_width(n, 4)}d}" for c, i in zip(
        cat["category"][order], cat["id_number"][order], strict=True
    )]  # fmt: skip
    return pd.DataFrame(
        {
            s.ITEM_ID: _ids("I", cat["id_number"][order], _width(n, 5)),
            s.NAME: pd.array(names, dtype="str"),
            s.CATEGORY: _labels(cfg.category_names, cat["category"][order]),
            s.PRICE: cat["price"][order],
            s.MARGIN: cat["margin"][order],
            s.IN_STOCK: cat["in_stock"][order],
        },
        copy=False,  # every column is a fresh array
    )


def item_truth_frame(cat: dict[str, np.ndarray]) -> pd.DataFrame:
    n = cat["price"].size
    order = np.argsort(cat["id_number"])
    return pd.DataFrame(
        {
            s.ITEM_ID: _ids("I", cat["id_number"][order], _width(n, 5)),
            IS_COLD_START: cat["is_cold"][order],
            CATEGORY_POPULARITY: cat["category_popularity"][cat["category"][order]],
            WITHIN_CATEGORY_POPULARITY: cat["within"][order],
            POPULARITY_RANK: cat["rank"][order],
        },
        copy=False,  # every column is a fresh array
    )


def _top_category_strings(
    cfg: ShopConfig, cust: dict[str, np.ndarray]
) -> pd.arrays.ArrowStringArray:
    """ "a|b|c" of each customer's top n_focus latent categories, best first."""
    top, n_focus = cust["top"], cust["n_focus"]
    base = cfg.n_categories + 1
    used = np.arange(top.shape[1])[None, :] < n_focus[:, None]
    code = ((top + 1) * used * base ** np.arange(top.shape[1])[None, :]).sum(axis=1)
    uniq, inverse = np.unique(code, return_inverse=True)
    names = cfg.category_names
    vocab = []
    for c in uniq.tolist():  # at most a few thousand distinct combinations
        parts = []
        while c:
            parts.append(names[c % base - 1])
            c //= base
        vocab.append(s.PREFERENCE_SEP.join(parts))
    return _labels(vocab, inverse)


def _customer_order(cust: dict[str, np.ndarray]) -> np.ndarray:
    return np.argsort(cust["id_number"])


def customers_frame(cfg: ShopConfig, cust: dict[str, np.ndarray]) -> pd.DataFrame:
    order = _customer_order(cust)
    n = order.size
    top = _top_category_strings(cfg, cust)
    stated = pd.Series(top).where(cust["stated"]).array  # missing when not stated
    signup = _timestamps(cfg, cust["signup_day"][order].astype(np.int64) * 86_400)
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: _ids("C", cust["id_number"][order], _width(n, 7)),
            s.SIGNUP_DATE: signup,
            s.PREFERRED_CATEGORIES: stated[order],
            REGION: _labels(REGIONS, cust["region"][order]),
        },
        copy=False,  # every column is a fresh array
    )


def truth_frame(
    cfg: ShopConfig, cust: dict[str, np.ndarray], orders: dict[str, np.ndarray]
) -> pd.DataFrame:
    n_buy, n = cfg.n_customers, cust["id_number"].size
    first_sec = np.full(n, np.iinfo(np.int64).min)
    drop_sec = np.full(n, np.iinfo(np.int64).min)
    first_sec[:n_buy] = orders["first_sec"]
    drop_sec[:n_buy] = np.where(orders["dropped"], orders["last_sec"], drop_sec[:n_buy])
    n_rep = np.zeros(n, dtype=np.int64)
    n_rep[:n_buy] = orders["n_rep"]
    bought = np.arange(n) < n_buy
    alive = ~np.concatenate([orders["dropped"], np.zeros(n - n_buy, dtype=bool)])

    def times(sec: np.ndarray) -> np.ndarray:
        out = _timestamps(cfg, np.where(sec == np.iinfo(np.int64).min, 0, sec))
        out[sec == np.iinfo(np.int64).min] = np.datetime64("NaT")
        return out

    order = _customer_order(cust)
    cols = {
        s.CUSTOMER_ID: _ids("C", cust["id_number"][order], _width(n, 7)),
        IS_COLD_START: cust["cold"][order],
        PURCHASE_RATE: cust["lam"][order],
        DROPOUT_PROB: cust["p"][order],
        SPEND_SCALE: cust["nu"][order],
        MEAN_ORDER_VALUE: cfg.spend_p / cust["nu"][order],
        RETURN_PROB: cust["ret"][order],
        PRIMARY_CHANNEL: _labels(cfg.channels, cust["channel"][order]),
        N_FOCUS: cust["n_focus"][order],
        TOP_CATEGORIES: _top_category_strings(cfg, cust)[order],
        FIRST_PURCHASE: times(first_sec)[order],
        N_ORDERS: (n_rep + bought)[order],
        N_REPEAT: n_rep[order],
        DROPOUT_TIME: times(drop_sec)[order],
        ALIVE_AT_END: alive[order],
    }
    for j, name in enumerate(cfg.category_names):
        cols[PREF_PREFIX + name] = cust["theta"][order, j]
    return pd.DataFrame(cols, copy=False)
