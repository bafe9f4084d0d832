"""The one module that tunes the serving process: thread pools, GIL, GC and server patches.

Everything process-wide that the service changes is here, applied from two
calls: :func:`patch_server` when the service module is imported by BentoML
(the patched classes are looked up when a worker builds its app, so it must
come first), and :func:`tune_worker` when the service starts in a worker.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from threadpoolctl import threadpool_limits

from kizuna.serving.connections import use_header_timeout
from kizuna.serving.middleware import bounded_metric_labels
from kizuna.serving.validation import use_validated_requests


def patch_server(apis: Mapping[str, Any], extra_paths: Iterable[str] = ()) -> None:
    """Bounded metric labels, a header timeout in uvicorn, bodies parsed once (idempotent).

    Parameters
    ----------
    apis
        Endpoint name -> BentoML API method (``KizunaService.apis``).
    extra_paths
        Other paths the service answers (mounted apps), for the metric labels.
    """
    bounded_metric_labels([*(f"/{name}" for name in apis), *extra_paths])
    use_header_timeout()
    use_validated_requests(apis)


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
