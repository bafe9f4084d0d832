"""The CSV contact log indexed by customer: same rows as reading the file, O(customer) per read."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import anyio
import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.serving import contact_index
from kizuna.serving.contact_index import ContactLog, CsvContactIndex
from kizuna.serving.contact_store import append_contacts, read_contact_log
from tests.serving.contact_data import LOG, check_small_log, contacts, same_as_reading_the_file

T0 = pd.Timestamp("2025-03-01 09:00")


def test_a_customers_contacts_in_file_order_since_a_time(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    append_contacts(path, LOG)
    index = CsvContactIndex(path)
    got = index.contacts("A")
    assert got["offer_id"].tolist() == ["winback", "cross_sell", "upsell"]
    assert got["contacted_at"].tolist() == [
        T0, pd.Timestamp("2025-03-05 12:00"), pd.Timestamp("2025-03-09 18:15")
    ]  # fmt: skip
    assert got["channel"].tolist() == ["email", "app", "email"]
    assert index.n_contacts == 5 and index.n_customers == 3
    check_small_log(index, path)


def test_lines_written_by_the_index_or_by_another_writer_are_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    index = CsvContactIndex(path)
    assert len(index.contacts("A")) == 0  # no file yet: an empty log, like read_contact_log
    pd.testing.assert_frame_equal(index.contacts("A"), read_contact_log(path, customer="A"))
    assert index.append(LOG.iloc[:2]) == 2
    append_contacts(path, LOG.iloc[2:4])  # another process, e.g. `kizuna score offers`
    assert index.append(LOG.iloc[4:]) == 1
    assert index.contacts("A")["offer_id"].tolist() == ["winback", "cross_sell", "upsell"]
    assert index.n_contacts == 5
    assert path.read_text().count("customer_id") == 1  # one header
    same_as_reading_the_file(index, path, "ABCZ")


def test_a_read_parses_only_what_was_appended_since(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "contacts.csv"
    append_contacts(path, LOG)
    index = CsvContactIndex(path)
    index.refresh()
    parsed: list[int] = []
    real = contact_index.parse_csv

    def counting(source, where):
        parsed.append(len(source.getvalue()) if isinstance(source, io.BytesIO) else -1)
        return real(source, where)

    monkeypatch.setattr(contact_index, "parse_csv", counting)
    assert len(index.contacts("A")) == 3
    assert parsed == []  # nothing new: no parse at all
    append_contacts(path, LOG.iloc[:1])
    assert len(index.contacts("A")) == 4
    header = path.read_bytes().split(b"\n")[0] + b"\n"
    line = b"A,winback,2025-03-01T09:00:00.000000,email,\n"
    assert parsed == [len(header) + len(line)]  # the header and the one new line


def test_a_replaced_or_truncated_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    append_contacts(path, LOG)
    index = CsvContactIndex(path)
    assert len(index.contacts("A")) == 3
    other = tmp_path / "rotated.csv"
    append_contacts(other, LOG.iloc[[1]])
    other.replace(path)  # a new inode
    assert len(index.contacts("A")) == 0 and len(index.contacts("B")) == 1
    path.write_text(path.read_text().splitlines()[0] + "\n")  # same inode, shorter
    assert len(index.contacts("B")) == 0
    path.unlink()
    assert len(index.contacts("B")) == 0
    same_as_reading_the_file(index, path, "AB")


def test_an_unterminated_line_waits_and_a_hand_made_one_is_not_glued(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "customer_id,offer_id,contacted_at,channel,campaign_id\n"
        "A,winback,2025-03-01T09:00:00,email,\n"
        "B,winback,2025-03-02T10:00:00,email,"  # no newline: being written, or edited by hand
    )
    index = CsvContactIndex(path)
    assert len(index.contacts("B")) == 0  # not a whole line yet
    append_contacts(path, LOG.iloc[[3]])  # ends B's line first, then appends C's
    assert index.contacts("B")["offer_id"].tolist() == ["winback"]
    assert index.contacts("C")["offer_id"].tolist() == ["winback"]
    assert len(read_contact_log(path)) == 3
    same_as_reading_the_file(index, path, "ABC")


def test_a_broken_log_fails_like_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("customer_id,offer_id,contacted_at\nA,winback,not a time\n")
    with pytest.raises(KizunaInputError, match="unreadable times"):
        read_contact_log(path, customer="A")
    with pytest.raises(KizunaInputError, match="unreadable times"):
        CsvContactIndex(path).contacts("A")
    path.write_text("customer,offer_id,contacted_at\nA,winback,2025-03-01\n")
    with pytest.raises(KizunaInputError, match="lacks columns"):
        CsvContactIndex(path).contacts("A")
    with pytest.raises(KizunaInputError, match="use a .csv file or an SQLite file"):
        ContactLog(tmp_path / "contacts.txt").read("A")


def test_concurrent_writers_never_interleave_or_repeat_the_header(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    # two indexes on one file stand for two processes; each thread writes 25 contacts
    indexes = [CsvContactIndex(path), CsvContactIndex(path)]
    per_thread, threads = 25, []

    def write(k: int) -> None:
        for i in range(per_thread):
            row = contacts((f"C{k}", f"offer{i}", f"2025-03-{1 + i % 28:02d}", "email", f"k{k}"))
            indexes[k % 2].append(row)
            assert len(indexes[(k + 1) % 2].contacts(f"C{k}")) >= i  # reads meanwhile

    for k in range(6):
        threads.append(threading.Thread(target=write, args=(k,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = path.read_text()
    assert text.count("customer_id") == 1
    assert len(text.splitlines()) == 1 + 6 * per_thread
    for index in indexes:
        for k in range(6):
            got = index.contacts(f"C{k}")
            assert got["offer_id"].tolist() == [f"offer{i}" for i in range(per_thread)]
            assert (got["campaign_id"] == f"k{k}").all()
    same_as_reading_the_file(indexes[0], path, [f"C{k}" for k in range(6)])


def test_a_large_log_is_chained_per_customer(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame({
        "customer_id": rng.integers(0, 3_000, n).astype(str),
        "offer_id": rng.choice(["winback", "cross_sell", "upsell", "no_offer"], n),
        "contacted_at": T0 + pd.to_timedelta(rng.integers(0, 90 * 86_400, n), unit="s"),
        "channel": rng.choice(np.array(["email", "app", None], dtype=object), n),
        "campaign_id": None,
    })  # fmt: skip
    path = tmp_path / "contacts.csv"
    append_contacts(path, frame)
    index = CsvContactIndex(path)
    assert index.n_contacts == 0  # read on first use
    index.refresh()
    assert index.n_contacts == n
    same_as_reading_the_file(index, path, ["0", "17", "2999", "3000"])


def test_offers_read_and_record_through_a_csv_log(live, tmp_path: Path) -> None:
    """/next_best_offer's desk on a CSV log: a recorded contact blocks the next offer."""
    from kizuna.serving.config import Settings
    from kizuna.serving.offer_answers import OfferDesk
    from kizuna.serving.schemas import NextBestOfferRequest

    path = tmp_path / "contacts.csv"
    root = Path(__file__).resolve().parents[2]
    settings = Settings.from_env(
        {
            "KIZUNA_CONTACT_LOG": str(path),
            "KIZUNA_OFFERS": str(root / "experiments" / "offers_demo.yaml"),
        }
    )
    desk, served = OfferDesk(settings), live.current()

    def ask(cid: str, **extra) -> object:
        request = NextBestOfferRequest(customer_id=cid, channel="email", **extra)
        return anyio.run(desk.decide, served, live, request)

    desk.contacts.warm()  # no file yet: nothing to read
    for cid in served.state.features.index.astype(str)[:60]:
        first = ask(cid, record=True)
        if first.recorded:
            break
    else:
        pytest.skip("no customer of the test shop is eligible for an offer")
    logged = read_contact_log(path)
    assert logged["customer_id"].tolist() == [cid]
    assert logged["offer_id"].tolist() == [first.decisions[0].offer_id]
    # offers_demo.yaml asks for a week between two contacts: no offer now, and nothing written
    again = ask(cid, record=True)
    assert [d.offer_id for d in again.decisions] == ["no_offer"]
    assert again.recorded is False and len(read_contact_log(path)) == 1
