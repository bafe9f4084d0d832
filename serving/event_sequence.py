"""The event store's sequence numbers: the last one given, renumbering, purging below one.

Every stored line gets a ``seq`` (an AUTOINCREMENT key, never reused); a
snapshot records the last one it includes and the service applies only later
lines. :class:`SequenceNumbers` is mixed into
:class:`serving.event_store.EventStore` and works on its connection and lock.
"""

from __future__ import annotations

from kizuna.serving.event_rows import SEQ


class SequenceNumbers:
    """What :class:`serving.event_store.EventStore` does with its lines' ``seq``.

    A mixin: it uses the store's ``_conn`` (the SQLite connection), ``_lock``
    (held for each call) and ``_version`` (the file's data version).
    """

    def purge(self, upto: int) -> int:
        """Delete every line with ``seq <= upto``.

        Sequence numbers are never reused (AUTOINCREMENT), so a snapshot's
        ``last_event_seq`` keeps its meaning after a purge.

        Parameters
        ----------
        upto
            The last sequence number to delete.

        Returns
        -------
        int
            How many lines were deleted.
        """
        with self._lock:
            cur = self._conn.execute(f"DELETE FROM events WHERE {SEQ} <= ?", (int(upto),))
            self._data_version = self._version()
            return int(cur.rowcount)

    def last_seq(self) -> int:
        """The highest ``seq`` ever given (0 before the first line), also after a purge.

        SQLite keeps it for an AUTOINCREMENT key in ``sqlite_sequence``; the
        next stored line gets the number after it.

        Returns
        -------
        int
        """
        with self._lock:
            return self._high_water()

    def number_after(self, seq: int) -> int | None:
        """Make the next stored line's ``seq`` greater than ``seq``.

        A snapshot built from another store (a Bento or an exported model folder
        started on a new data folder, a moved file) includes events up to its
        ``last_event_seq``; a store numbering below it would give new lines numbers
        the service takes as already applied.

        Parameters
        ----------
        seq
            The last sequence number the store must not give again.

        Returns
        -------
        int or None
            The old last ``seq``; None when nothing changed (it was at least ``seq``).
        """
        with self._lock:
            old = self._high_water()
            if old >= seq:
                return None
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
                self._conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (int(seq),)
                )
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            return old

    def _high_water(self) -> int:
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return 0 if row is None else int(row[0])
