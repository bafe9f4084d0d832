"""Regenerate cdnow_rfm_reference.json: reference RFM summaries of CDNOW master.

Needs pymc-marketing and lifetimes in a separate environment (never in the
project's venv), e.g.::

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install pymc-marketing lifetimes
    /tmp/refenv/bin/python tests/features/reference/make_cdnow_rfm_reference.py

Only aggregates, a digest and a few customers' rows are stored, never the data.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MASTER = HERE.parents[2].parent / "shared" / "datasets" / "cdnow" / "CDNOW_master.txt"
OUT = HERE / "cdnow_rfm_reference.json"
COLUMNS = ("frequency", "recency", "T", "monetary_value")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
# (name, observation_period_end for the references, our exclusive as_of, time_scaler)
CASES = (
    ("calibration_days", "1997-09-30", "1997-10-01", 1.0),
    ("calibration_weeks", "1997-09-30", "1997-10-01", 7.0),
    ("full_days", "1998-06-30", "1998-07-01", 1.0),
    ("full_weeks", "1998-06-30", "1998-07-01", 7.0),
)


def digest(summary: pd.DataFrame) -> str:
    """sha256 of the summary sorted by customer id, values rounded to 10 decimals."""
    summary = summary.sort_index()
    lines = [
        f"{cid}," + ",".join(f"{v:.10f}" for v in row)
        for cid, row in zip(summary.index, summary[list(COLUMNS)].to_numpy(), strict=True)
    ]
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def describe(summary: pd.DataFrame) -> dict:
    out = {"n_customers": len(summary)}
    for col in COLUMNS:
        v = summary[col].to_numpy()
        out[col] = {
            "sum": float(v.sum()),
            "min": float(v.min()),
            "max": float(v.max()),
            "nonzero": int(np.count_nonzero(v)),
            "quantiles": {str(q): float(np.quantile(v, q)) for q in QUANTILES},
        }
    return out


def pick_customers(raw: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    """A few telling customers: first ids, same-day repeats, extremes."""
    same_day = raw[raw.duplicated(["customer_id", "date"], keep=False)]["customer_id"]
    picks = [
        "00001",
        "00002",
        "00003",
        "00005",
        str(same_day.iloc[0]),
        str(same_day.iloc[len(same_day) // 2]),
        str(summary["frequency"].idxmax()),
        str(summary["monetary_value"].idxmax()),
        str(summary["recency"].idxmax()),
        str(summary.index[-1]),
    ]
    return list(dict.fromkeys(p for p in picks if p in summary.index))


def main() -> None:
    from lifetimes.utils import summary_data_from_transaction_data
    from pymc_marketing.clv.utils import rfm_summary

    raw = pd.read_csv(MASTER, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    result = {
        "source": "shared/datasets/cdnow/CDNOW_master.txt",
        "generated_by": "tests/features/reference/make_cdnow_rfm_reference.py",
        "digest": "sha256 of lines '<customer_id>,<frequency>,<recency>,<T>,<monetary_value>' "
        "sorted by customer id, values formatted '%.10f', each line ending in a newline",
        "libraries": {
            "pymc-marketing": version("pymc-marketing"),
            "lifetimes": version("lifetimes"),
            "pandas": version("pandas"),
            "numpy": version("numpy"),
            "python": sys.version.split()[0],
        },
        "cases": {},
    }
    for name, end, as_of, scaler in CASES:
        pymc = rfm_summary(
            raw,
            "customer_id",
            "date",
            monetary_value_col="dollar_value",
            observation_period_end=end,
            time_unit="D",
            time_scaler=scaler,
        )
        pymc = pymc.set_index("customer_id")[list(COLUMNS)]
        lt = summary_data_from_transaction_data(
            raw,
            "customer_id",
            "date",
            monetary_value_col="dollar_value",
            observation_period_end=end,
            freq="D",
            freq_multiplier=scaler,
        )[list(COLUMNS)]
        assert pymc.index.equals(lt.index)
        frt = ["frequency", "recency", "T"]
        np.testing.assert_array_equal(pymc[frt], lt[frt])
        np.testing.assert_allclose(pymc["monetary_value"], lt["monetary_value"], rtol=1e-13)
        picks = pick_customers(raw, pymc)
        result["cases"][name] = {
            "as_of": as_of,
            "observation_period_end": end,
            "time_unit": "D",
            "time_scaler": scaler,
            "calls": {
                "pymc-marketing": f"rfm_summary(raw, 'customer_id', 'date', monetary_value_col="
                f"'dollar_value', observation_period_end='{end}', "
                f"time_unit='D', time_scaler={scaler})",
                "lifetimes": f"summary_data_from_transaction_data(raw, 'customer_id', 'date', "
                f"monetary_value_col='dollar_value', observation_period_end='{end}', "
                f"freq='D', freq_multiplier={scaler})",
            },
            "sha256": {"pymc-marketing": digest(pymc), "lifetimes": digest(lt)},
            "stats": describe(pymc),
            "customers": {cid: [float(x) for x in pymc.loc[cid]] for cid in picks},
        }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
