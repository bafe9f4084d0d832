"""rfm_summary on CDNOW against lifetimes and pymc-marketing: stored digests and direct runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.rfm import rfm_summary
from tests.features.rfm_checks import COLUMNS, assert_same_summary, cdnow_rfm

REFERENCE = Path(__file__).resolve().parent / "reference" / "cdnow_rfm_reference.json"
REFERENCE_CASES = ("calibration_days", "calibration_weeks", "full_days", "full_weeks")
# The reference file keeps lifetimes' names; lifetimes calls repeat periods "frequency".
LIFETIMES_NAMES = dict(zip(COLUMNS, ("frequency", "recency", "T", "monetary_value"), strict=True))
KIZUNA_NAMES = {theirs: ours for ours, theirs in LIFETIMES_NAMES.items()}


def digest(summary: pd.DataFrame) -> str:
    """Same rendering as tests/features/reference/make_cdnow_rfm_reference.py."""
    summary = summary.sort_index()
    lines = [
        f"{cid}," + ",".join(f"{v:.10f}" for v in row)
        for cid, row in zip(summary.index, summary[COLUMNS].to_numpy(), strict=True)
    ]
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def _read_cdnow(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


def _summarise_raw(raw: pd.DataFrame, case: dict) -> pd.DataFrame:
    return cdnow_rfm(
        raw, case["as_of"], time_unit=case["time_unit"], time_scaler=case["time_scaler"]
    )


def _stats(summary: pd.DataFrame, quantiles: list[str]) -> dict:
    out = {"n_customers": len(summary)}
    for col in COLUMNS:
        v = summary[col].to_numpy()
        out[col] = {
            "sum": float(v.sum()),
            "min": float(v.min()),
            "max": float(v.max()),
            "nonzero": int(np.count_nonzero(v)),
            "quantiles": {q: float(np.quantile(v, float(q))) for q in quantiles},
        }
    return out


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())["cases"]


def test_reference_file_holds_the_cases(reference):
    assert sorted(reference) == sorted(REFERENCE_CASES)


@pytest.mark.dataset
@pytest.mark.parametrize("name", REFERENCE_CASES)
def test_cdnow_equals_lifetimes_and_pymc_marketing(cdnow_master_path, reference, name):
    case = reference[name]
    got = _summarise_raw(_read_cdnow(cdnow_master_path), case)
    # Same columns, same float operations: identical, not just close.
    assert digest(got) == case["sha256"]["pymc-marketing"] == case["sha256"]["lifetimes"]
    quantiles = list(case["stats"][LIFETIMES_NAMES[s.REPEAT_PERIODS]]["quantiles"])
    stats = _stats(got, quantiles)
    assert stats["n_customers"] == case["stats"]["n_customers"]
    for col in COLUMNS:
        expected = case["stats"][LIFETIMES_NAMES[col]]
        assert stats[col]["nonzero"] == expected["nonzero"], col
        for field in ("sum", "min", "max"):
            assert stats[col][field] == pytest.approx(expected[field], rel=1e-13), (col, field)
        assert stats[col]["quantiles"] == pytest.approx(expected["quantiles"], rel=1e-13), col
    for cid, row in case["customers"].items():
        assert got.loc[cid, COLUMNS].tolist() == pytest.approx(row, rel=1e-14), cid


@pytest.mark.dataset
@pytest.mark.parametrize("name", ["calibration_weeks", "full_days"])
def test_cdnow_through_the_adapter_and_validation(cdnow_master_path, reference, name):
    from kizuna.features.adapters import from_cdnow
    from kizuna.features.validate import validate_transactions

    case = reference[name]
    raw = pd.read_csv(cdnow_master_path, sep=r"\s+", dtype=str)
    kept = validate_transactions(from_cdnow(raw), allow_zero_price=True).kept
    got = rfm_summary(kept, case["as_of"], time_unit="D", time_scaler=case["time_scaler"])
    # revenue = quantity * (dollars / quantity) can be off in the last bit,
    # which the 10-decimal digest absorbs.
    assert digest(got) == case["sha256"]["pymc-marketing"]
    exact = _summarise_raw(_read_cdnow(cdnow_master_path), case)
    pd.testing.assert_frame_equal(
        got[COLUMNS[:3]], exact[COLUMNS[:3]], check_exact=True, check_index_type=False
    )
    np.testing.assert_allclose(got[s.MONETARY_VALUE], exact[s.MONETARY_VALUE], rtol=1e-13)


@pytest.mark.reference
@pytest.mark.dataset
@pytest.mark.parametrize(
    ("as_of", "end", "time_unit", "time_scaler"),
    [
        ("1998-07-01", "1998-06-30", "D", 1.0),
        ("1997-10-01", "1997-09-30", "D", 7.0),
        ("1998-07-01", "1998-06-30", "W", 1.0),
        ("1997-10-01", "1997-09-30", "W", 1.0),
    ],
)
def test_cdnow_equals_pymc_marketing_directly(
    cdnow_master_path, as_of, end, time_unit, time_scaler
):
    clv = pytest.importorskip("pymc_marketing.clv.utils")
    raw = _read_cdnow(cdnow_master_path)
    # 1997-09-30 is a Tuesday: pymc-marketing would keep that whole week, through
    # Sunday Oct 5, so it gets only the rows before as_of (a no-op for whole days).
    expected = (
        clv.rfm_summary(
            raw[raw["date"] < as_of],
            "customer_id",
            "date",
            monetary_value_col="dollar_value",
            observation_period_end=end,
            time_unit=time_unit,
            time_scaler=time_scaler,
        )
        .set_index("customer_id")
        .rename(columns=KIZUNA_NAMES)[COLUMNS]
    )
    got = cdnow_rfm(raw, as_of, time_unit=time_unit, time_scaler=time_scaler)
    assert_same_summary(got, expected)


@pytest.mark.reference
@pytest.mark.parametrize("time_unit", ["D", "W", "h"])
def test_sub_day_timestamps_equal_pymc_marketing(time_unit):
    clv = pytest.importorskip("pymc_marketing.clv.utils")
    rng = np.random.default_rng(11)
    n = 50_000
    df = pd.DataFrame(
        {
            "customer_id": pd.array(rng.integers(0, 3000, n).astype(str), dtype="str"),
            "ts": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 200 * 86400, n), unit="s"),
            "value": np.round(rng.gamma(2.0, 20.0, n), 2),
        }
    )
    as_of = pd.Timestamp("2023-06-01 13:30")
    # pymc-marketing keeps the whole observation period, so it gets only the rows
    # before as_of, and the last instant before as_of as its end.
    before = df[df["ts"] < as_of]
    expected = (
        clv.rfm_summary(
            before,
            "customer_id",
            "ts",
            monetary_value_col="value",
            observation_period_end=as_of - pd.Timedelta(1, "ns"),
            time_unit=time_unit,
        )
        .set_index("customer_id")
        .rename(columns=KIZUNA_NAMES)[COLUMNS]
    )
    got = rfm_summary(
        df,
        as_of,
        time_unit=time_unit,
        customer_col="customer_id",
        timestamp_col="ts",
        monetary_col="value",
    )
    assert_same_summary(got, expected)


@pytest.mark.reference
@pytest.mark.dataset
def test_cdnow_equals_lifetimes_directly(cdnow_master_path):
    utils = pytest.importorskip("lifetimes.utils")
    raw = _read_cdnow(cdnow_master_path)
    expected = utils.summary_data_from_transaction_data(
        raw,
        "customer_id",
        "date",
        monetary_value_col="dollar_value",
        observation_period_end="1997-09-30",
        freq="D",
        freq_multiplier=7,
    ).rename(columns=KIZUNA_NAMES)[COLUMNS]
    got = cdnow_rfm(raw, "1997-10-01", time_scaler=7)
    assert_same_summary(got, expected)
    # Only the 4 customers with a day of three or more purchases differ at all.
    assert (got[s.MONETARY_VALUE] != expected[s.MONETARY_VALUE]).sum() <= 4
