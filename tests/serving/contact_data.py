"""A small contact log for the contact-log tests, and the check that a reader equals reading the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.serving.contact_store import read_contact_log


def contacts(*rows: tuple[str, str, str, str | None, str | None]) -> pd.DataFrame:
    """Contact rows (customer, offer, time, channel, campaign)."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "offer_id", "contacted_at", "channel", "campaign_id"]
    )
    frame["contacted_at"] = pd.to_datetime(frame["contacted_at"], format="ISO8601")
    return frame


LOG = contacts(
    ("A", "winback", "2025-03-01 09:00", "email", None),
    ("B", "cross_sell", "2025-03-02 10:30", None, "spring"),
    ("A", "cross_sell", "2025-03-05 12:00", "app", "spring"),
    ("C", "winback", "2025-03-06 08:00", "email", None),
    ("A", "upsell", "2025-03-09 18:15", "email", "spring"),
)


def same_as_reading_the_file(reader: Any, path: Path, customers: str) -> None:
    """``reader.contacts`` (a CSV index or an SQLite reader) equals reading the log, per customer."""
    for customer in customers:
        for since in (None, "2025-03-05 12:00", "2025-03-05 12:00:00.000001", "2030-01-01"):
            pd.testing.assert_frame_equal(
                reader.contacts(customer, since=since),
                read_contact_log(path, since=since, customer=customer),
            )


def check_small_log(reader: Any, path: Path) -> None:
    """What any reader of :data:`LOG` must give: A's contacts in order, ``since`` inclusive,
    missing values kept, nothing for an unknown customer, the same rows as reading the file."""
    got = reader.contacts("A")
    assert got["offer_id"].tolist() == ["winback", "cross_sell", "upsell"]
    assert got["campaign_id"].isna().tolist() == [True, False, False]
    # `since` keeps contacts at or after it: the one at 12:00 itself is kept
    assert reader.contacts("A", since="2025-03-05 12:00")["offer_id"].tolist() == [
        "cross_sell", "upsell"
    ]  # fmt: skip
    assert reader.contacts("B")["channel"].isna().all()
    assert len(reader.contacts("nobody")) == 0
    same_as_reading_the_file(reader, path, "ABCZ")
