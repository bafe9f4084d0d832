"""The one module that tunes the serving process: thread pools, GIL, GC and two server patches.

Everything process-wide that the service changes is here, applied from two
calls: :func:`patch_server` when the service module is imported by BentoML
(the patched classes are looked up when a worker builds its app, so it must
come first), and :func:`tune_worker` when the service starts in a worker.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable

from threadpoolctl import threadpool_limits

from kizuna.serving.connections import use_header_timeout
from kizuna.serving.middleware import bounded_metric_labels


def patch_server(api_paths: Iterable[str]) -> None:
    """Bounded metric labels for unknown paths, and a header timeout in uvicorn (idempotent)."""
    bounded_metric_labels(api_paths)
    use_header_timeout()


def tune_worker() -> None:
    """Thread pools, GIL switch interval and GC thresholds of a serving worker."""
    # BLAS thread pools fight the request threads for 2 cores; one thread each.
    threadpool_limits(1)
    # A reload computes in a thread for seconds; a shorter GIL switch interval
    # (default 5 ms) keeps the event loop answering meanwhile.
    sys.setswitchinterval(0.001)
    # Each request leaves objects alive for the request timeout (BentoML's timer);
    # with the default thresholds a full collection walks them every few seconds
    # and stalls every request in flight for tens of milliseconds. Snapshots are
    # frozen out of the collector's sight after each load (serving.live).
    gc.set_threshold(50_000, 20, 100)
