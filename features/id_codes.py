"""Id columns to integer codes: factorizing (pyarrow-backed, run-collapsed), lookups,
order keys and distinct counts per row; each raises a :class:`KizunaInputError`
that names the column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kizuna.features.errors import KizunaInputError

# Count tables up to this many cells are dense (1M customers x 12 categories fits).
_DENSE_CELLS = 20_000_000


def factorize_ids(
    values: Any,
    *,
    column: str,
    sort: bool = False,
    allow_missing: bool = False,
    runs: bool = False,
) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (shape (n,), int64) and the distinct ids, sorted if asked.

    Missing ids raise unless ``allow_missing`` (then their code is -1). With
    ``runs``, equal neighbours are collapsed first and only the first value of
    each run is hashed: a customer id repeats on every line of an order, so
    this halves the hashing on a typical order log, and costs one comparison
    pass when it does not help.

    Parameters
    ----------
    values
        Ids, shape (n,).
    column
        The column named in the error.
    sort
        Whether the distinct ids (and so the codes) are sorted.
    allow_missing
        Whether missing ids get code -1 instead of raising.
    runs
        Whether equal neighbours are collapsed before hashing.

    Returns
    -------
    codes : numpy.ndarray
        Shape (n,), int64; -1 for missing ids.
    uniques : pandas.Index
        The distinct ids, shape (n_ids,).
    """
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        # Plain values, so that ids sort by value and the index is not categorical.
        values = pd.Series(values).astype(values.dtype.categories.dtype).array
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()  # pd.factorize(sort=True) rejects the wrapper
    starts = _run_starts(values) if runs else None
    if starts is not None:
        run_codes, uniques = pd.factorize(values.take(starts), sort=sort)
        run_of_row = np.zeros(len(values), dtype=np.int64)
        run_of_row[starts[1:]] = 1
        codes = run_codes.astype(np.int64, copy=False)[np.cumsum(run_of_row)]
    else:
        codes, uniques = pd.factorize(values, sort=sort)
        codes = codes.astype(np.int64, copy=False)
    if not allow_missing and codes.size and codes.min() < 0:
        raise KizunaInputError(f"{int((codes < 0).sum())} rows have no id", column=column)
    return codes, pd.Index(uniques)


def id_positions(values: Any, ids: pd.Index) -> np.ndarray:
    """Position of each of ``values`` in the unique ``ids``, -1 when absent. Shape (n,) int64.

    String ids go through pyarrow's hash lookup, several times faster than
    ``Index.get_indexer`` on millions of strings.

    Parameters
    ----------
    values
        Ids to look up, shape (n,).
    ids
        The unique ids, shape (n_ids,).

    Returns
    -------
    numpy.ndarray
        Shape (n,), int64; -1 for values not in ``ids``.
    """
    values = values.array if isinstance(values, (pd.Series, pd.Index)) else values
    if isinstance(getattr(values, "dtype", None), pd.StringDtype) and isinstance(
        ids.dtype, pd.StringDtype
    ):
        found = pc.index_in(
            pa.array(values).cast(pa.large_string()),
            value_set=pa.array(ids.array).cast(pa.large_string()),
        )
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return ids.get_indexer(values).astype(np.int64, copy=False)


def order_codes(code: np.ndarray, cust: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of distinct (customer, order id) pairs, shape (n,), and each order's customer.

    ``code`` are order-id codes, every value in ``[0, code.max()]`` used (as
    ``factorize`` makes them). Order ids are normally unique to a customer;
    when one is shared, the pair is re-keyed so two customers never share an order.

    Parameters
    ----------
    code
        Order-id codes, shape (n,), int64.
    cust
        Customer codes of the same rows, shape (n,), int64.

    Returns
    -------
    codes : numpy.ndarray
        Shape (n,), int64: one code per (customer, order id) pair.
    owner : numpy.ndarray
        Shape (n_orders,), int64: the customer code of each order code.
    """
    owner = np.empty(int(code.max()) + 1 if code.size else 0, dtype=np.int64)
    owner[code] = cust
    if not np.array_equal(owner[code], cust):
        code = pd.factorize(code * (int(cust.max()) + 1) + cust)[0].astype(np.int64)
        owner = np.empty(int(code.max()) + 1, dtype=np.int64)
        owner[code] = cust
    return code, owner


def _run_starts(values: Any) -> np.ndarray | None:
    """Start positions of runs of equal values, or None when runs would not pay."""
    n = len(values)
    # Only for pyarrow-backed strings, where the comparison is one vectorised kernel.
    dtype = getattr(values, "dtype", None)
    if n < 2 or not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    arr = values.__arrow_array__()
    differs = pc.not_equal(arr[1:], arr[:-1]).fill_null(True)
    starts = np.flatnonzero(np.concatenate([[True], differs.to_numpy(zero_copy_only=False)]))
    return starts if starts.size <= 0.7 * n else None


def distinct_per_row(
    rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int, *, top: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Per row code: distinct column codes, the count of the most frequent one, all counts.

    A dense count table when it is small (few categories); otherwise one sort of
    the int64 keys ``row * n_cols + col`` (faster than building a sparse count
    matrix). ``top=False`` skips the most-frequent count in the sorted path.

    Parameters
    ----------
    rows, cols
        Row and column codes of each entry, each shape (n,), int64.
    n_rows, n_cols
        Number of distinct row and column codes.
    top
        Whether to count the most frequent column code of each row.

    Returns
    -------
    distinct : numpy.ndarray
        Shape (n_rows,), int64: distinct column codes per row.
    most : numpy.ndarray or None
        Shape (n_rows,), int64: count of each row's most frequent column code; None
        when ``top`` is False and the sorted path ran.
    total : numpy.ndarray
        Shape (n_rows,), int64: entries per row.
    """
    total = np.bincount(rows, minlength=n_rows)
    if n_rows * n_cols <= _DENSE_CELLS:
        table = np.bincount(rows * n_cols + cols, minlength=n_rows * n_cols).reshape(n_rows, n_cols)
        most = table.max(axis=1) if n_cols else np.zeros(n_rows, dtype=np.int64)
        return np.count_nonzero(table, axis=1).astype(np.int64), most, total
    if n_rows * n_cols >= 2**62:  # pragma: no cover - beyond any table that fits in memory
        raise KizunaInputError("too many distinct ids to count pairs", column="ids")
    keys = np.sort(rows * n_cols + cols)
    new = np.empty(keys.size, dtype=bool)
    new[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    pair_row = keys[starts] // n_cols
    distinct = np.bincount(pair_row, minlength=n_rows)
    if not top:
        return distinct, None, total
    counts = np.diff(np.append(starts, keys.size))
    most = np.zeros(n_rows, dtype=np.int64)
    np.maximum.at(most, pair_row, counts)
    return distinct, most, total
