"""The served state, by its parts (kept as one import path for callers).

* :mod:`serving.catalogue`: the item side;
* :mod:`serving.customer_state`: customers, their model inputs, events;
* :mod:`serving.snapshot`: reading the customer snapshot;
* :mod:`serving.live`: the served set, reloads and event catch-up.
"""

from __future__ import annotations

from kizuna.serving.catalogue import TRENDING_DAYS, Catalogue, build_catalogue
from kizuna.serving.customer_state import REASON_CACHE_ROWS, CustomerState
from kizuna.serving.live import (
    Live,
    ReloadOutcome,
    Served,
    apply_stored_events,
    load_models,
    load_served,
    prepare_models,
    source_versions,
)
from kizuna.serving.model_inputs import input_matrix, refresh_user_factors, tabular_frame
from kizuna.serving.snapshot import load_snapshot
from kizuna.serving.weighting import fit_weigher

__all__ = [
    "REASON_CACHE_ROWS",
    "TRENDING_DAYS",
    "Catalogue",
    "CustomerState",
    "Live",
    "ReloadOutcome",
    "Served",
    "apply_stored_events",
    "build_catalogue",
    "input_matrix",
    "load_models",
    "load_served",
    "load_snapshot",
    "fit_weigher",
    "prepare_models",
    "refresh_user_factors",
    "source_versions",
    "tabular_frame",
]
