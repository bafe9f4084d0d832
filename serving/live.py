"""The served model set and snapshot, swapped atomically by reloads, fed by purchase events.

A model source is a folder (``training.artifacts.save_champions`` plus
``snapshot/``) or ``registry``: then the experiment's ``@alias`` models and
snapshot are copied once into ``$KIZUNA_DATA_DIR/registry-cache`` and read
from there by the same folder loader. The service reads nothing else: no raw
order log. Start and ``/reload`` apply the stored events the snapshot does
not include (``seq > manifest.last_event_seq``), each exactly once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.models.bundles import MODEL_KINDS, ChampionModels
from kizuna.serving import model_store
from kizuna.serving.customer_state import CustomerState
from kizuna.serving.model_sources import load_models as load_models  # re-exported
from kizuna.serving.model_sources import model_folder as model_folder
from kizuna.serving.model_sources import prune_cache as prune_cache
from kizuna.serving.model_sources import source_versions
from kizuna.serving.snapshot import load_snapshot
from kizuna.serving.sql_driver import missing_driver
from kizuna.serving.stored_apply import apply_stored_events as apply_stored_events


@dataclass
class Served:
    """One model set with the customer state read for it: what a request reads.

    A request takes the current ``Served`` once and uses it throughout, so a
    reload that swaps in a new one never mixes two model versions in one answer.
    """

    models: ChampionModels
    state: CustomerState
    loaded_at: pd.Timestamp
    folder: Path | None = None

    @property
    def versions(self) -> dict[str, int | str | None]:
        """Registry version per model kind; None for a kind the set lacks."""
        return {
            kind: (
                self.models.versions.get(kind) if getattr(self.models, kind) is not None else None
            )
            for kind in MODEL_KINDS
        }

    @property
    def missing_kinds(self) -> list[str]:
        return self.models.missing_kinds()


def prepare_models(models: ChampionModels) -> None:
    """Serving settings on loaded estimators: one LightGBM thread per prediction.

    Parameters
    ----------
    models
        The loaded models, changed in place.
    """
    for kind in ("churn", "ltv"):
        bundle = getattr(models, kind)
        if bundle is not None and hasattr(bundle.model, "num_threads"):
            bundle.model.num_threads = 1


def load_served(
    source: str,
    *,
    alias: str = "champion",
    store: Any = None,
    live: bool = True,
    experiment: str | None = None,
) -> Served:
    """Load the model set and its customer snapshot, then apply the events it lacks.

    Parameters
    ----------
    source, alias, experiment
        See :func:`model_folder`.
    store
        A :class:`serving.event_store.EventStore`; its lines after the
        snapshot's ``last_event_seq`` are applied.
    live
        False for batch scoring: no booster matrices (less memory).

    Returns
    -------
    Served
    """
    folder = model_folder(source, alias=alias, experiment=experiment)
    models = model_store.load_champions_from_folder(folder)
    prepare_models(models)
    state = load_snapshot(folder / model_store.SNAPSHOT_DIR, models, live=live)
    served = Served(models=models, state=state, loaded_at=pd.Timestamp.now(tz="UTC"), folder=folder)
    if store is not None:
        apply_stored_events(served, store)
    return served


def _moves(old: dict[str, Any], new: Served) -> str:
    """What a reload changed, the snapshot's version too (``kizuna snapshot`` moves only it)."""
    now = dict(new.models.versions)
    moved = [
        f"{k} v{old.get(k)} → v{now.get(k)}"
        for k in sorted({*old, *now})
        if old.get(k) != now.get(k)
    ]
    return ", ".join(moved) if moved else "versions unchanged"


def _settle_memory() -> None:
    """Collect the old snapshot, then exempt the new one from future GC passes.

    A snapshot is many long-lived Python objects; a full garbage collection
    that walks them all stalls a request. ``gc.freeze`` moves them out of
    the collector's sight.
    """
    import gc

    gc.collect()
    gc.freeze()


@dataclass
class ReloadOutcome:
    reloaded: bool
    message: str
    versions: dict[str, Any]
    previous_versions: dict[str, Any]
    error: str | None = None
    busy: bool = False  # refused because another reload was running


