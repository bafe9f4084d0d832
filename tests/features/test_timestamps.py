"""One timestamp rule: ISO text by default, declared formats, epochs, day/month order."""

from __future__ import annotations

import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import TimestampRule, parse_timestamp_value, parse_timestamps


def test_iso_text_with_and_without_zone_is_naive_utc():
    out = parse_timestamps(pd.Series(["2024-05-02 10:00", "2024-05-02T12:00:00+02:00", None]))
    assert out.tolist()[:2] == [pd.Timestamp("2024-05-02 10:00")] * 2
    assert pd.isna(out.iloc[2])


@pytest.mark.parametrize(
    ("values", "unit"),
    [([881250949, 891717742], "s"), (["881250949000", "891717742000"], "ms")],
)
def test_declared_epochs_read_as_utc(values, unit):
    out = parse_timestamps(pd.Series(values), TimestampRule(epoch=unit))
    assert out.tolist() == [
        pd.Timestamp("1997-12-04 15:55:49"),
        pd.Timestamp("1998-04-04 19:22:22"),
    ]


@pytest.mark.parametrize(
    ("values", "hint"),
    [
        ([881250949, 891717742], "epoch: s"),
        (["1700000000000", "1700000001000"], "epoch: ms"),
        (["19970101", "19970102"], '"%Y%m%d"'),
    ],
)
def test_numbers_without_a_declared_rule_are_refused_with_the_setting(values, hint):
    with pytest.raises(KizunaInputError, match="not ISO 8601") as err:
        parse_timestamps(pd.Series(values), column="ts")
    assert hint in str(err.value) and "ts" in str(err.value)
    assert str(values[0]) in str(err.value)


@pytest.mark.parametrize("values", [[40514.48264, 40515.1], ["40514", "40600"]])
def test_excel_serial_dates_are_named_not_taken_for_unix_seconds(values):
    with pytest.raises(KizunaInputError, match="Excel's serial dates") as err:
        parse_timestamps(pd.Series(values), column="InvoiceDate")
    assert "epoch" not in str(err.value) and "InvoiceDate" in str(err.value)


def test_numbers_that_no_unit_fits_get_no_unit():
    with pytest.raises(KizunaInputError, match="no Unix unit puts them between 1990 and 2100"):
        parse_timestamps(pd.Series([3.75, 1.25]), column="ts")


def test_day_first_is_read_from_the_data_when_it_shows():
    out = parse_timestamps(pd.Series(["05/02/2024 10:00", "25/12/2024 08:30"]))
    assert out.tolist() == [pd.Timestamp("2024-02-05 10:00"), pd.Timestamp("2024-12-25 08:30")]


def test_month_first_is_read_from_the_data_when_it_shows():
    out = parse_timestamps(pd.Series(["05/02/2024", "12/25/2024"]))
    assert out.tolist() == [pd.Timestamp("2024-05-02"), pd.Timestamp("2024-12-25")]


def test_ambiguous_day_month_fails_with_examples_and_the_setting():
    with pytest.raises(KizunaInputError) as err:
        parse_timestamps(pd.Series(["05/02/2024", "03/04/2024"]), column="OrderDate")
    text = str(err.value)
    assert "05/02/2024" in text and "dayfirst: true" in text and "OrderDate" in text


def test_mixed_day_month_orders_fail():
    with pytest.raises(KizunaInputError, match="both orders"):
        parse_timestamps(pd.Series(["25/02/2024", "02/25/2024"]))


def test_declared_dayfirst_settles_ambiguity_and_contradicting_data_fails():
    out = parse_timestamps(pd.Series(["05/02/2024", "03/04/2024"]), TimestampRule(dayfirst=True))
    assert out.tolist() == [pd.Timestamp("2024-02-05"), pd.Timestamp("2024-04-03")]
    with pytest.raises(KizunaInputError, match="month above 12"):
        parse_timestamps(pd.Series(["05/13/2024"]), TimestampRule(dayfirst=True))


def test_explicit_format_and_unparseable_values():
    out = parse_timestamps(pd.Series(["02.05.2024 10:00", "junk"]), TimestampRule("%d.%m.%Y %H:%M"))
    assert out.iloc[0] == pd.Timestamp("2024-05-02 10:00") and pd.isna(out.iloc[1])


def test_events_use_the_same_rule_and_refuse_a_bare_number():
    assert parse_timestamp_value("2024-05-02T10:00:00Z") == pd.Timestamp("2024-05-02 10:00")
    with pytest.raises(ValueError, match="epoch: s"):
        parse_timestamp_value(881250949)


def test_rules_describe_themselves_in_the_users_words():
    assert TimestampRule().describe() == "ISO 8601 text"
    assert TimestampRule(dayfirst=True).describe() == "day first (31/12/2024)"
    assert TimestampRule(dayfirst=False).describe() == "month first (12/31/2024)"
    assert TimestampRule(epoch="s").describe() == "Unix epoch seconds"


def test_utc_now_ignores_the_machines_time_zone(monkeypatch):
    import time
    from datetime import UTC, datetime

    from kizuna.features.timestamps import utc_now

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert pd.Timestamp.now() - utc_now() > pd.Timedelta(hours=8)  # the local clock is ahead
        gap = utc_now() - pd.Timestamp(datetime.now(UTC)).tz_localize(None)
        assert abs(gap) < pd.Timedelta(seconds=5)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_instants_outside_the_nanosecond_range_are_unreadable_not_an_overflow():
    text = pd.Series(["2024-01-01T00:00:00", "9999-12-31T00:00:00", "0001-01-01"])
    assert parse_timestamps(text).isna().tolist() == [False, True, True]
    stored = pd.Series(pd.to_datetime(["2024-01-01", "9999-12-31"]).astype("datetime64[us]"))
    assert parse_timestamps(stored).isna().tolist() == [False, True]  # a Parquet column
    # beside a value with nanoseconds (which makes the column nanosecond), a year-2300
    # value, read by the non-ISO path, is NaT too (it was an OutOfBoundsDatetime)
    mixed = pd.Series(["2300-01-01 00:00:00", "2024-09-30T23:59:59.123456789", "31/12/2300"])
    got = parse_timestamps(mixed, TimestampRule(dayfirst=True))
    assert got.isna().tolist() == [True, False, True]
    assert got.iloc[1] == pd.Timestamp("2024-09-30 23:59:59.123456789")
