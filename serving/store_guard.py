"""The event store behind a guard: faults become a clear 503, never a crash or a 500.

A full disk, a read-only store file or a missing or unwritable folder makes
SQLite (or the file system) raise deep inside a request, or in the
constructor, which would stop the worker before it answers anything.
:class:`GuardedStore` opens the store lazily and turns every such error into
:class:`StoreUnavailable` carrying the cause in SQLite's words (``database or
disk is full``), remembered in :attr:`GuardedStore.fault` for ``/readyz``:

- ``append`` raises :class:`StoreUnavailable` (the service answers 503);
- ``read`` returns None (the models load and answer without stored events;
  the lines are folded in once the store is back);
- ``changed`` returns False, then True once after the store is back;
- :meth:`GuardedStore.check` re-opens the store and probes a write, at most
  once a second, and clears the fault when it succeeds: writes resume by
  themselves when the fault clears.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger("bentoml.kizuna")

#: Errors that mean the store cannot be used now (as opposed to a bug).
STORE_ERRORS = (sqlite3.Error, OSError)


class StoreUnavailable(RuntimeError):
    """The event store cannot be used now; ``cause`` says why (SQLite's or the OS's words)."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(f"event store unavailable: {cause}")


def cause_of(exc: BaseException) -> str:
    """The first cause in the chain: the error that started it, not a failed cleanup.

    Parameters
    ----------
    exc
        The error raised.

    Returns
    -------
    str
        The root cause's message (its type's name when it has none).
    """
    root = exc
    while root.__context__ is not None and isinstance(root.__context__, STORE_ERRORS):
        root = root.__context__
    if isinstance(root, OSError) and root.strerror:
        return f"{root.strerror}: {root.filename}" if root.filename else root.strerror
    return str(root) or type(root).__name__


class GuardedStore:
    """An event store opened lazily, whose faults are reported, not raised as anything else.

    Parameters
    ----------
    open_store
        Opens the store (e.g. ``lambda: EventStore(path)``); called again after a fault.
    path
        The store's file, for messages.
    retry_seconds
        Least time between two attempts to re-open a broken store.
    """

    def __init__(
        self, open_store: Callable[[], Any], path: str | Path, *, retry_seconds: float = 1.0
    ) -> None:
        self.path = Path(path)
        self.fault: str | None = None
        self._open = open_store
        self._retry_seconds = retry_seconds
        self._store: Any = None
        self._next_try = 0.0
        self._reopened = False
        self._lock = threading.Lock()

    # -- the store's interface -------------------------------------------------------------
    def append(self, lines: Any) -> Any:
        return self._call("append", lines)

    def read(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._call("read", *args, **kwargs)
        except StoreUnavailable:
            return None

    def changed(self) -> bool:
        try:
            changed = self._call("changed")
        except StoreUnavailable:
            return False
        if self._reopened:
            self._reopened = False
            return True
        return changed

    def last_seq(self) -> int:
        return self._call("last_seq")

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __getattr__(self, name: str) -> Any:
        # Any other method of the store (e.g. count, purge) is guarded the same way.
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)

    # -- faults ----------------------------------------------------------------------------
    def check(self) -> str | None:
        """Re-open and probe a write if the store is faulty (at most once a second).

        Returns
        -------
        str or None
            The fault's cause, or None when the store can be written.
        """
        if self.fault is None or time.monotonic() < self._next_try:
            return self.fault
        try:
            self._call("probe")
        except StoreUnavailable:
            pass
        return self.fault

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            store = self._opened()
        try:
            result = getattr(store, name)(*args, **kwargs)
        except STORE_ERRORS as exc:
            with self._lock:
                if self._store is store:  # the first to fail on this connection
                    self._failed(exc)
                # Else an earlier failure closed it under this call: report that cause,
                # not "Cannot operate on a closed database".
                fault = self.fault or cause_of(exc)
            raise StoreUnavailable(fault) from None
        with self._lock:
            if self.fault is not None and self._store is store:
                logger.warning("event store %s works again", self.path)
                self.fault = None
        return result

    def _opened(self) -> Any:
        if self._store is not None:
            return self._store
        if self.fault is not None and time.monotonic() < self._next_try:
            raise StoreUnavailable(self.fault)
        try:
            self._store = self._open()
        except STORE_ERRORS as exc:
            self._failed(exc)
            raise StoreUnavailable(self.fault or "unknown") from None
        self._reopened = self.fault is not None
        return self._store

    def _failed(self, exc: BaseException) -> None:
        cause = cause_of(exc)
        if cause != self.fault:
            logger.warning("event store %s unavailable: %s", self.path, cause)
        self.fault = cause
        self._next_try = time.monotonic() + self._retry_seconds
        # Drop the connection: after the fault clears a fresh one may write again (a
        # file opened read-only stays read-only on its old connection). It is closed on
        # a thread of its own: a request may hold it, waiting for SQLite's lock, and
        # neither this guard's lock nor a readiness check may wait with it.
        store, self._store = self._store, None
        if store is not None:
            threading.Thread(target=_close_quietly, args=(store,), daemon=True).start()


def _close_quietly(store: Any) -> None:
    try:
        store.close()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail too
        pass
