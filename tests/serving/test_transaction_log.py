"""The snapshot's lines file: sorted by customer as Python sorts the ids, every line kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from kizuna.features import schema as s
from kizuna.serving.transaction_log import LINES_FILE, TransactionLog, write_transaction_log

# Ids whose order trips naive keys: a prefix, case, digits as text, non-ASCII, an empty-ish one.
IDS = ["b", "a", "é", "B", "a1", "10", "9", "ab", "a", "b", "Z", "é", "10"]


def _lines() -> pd.DataFrame:
    n = len(IDS)
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: pd.array(IDS, dtype="string"),
            s.ORDER_ID: pd.array([f"o{i}" for i in range(n)], dtype="string"),
            s.ITEM_ID: pd.array(["x"] * n, dtype="string"),
            s.TIMESTAMP: pd.date_range("2024-01-01", periods=n, freq="D"),
            s.QUANTITY: np.arange(1, n + 1),
            s.UNIT_PRICE: np.full(n, 2.5),
            s.IS_RETURN: np.zeros(n, dtype=bool),
        }
    )


def test_lines_are_sorted_as_python_sorts_the_ids_ties_in_line_order(tmp_path: Path):
    lines = _lines()
    assert write_transaction_log(lines, tmp_path) == len(lines)
    table = pa.ipc.open_file(pa.memory_map(str(tmp_path / LINES_FILE))).read_all()
    # Python's sorted() is stable: equal ids keep their order in the input.
    expected = sorted(range(len(IDS)), key=lambda i: IDS[i])
    assert table[s.ORDER_ID].to_pylist() == [f"o{i}" for i in expected]


def test_each_customer_reads_back_exactly_their_lines(tmp_path: Path):
    write_transaction_log(_lines(), tmp_path)
    log = TransactionLog(tmp_path)
    assert log.n_lines == len(IDS)
    for cid in set(IDS):
        got = log.lines([cid])
        want = [f"o{i}" for i, c in enumerate(IDS) if c == cid]
        assert got[s.ORDER_ID].tolist() == want
        assert (got[s.CUSTOMER_ID] == cid).all()
    assert log.lines(["nobody"]).empty
