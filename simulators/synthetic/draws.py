"""The random draws of the synthetic shop: catalogue, customers, orders, lines, returns.

Drawn in this order from one generator (see :mod:`simulators.synthetic`).
"""

from __future__ import annotations

import numpy as np

from kizuna.simulators.synthetic.config import (
    FULL_RETURN_PROB,
    REGIONS,
    SECONDS_PER_WEEK,
    ShopConfig,
)


def draw_catalogue(cfg: ShopConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Items sorted by (category, popularity rank); cold-start items get weight 0."""
    n_cat, n_sold = cfg.n_categories, cfg.n_items
    n_all = n_sold + cfg.n_cold_start_items
    cat_pop = rng.dirichlet(np.full(n_cat, 3.0))
    # Every category gets at least one sold item; the rest follow category popularity.
    sold_cat = np.concatenate([np.arange(n_cat), rng.choice(n_cat, n_sold - n_cat, p=cat_pop)])
    cold_cat = rng.choice(n_cat, cfg.n_cold_start_items, p=cat_pop)
    category = np.concatenate([sold_cat, cold_cat])
    is_cold = np.arange(n_all) >= n_sold
    # Sort by category, sold before cold, random order inside: rank = popularity rank.
    order = np.lexsort((rng.random(n_all), is_cold, category))
    category, is_cold = category[order], is_cold[order]
    cat_start = np.searchsorted(category, np.arange(n_cat))
    rank = np.arange(n_all) - cat_start[category] + 1
    weight = np.where(is_cold, 0.0, rank.astype(float) ** -cfg.item_zipf_exponent)
    within = weight / np.bincount(category, weights=weight, minlength=n_cat)[category]
    # Monotone search table: category c occupies (c, c + 1]. Dividing by the
    # category's own total makes its last sold item (and the zero-weight cold items
    # after it) exactly c + 1, so cold items can never be drawn.
    cum = np.cumsum(weight)
    cum = cum - np.concatenate([[0.0], cum])[cat_start][category]
    cat_end = np.searchsorted(category, np.arange(n_cat), side="right")
    table = category + cum / cum[cat_end - 1][category]
    cat_median = cfg.median_price * np.exp(rng.normal(0.0, 0.4, n_cat))
    raw_price = cat_median[category] * np.exp(rng.normal(0.0, 0.5, n_all))
    price = np.maximum(np.round(raw_price) - 0.01, 0.99)
    cat_margin = rng.uniform(0.15, 0.55, n_cat)[category]
    margin = np.round(rng.beta(cat_margin * 20, (1 - cat_margin) * 20), 3)
    in_stock = rng.random(n_all) < cfg.in_stock_share
    # Item ids are shuffled so that they reveal neither category nor popularity.
    id_number = rng.permutation(n_all) + 1
    return {
        "category": category,
        "is_cold": is_cold,
        "rank": rank,
        "within": within,
        "table": table,
        "price": price,
        "margin": margin,
        "in_stock": in_stock,
        "id_number": id_number,
        "category_popularity": cat_pop,
    }


# --- customers -----------------------------------------------------------------


def draw_customers(
    cfg: ShopConfig, rng: np.random.Generator, cat_pop: np.ndarray
) -> dict[str, np.ndarray]:
    """Latent traits for purchasing customers (first) and cold-start customers (last)."""
    n_buy, n_cold = cfg.n_customers, cfg.n_cold_start_customers
    n, n_cat = n_buy + n_cold, cfg.n_categories
    lam = rng.gamma(cfg.rate_r, 1.0 / cfg.rate_alpha, n)
    p = np.clip(rng.beta(cfg.dropout_a, cfg.dropout_b, n), 1e-12, 1.0)
    nu = rng.gamma(cfg.spend_q, 1.0 / cfg.spend_gamma, n)
    k = cfg.return_concentration
    ret = np.zeros(n)
    if cfg.return_share > 0:
        ret = rng.beta(cfg.return_share * k, (1 - cfg.return_share) * k, n)
    ch_w = np.asarray(cfg.channel_weights, dtype=float)
    channel = rng.choice(len(ch_w), n, p=ch_w / ch_w.sum())
    region = rng.integers(0, len(REGIONS), n)  # carries no signal: a null attribute
    fc = np.asarray(cfg.focus_count_probs, dtype=float)
    n_focus = rng.choice(fc.size, n, p=fc / fc.sum()) + 1
    # Weighted sampling without replacement (Gumbel top-k) of the focus categories.
    keys = np.log(cat_pop)[None, :] + rng.gumbel(size=(n, n_cat))
    rank_of = np.empty((n, n_cat), dtype=np.int64)
    np.put_along_axis(rank_of, np.argsort(-keys, axis=1), np.arange(n_cat)[None, :], axis=1)
    focus = rank_of < n_focus[:, None]
    alpha = np.where(focus, cfg.focus_concentration, cfg.background_concentration)
    g = rng.gamma(alpha)
    # Small shapes can underflow to 0; a focus category must keep some weight.
    np.maximum(g, np.finfo(float).tiny, out=g, where=focus)
    theta = g / g.sum(axis=1, keepdims=True)
    # Ties are impossible among the top weights (focus weights are > 0 and continuous).
    top = np.argsort(-theta, axis=1)[:, : fc.size]
    stated_share = np.where(
        np.arange(n) < n_buy, cfg.stated_preference_share, cfg.cold_start_stated_preference_share
    )
    stated = rng.random(n) < stated_share
    weeks = cfg.n_weeks
    t0 = rng.uniform(0.0, weeks, n)  # first purchase (weeks after start); unused for cold
    lead_days = np.zeros(n)
    if cfg.mean_signup_lead_days > 0:
        lead_days = rng.exponential(cfg.mean_signup_lead_days, n)
    signup_day = np.floor(t0 * 7 - lead_days)
    cold = np.arange(n) >= n_buy
    signup_day[cold] = np.floor(rng.uniform(0.0, weeks * 7, n_cold))
    # Customer ids follow sign-up order, as a shop's own numbering would.
    id_number = np.empty(n, dtype=np.int64)
    id_number[np.lexsort((np.arange(n), signup_day))] = np.arange(1, n + 1)
    return {
        "lam": lam, "p": p, "nu": nu, "ret": ret, "channel": channel, "region": region,
        "n_focus": n_focus, "theta": theta, "top": top, "stated": stated, "t0": t0,
        "signup_day": signup_day, "cold": cold, "id_number": id_number,
    }  # fmt: skip


# --- orders --------------------------------------------------------------------


def simulate_orders(
    cfg: ShopConfig, rng: np.random.Generator, cust: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """BG/NBD order times for purchasing customers, plus order value and channel.

    With ``N ~ Poisson(lambda * D)`` arrivals in the remaining window ``D`` and
    ``J ~ Geometric(p)`` repeat purchases before dropout, the customer makes
    ``n = min(J, N)`` repeats and drops out iff ``J <= N``. Given ``N``, arrival
    times are uniform order statistics, and the first ``n`` of ``N`` come from
    exponential spacings: ``U_(j) = S_j / (S_n + Gamma(N - n + 1))`` with ``S_j``
    the running sum of ``j`` standard exponentials. Cost is O(orders), not O(N).
    """
    n_buy = cfg.n_customers
    lam, p, t0 = cust["lam"][:n_buy], cust["p"][:n_buy], cust["t0"][:n_buy]
    window = cfg.n_weeks - t0
    n_arrivals = rng.poisson(lam * window)
    n_until_drop = rng.geometric(p)
    n_rep = np.minimum(n_arrivals, n_until_drop)
    dropped = n_until_drop <= n_arrivals
    spacing = rng.exponential(1.0, int(n_rep.sum()))
    rep_start = np.concatenate([[0], np.cumsum(n_rep)[:-1]])
    running = np.cumsum(spacing)
    cust_of_rep = np.repeat(np.arange(n_buy), n_rep)
    offset = np.concatenate([[0.0], running])[rep_start]
    running = running - offset[cust_of_rep]
    s_n = np.zeros(n_buy)
    has = n_rep > 0
    s_n[has] = running[rep_start[has] + n_rep[has] - 1]
    total = s_n + rng.gamma((n_arrivals - n_rep + 1).astype(float))
    rep_time = window[cust_of_rep] * running / total[cust_of_rep]

    n_orders = n_rep + 1
    order_cust = np.repeat(np.arange(n_buy), n_orders)
    first = np.concatenate([[0], np.cumsum(n_orders)[:-1]])
    rel = np.zeros(order_cust.size)
    is_repeat = np.ones(order_cust.size, dtype=bool)
    is_repeat[first] = False
    rel[is_repeat] = rep_time
    order_sec = np.floor((t0[order_cust] + rel) * SECONDS_PER_WEEK).astype(np.int64)
    value = rng.gamma(cfg.spend_p, 1.0 / cust["nu"][order_cust])
    loyal = rng.random(order_cust.size) < cfg.channel_loyalty
    ch_w = np.asarray(cfg.channel_weights, dtype=float)
    other = rng.choice(ch_w.size, order_cust.size, p=ch_w / ch_w.sum())
    channel = np.where(loyal, cust["channel"][order_cust], other)
    # Order numbers follow time (ties: customer order), as an order system's would.
    chrono = np.argsort(order_sec, kind="stable")
    number = np.empty(order_cust.size, dtype=np.int64)
    number[chrono] = np.arange(1, order_cust.size + 1)
    last = first + n_orders - 1
    return {
        "cust": order_cust, "sec": order_sec, "value": value, "channel": channel,
        "number": number, "n_rep": n_rep, "dropped": dropped,
        "first_sec": order_sec[first], "last_sec": order_sec[last],
    }  # fmt: skip


def realise_lines(
    cfg: ShopConfig,
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    cat: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Turn orders into lines: which items, how many units.

    Parameters
    ----------
    orders
        Needs ``"cust"`` (customer index, shape (n_orders,)) and ``"value"``
        (target order value, shape (n_orders,)); nothing else, so extra orders
        (e.g. from a simulated campaign) can be realised the same way.

    Returns
    -------
    dict
        ``order`` (index into the order arrays), ``item`` (catalogue position) and
        ``quantity`` (units, float), each of shape (n_lines,), sorted by order and
        then item.
    """
    n_orders = orders["cust"].size
    extra = rng.poisson(cfg.mean_candidate_lines - 1.0, n_orders)
    n_lines = 1 + np.minimum(extra, cfg.max_candidate_lines - 1)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_cust = orders["cust"][line_order]
    # Inverse-CDF sampling from each customer's theta in one searchsorted: row i of
    # the cumulative matrix is shifted by i, which makes the flattened table monotone.
    theta = cust["theta"]
    n_cat = theta.shape[1]
    cum = np.cumsum(theta, axis=1)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(theta.shape[0])[:, None]).ravel()
    u = rng.random(line_order.size)
    pos = np.searchsorted(flat, line_cust + u, side="right")
    line_cat = np.minimum(pos - line_cust * n_cat, n_cat - 1)
    u = rng.random(line_order.size)
    item = np.searchsorted(cat["table"], line_cat + u, side="right")
    # Fill the basket: lines are taken, one unit each, in drawn order while their
    # running cost fits the target value (the first line always); the remaining
    # budget is spread evenly over the taken lines as extra units, rounded up with
    # probability equal to the fraction. E[value] is then the target exactly,
    # unless the first item alone costs more than the target.
    price = cat["price"][item]
    first_line = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    running = np.cumsum(price)
    running -= np.concatenate([[0.0], running])[first_line][line_order]
    taken = running <= orders["value"][line_order]
    taken[first_line] = True
    del running, line_cust, pos, line_cat, u
    taken = np.flatnonzero(taken)
    line_order, item, price = line_order[taken], item[taken], price[taken]
    n_taken = np.bincount(line_order, minlength=n_orders)
    base_cost = np.bincount(line_order, weights=price, minlength=n_orders)
    spare = np.maximum(orders["value"] - base_cost, 0.0)
    extra = spare[line_order] / n_taken[line_order] / price
    qty = np.floor(extra)
    qty += rng.random(qty.size) < (extra - qty)
    qty += 1.0
    # Merge repeats of an item within an order; input is order-major, so a stable
    # sort on (order, item) only reorders inside orders.
    key = line_order * cat["price"].size + item
    perm = np.argsort(key, kind="stable")
    key = key[perm]
    new = np.empty(key.size, dtype=bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    keep = perm[new]
    return {
        "order": line_order[keep],
        "item": item[keep],
        "quantity": np.bincount(group, weights=qty[perm]),
    }


def draw_returns(
    cfg: ShopConfig,
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    lines: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Return lines: index of the purchase line, returned units, time (seconds)."""
    n_orders = orders["cust"].size
    delay_days = 1.0 + rng.gamma(2.0, (cfg.mean_return_delay_days - 1.0) / 2.0, n_orders)
    ret_sec = orders["sec"] + np.floor(delay_days * 86_400).astype(np.int64)
    line_order = lines["order"]
    chosen = rng.random(line_order.size) < cust["ret"][orders["cust"][line_order]]
    qty = lines["quantity"].astype(np.int64)
    full = rng.random(line_order.size) < FULL_RETURN_PROB
    partial = rng.integers(1, qty + 1)
    returned = np.where(full, qty, partial)
    horizon = (cfg.end_ts - cfg.start_ts).total_seconds()
    idx = np.flatnonzero(chosen & (ret_sec[line_order] < horizon))
    return {"line": idx, "quantity": returned[idx].astype(float), "sec": ret_sec[line_order[idx]]}
