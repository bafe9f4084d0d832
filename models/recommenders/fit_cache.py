"""Fits shared between identical models on identical data, within one training run.

A training run fits the same component several times on one matrix: the
blend-tuning probe, the tuned hybrid and the baseline of the same name each
fit a BM25 item-kNN and an ALS on the validation split, and the hybrid's EASE
twice. Every fit is deterministic (fixed seeds, one thread), so inside
:func:`shared_fits` a fit whose model class, parameters and inputs equal an
earlier one's takes that fit's learned attributes instead of fitting again:
the same arrays, so the same results. Outside it nothing is kept.

Thread-safe: a second thread asking for a fit under way waits for it (the
context is per thread: pass it on with ``contextvars.copy_context().run``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import scipy.sparse as sp

_ACTIVE: ContextVar[FitCache | None] = ContextVar("kizuna_fit_cache", default=None)


class FitCache:
    """Learned attributes of finished (or running) fits, by key.

    Attributes
    ----------
    hits, misses
        Fits taken from the cache, and fits run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fits: dict[tuple[Any, ...], Future[dict[str, Any]]] = {}
        self.hits = 0
        self.misses = 0

    def learned(self, key: tuple[Any, ...], fit: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The learned attributes for ``key``: an earlier fit's, else ``fit()``'s.

        Parameters
        ----------
        key
            What identifies the fit: the model's parameters and input digests.
        fit
            Fits and returns the learned attributes, called on a miss.

        Returns
        -------
        dict
            Attribute name -> learned value.
        """
        with self._lock:
            future = self._fits.get(key)
            owner = future is None
            if owner:
                future = self._fits[key] = Future()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            return future.result()
        try:
            state = fit()
        except BaseException as exc:
            with self._lock:
                del self._fits[key]  # a later call fits again (and fails loudly again)
            future.set_exception(exc)
            raise
        future.set_result(state)
        return state


@contextmanager
def shared_fits() -> Iterator[FitCache]:
    """Share fits inside the block (the enclosing block's cache when nested).

    Yields
    ------
    FitCache
        The cache the fits in the block share.
    """
    active = _ACTIVE.get()
    if active is not None:
        yield active
        return
    cache = FitCache()
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def active_cache() -> FitCache | None:
    """The cache of the enclosing :func:`shared_fits` block, if any.

    Returns
    -------
    FitCache or None
    """
    return _ACTIVE.get()


def digest(value: Any) -> str:
    """A content hash of a sparse matrix, an array or ``None``.

    Parameters
    ----------
    value
        A sparse matrix, an array or None.

    Returns
    -------
    str
        A hex digest.
    """
    h = hashlib.blake2b(digest_size=16)
    if value is None:
        h.update(b"none")
    elif sp.issparse(value):
        m = sp.csr_matrix(value)
        h.update(repr((m.shape, m.dtype.str)).encode())
        for part in (m.indptr, m.indices, m.data):
            h.update(np.ascontiguousarray(part).tobytes())
    else:
        arr = np.asarray(value)
        if arr.dtype == object or arr.dtype.kind in "OUST":
            arr = np.asarray([repr(v) for v in arr.ravel()], dtype=str)
        h.update(repr((arr.shape, arr.dtype.str)).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()