class Live:
    """The served snapshot, swapped atomically by reloads, fed by purchase events.

    Reads never lock: ``current`` is one attribute read. Event application and
    the final step of a reload (catching up on events stored while the new
    state was read, then the swap) share one lock, so no event is lost or
    applied twice between two snapshots.
    """

    def __init__(
        self,
        source: str,
        *,
        alias: str = "champion",
        store: Any = None,
        experiment: str | None = None,
    ) -> None:
        self.source = source
        self.alias = alias
        self.store = store
        self.experiment = experiment
        self.served: Served | None = None
        self.last_error: str | None = None
        self._apply_lock = threading.Lock()
        self._reload_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.not_ready_reason() is None

    @property
    def degraded(self) -> dict[str, str]:
        """Model kinds of the served set that failed to load or have no version at the alias
        -> cause (their endpoints 503; the other kinds serve)."""
        served = self.served
        if served is None:
            return {}
        missing = {kind: self._missing_cause(kind) for kind in served.missing_kinds}
        return {**served.models.broken, **missing}

    def _missing_cause(self, kind: str) -> str:
        named = f" --experiment {self.experiment}" if self.experiment else ""
        return (
            f"the experiment trained a {kind} model but no version of it is @{self.alias} "
            f"(one that did not beat its baseline stays @challenger; `kizuna promote {kind} "
            f"VERSION{named}` serves it anyway)"
        )

    def readiness(self) -> tuple[bool, str | None, dict[str, str]]:
        """(ready, why not, degraded kinds): what ``/readyz`` reports.

        Returns
        -------
        ready : bool
        reason : str or None
            Why not ready.
        degraded : dict of str -> str
            Model kind -> why it is not served.
        """
        reason = self.not_ready_reason()
        return reason is None, reason, self.degraded

    def not_ready_reason(self) -> str | None:
        """Why the service is not ready, or None when it is.

        Returns
        -------
        str or None
        """
        if self.served is None:
            detail = f": {self.last_error}" if self.last_error else ""
            return f"models are not loaded yet{detail}"
        models = self.served.models
        trained = [k for k in models.kinds if k in MODEL_KINDS]
        degraded = self.degraded
        # Not ready only with nothing to answer with: one usable kind serves.
        if trained and all(k in degraded for k in trained):
            return (
                f"the experiment trained {', '.join(models.kinds)} but no model of it is "
                f"available (@{self.alias})"
            )
        return None

    def upstream_changed(self) -> bool:
        """Whether the source now names other versions than the ones served (for polling).

        Returns
        -------
        bool
        """
        served = self.served
        serving = dict(served.models.versions) if served else {}
        return source_versions(self.source, self.alias, self.experiment) != serving

    def current(self) -> Served | None:
        """The snapshot to answer from, after folding in events other processes stored.

        Returns
        -------
        Served or None
        """
        served = self.served
        if served is not None and self.needs_catch_up():
            with self._apply_lock:
                self._catch_up(served)
        return served

    def needs_catch_up(self) -> bool:
        """Whether the store holds lines the served snapshot may lack (a cheap check).

        Returns
        -------
        bool
        """
        return self.store is not None and self.store.changed()

    def load(self) -> ReloadOutcome:
        """Read a new snapshot and swap it in; on failure keep serving the old one.

        Returns
        -------
        ReloadOutcome
        """
        previous = self.served.versions if self.served is not None else {}
        old_set = dict(self.served.models.versions) if self.served is not None else None
        if not self._reload_lock.acquire(blocking=False):
            return ReloadOutcome(
                False,
                "a reload is already running; try again shortly",
                previous,
                previous,
                busy=True,
            )
        try:
            kept = "kept serving the previous models" if self.served else "no models loaded"
            try:
                new = load_served(
                    self.source, alias=self.alias, store=self.store, experiment=self.experiment
                )
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old models serving
                missing = missing_driver(exc)  # a postgresql:// registry without psycopg
                self.last_error = str(missing) if missing else f"{type(exc).__name__}: {exc}"
                return ReloadOutcome(
                    False, f"reload failed; {kept}", previous, previous, error=self.last_error
                )
            broken = new.models.broken
            if broken and self.served is not None:
                # A partly broken set never replaces a working one; at start-up it
                # serves what loaded (the broken kinds' endpoints answer 503).
                self.last_error = "; ".join(broken.values())
                return ReloadOutcome(
                    False, f"reload failed; {kept}", previous, previous, error=self.last_error
                )
            with self._apply_lock:
                self._catch_up(new)
                self.served = new
            _settle_memory()
            self.last_error = "; ".join(broken.values()) or None
            text = "loaded" if old_set is None else f"reloaded ({_moves(old_set, new)})"
            return ReloadOutcome(True, text, new.versions, previous)
        finally:
            self._reload_lock.release()

    def ingest(self, lines: pd.DataFrame) -> tuple[Any, int]:
        """Store validated event lines durably, then fold every new stored line in.

        Parameters
        ----------
        lines
            Validated event lines, shape (n, k).

        Returns
        -------
        (AppendResult, number of customers updated)
        """
        result = self.store.append(lines)
        return result, self.catch_up()

    def catch_up(self) -> int:
        """Fold every stored line the served snapshot has not seen; return customers updated.

        Returns
        -------
        int
            Customers updated.
        """
        with self._apply_lock:
            return self._catch_up(self.served) if self.served is not None else 0

    def _catch_up(self, served: Served) -> int:
        if self.store is None:
            return 0
        return apply_stored_events(served, self.store)
