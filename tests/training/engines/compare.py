"""Comparing the two engines' outputs: exact for counts, ids, text and dates, 1e-9 for floats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from kizuna.features import schema as s

RTOL = 1e-9


def assert_frames_match(pandas_frame: pd.DataFrame, spark_frame: pd.DataFrame) -> None:
    """Same index, same columns in order, same values (floats within ``RTOL``)."""
    assert list(spark_frame.columns) == list(pandas_frame.columns)
    left = pandas_frame.sort_index()
    right = spark_frame.sort_index()
    assert left.index.astype(str).tolist() == right.index.astype(str).tolist()
    for col in left.columns:
        a, b = left[col], right[col]
        if pd.api.types.is_float_dtype(a.dtype):
            np.testing.assert_allclose(
                b.to_numpy(dtype=float), a.to_numpy(dtype=float), rtol=RTOL, atol=0, err_msg=col
            )
        else:
            as_text = [None if pd.isna(v) else str(v) for v in a]
            assert [None if pd.isna(v) else str(v) for v in b] == as_text, col


def read_output(folder: Path) -> dict:
    """What ``kizuna features`` wrote: reconciliation, features, labels, set-aside rows."""
    features = pd.read_parquet(folder / "features.parquet")
    labels = pd.read_parquet(folder / "labels.parquet")
    if s.CUSTOMER_ID in features.columns:  # the Spark engine writes ids as a column
        features = features.set_index(s.CUSTOMER_ID)
        labels = labels.set_index(s.CUSTOMER_ID)
    return {
        "report": json.loads((folder / "reconciliation.json").read_text()),
        "features": features,
        "labels": labels,
        "set_aside": pd.read_parquet(folder / "set_aside.parquet"),
    }


def assert_outputs_match(pandas_out: Path, spark_out: Path) -> dict:
    """Both engines' ``kizuna features`` folders hold the same results; return pandas'."""
    left, right = read_output(pandas_out), read_output(spark_out)
    assert right["report"] == left["report"]
    assert right["report"]["balanced"]
    assert_frames_match(left["features"], right["features"])
    assert_frames_match(left["labels"], right["labels"])
    aside = {}
    for side, frame in (("pandas", left["set_aside"]), ("spark", right["set_aside"])):
        frame = frame.astype("string")  # pandas writes text columns; row ids as text too
        aside[side] = frame.set_index(frame[s.ROW_ID].astype(int)).sort_index()
    assert list(aside["spark"].columns) == list(aside["pandas"].columns)
    assert aside["spark"].index.tolist() == aside["pandas"].index.tolist()
    assert aside["spark"].fillna("").equals(aside["pandas"].fillna("")), "set-aside rows differ"
    return left
