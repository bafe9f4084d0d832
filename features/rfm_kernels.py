"""The NumPy kernels of the RFM summary (:func:`features.rfm.rfm_summary`).

From per-row customer codes and period numbers to the summary columns:
one packed int64 sort groups each customer's rows by period; repeat-period
means are rounded as pandas' compensated groupby mean rounds them, so the
summary matches lifetimes and pymc-marketing value for value.
"""

from __future__ import annotations

import numpy as np

from kizuna.features import schema as s

SUMMARY_COLUMNS = (s.REPEAT_PERIODS, s.RECENCY, s.T, s.MONETARY_VALUE)


def summarise(
    codes: np.ndarray,
    period: np.ndarray,
    observed: int,
    n_customers: int,
    time_scaler: float,
    value: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """The summary columns from per-row customer codes and period numbers.

    Parameters
    ----------
    codes, period
        Shape (n_rows,) ints: customer code in ``[0, n_customers)`` (each
        present at least once) and period number of each used row.
    observed
        Period number of the observation period.
    value
        Shape (n_rows,) float64, or None for no ``monetary_value``.
    n_customers
        Number of customer codes.
    time_scaler
        Periods per unit of recency and T (e.g. 7 for days to weeks).

    Returns
    -------
    dict
        Column name -> shape (n_customers,) float64 array.
    """
    columns = SUMMARY_COLUMNS if value is not None else SUMMARY_COLUMNS[:3]
    if codes.size == 0:
        return {c: np.zeros(0) for c in columns}
    first_period = period.min()
    span = int(period.max() - first_period) + 1
    # One int64 key per (customer, period); sorting it groups each customer's
    # rows by period, periods ascending.
    key = codes.astype(np.int64)
    key *= span
    key += period
    key -= first_period
    order, sorted_key = stable_sort(key)
    is_start = np.empty(len(sorted_key), dtype=bool)
    is_start[0] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=is_start[1:])
    pair_start = np.flatnonzero(is_start)  # first sorted row of each (customer, period)
    pair_key = sorted_key[pair_start]
    pair_customer, pair_period = np.divmod(pair_key, span)
    pair_period += first_period

    n_periods = np.bincount(pair_customer, minlength=n_customers)
    first_pair = np.concatenate(([0], np.cumsum(n_periods)[:-1]))
    first = pair_period[first_pair]
    last = pair_period[first_pair + n_periods - 1]
    frequency = n_periods - 1
    # Same float operations as lifetimes: periods as float, then / time_scaler.
    out = {
        s.REPEAT_PERIODS: frequency.astype(np.float64),
        s.RECENCY: (last - first).astype(np.float64) / time_scaler,
        s.T: (observed - first).astype(np.float64) / time_scaler,
    }
    if value is not None:
        pair_value = np.add.reduceat(value[order], pair_start)
        out[s.MONETARY_VALUE] = repeat_mean(pair_value, first_pair, frequency)
    return out


def stable_sort(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable argsort of non-negative int64 ``key``, and the sorted keys.

    Packing the row number into the low bits and sorting plain int64 values
    is about 2.5x faster than ``np.argsort``; used whenever the bits fit.

    Parameters
    ----------
    key
        Non-negative int64 keys, shape (n,).

    Returns
    -------
    order : numpy.ndarray
        Shape (n,), int64: the stable argsort.
    sorted_keys : numpy.ndarray
        Shape (n,), int64: ``key[order]``.
    """
    n = len(key)
    row_bits = max(int(n - 1).bit_length(), 1)
    if int(key.max()).bit_length() + row_bits > 62:
        order = np.argsort(key, kind="stable")
        return order, key[order]
    packed = (key << row_bits) | np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((1 << row_bits) - 1), packed >> row_bits


def repeat_mean(
    pair_value: np.ndarray, first_pair: np.ndarray, frequency: np.ndarray
) -> np.ndarray:
    """Mean value of each customer's repeat periods, rounded as pandas rounds it.

    The references average the repeat periods in period order with pandas'
    compensated (Kahan) groupby mean (their first periods are NaN, which
    keeps pandas off its reduceat path). Means of one or two terms round the
    same way with plain sums, so only longer histories take the Kahan loop.
    Their period sums (``np.add.reduceat`` in (timestamp, value) order) are
    matched exactly when no period has more than two rows; otherwise
    ``pair_value`` may differ from theirs in the last bit, because putting
    every row in that order would cost a full lexsort.

    Parameters
    ----------
    pair_value
        Shape (n_pairs,): value of each (customer, period), customers
        contiguous, periods ascending.
    first_pair, frequency
        Shape (n_customers,): each customer's first pair and repeat periods.

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,) float64; 0 for customers without repeat periods.
    """
    repeat = pair_value.copy()
    repeat[first_pair] = 0.0  # the first period is not a repeat purchase
    total = np.add.reduceat(repeat, first_pair)
    many = np.flatnonzero(frequency >= 3)
    if many.size:
        total[many] = kahan_sums(pair_value, first_pair[many] + 1, frequency[many])
    return np.divide(total, frequency, out=np.zeros(len(frequency)), where=frequency > 0)


def kahan_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Kahan sums of ``values[starts[g]:starts[g] + counts[g]]`` for each group g.

    Steps through the k-th term of every group at once, as pandas' groupby
    does row by row; the loop runs max(counts) times over shrinking slices.

    Parameters
    ----------
    values
        The values, grouped in contiguous runs, shape (n,).
    starts, counts
        Start and length of each group's run, shape (n_groups,).

    Returns
    -------
    numpy.ndarray
        Shape (n_groups,), float64.
    """
    order = np.argsort(-counts, kind="stable")
    starts, counts = starts[order], counts[order]
    total = np.zeros(len(counts))
    compensation = np.zeros(len(counts))
    neg_counts = -counts  # ascending, for counting the groups longer than k
    for k in range(int(counts[0])):
        m = int(np.searchsorted(neg_counts, -k, side="left"))
        y = values[starts[:m] + k] - compensation[:m]
        t = total[:m] + y
        compensation[:m] = (t - total[:m]) - y
        total[:m] = t
    out = np.empty_like(total)
    out[order] = total
    return out
