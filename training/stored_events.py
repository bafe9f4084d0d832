"""Which event store a command reads: the service's store of the same experiment.

The service of an experiment appends ``/events`` purchases to that
experiment's own store (:meth:`serving.config.Settings.for_experiment`);
training, snapshots and reports of the experiment read the same file, and a
transactions file read outside any experiment reads none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from kizuna.training.config import DataConfig
from kizuna.training.progress import err_console


def event_store_path(data: DataConfig, experiment: str | None) -> Path | None:
    """Where the service of ``experiment`` appends purchase events, as the service resolves it.

    ``data.events``, else ``$KIZUNA_EVENT_STORE``, else the experiment's own
    store in the data folder (``events/<experiment>.sqlite``); None for a file
    read outside an experiment, whose rows are taken as they are. Warns when
    only a store of an older kizuna (one file shared by every experiment, no
    longer read) is there (:func:`warn_legacy_store`).

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    pathlib.Path or None
    """
    from kizuna.serving.config import Settings

    store = _store_path(data, experiment)
    if store is not None and data.events is None:
        warn_legacy_store(Settings.from_env().data_dir, store)
    return store


def _store_path(data: DataConfig, experiment: str | None) -> Path | None:
    from kizuna.serving.config import Settings

    if data.events is not None:
        return Path(data.events)
    if experiment is None:
        return None
    return Settings.from_env().for_experiment(experiment).event_store


def served_event_store(experiment: str, event_store: Path | None = None) -> Any:
    """The service's event store of ``experiment`` (or ``event_store``), opened; None when absent.

    What a command that loads the served models applies on top of their
    snapshot (``serving.live.load_served(store=...)``), so its customers are
    the service's: ``kizuna score``, ``kizuna score audience``, ``kizuna report``.

    Parameters
    ----------
    experiment
        The experiment's name.
    event_store
        The store's path, or None for the experiment's own.

    Returns
    -------
    EventStore or None
    """
    from kizuna.serving.config import Settings
    from kizuna.serving.event_store import EventStore

    settings = Settings.from_env()
    path = event_store or settings.for_experiment(experiment).event_store
    if event_store is None:
        warn_legacy_store(settings.data_dir, path)
    return EventStore(path) if Path(path).exists() else None


def stored_events_summary(data: DataConfig, experiment: str | None) -> dict[str, Any] | None:
    """Which stored events a read of ``data`` for ``experiment`` appends, for a report.

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    dict or None
        ``store`` (the file), ``lines`` (how many it holds, all appended) and
        ``last_seq`` (the highest ``seq`` among them, 0 without any); None when
        no store applies (a file read outside an experiment).
    """
    from kizuna.serving.event_rows import count_events

    store = _store_path(data, experiment)
    if store is None:
        return None
    lines, last = count_events(store)
    return {"store": str(store), "lines": lines, "last_seq": last}


def warn_legacy_store(data_dir: Path, store: Path, *, kind: str = "event store") -> None:
    """Say on stderr (even with ``--quiet``: a warning, not progress) that an older kizuna's
    shared store of this ``kind`` (``event store`` or ``contact log``) is no longer read,
    when only that one is there.

    Parameters
    ----------
    data_dir
        The data folder.
    store
        The store this run reads.
    kind
        ``event store`` or ``contact log``.
    """
    note = legacy_store_note(data_dir, store, kind=kind)
    if note:
        err_console.print(f"warning: {escape(note)}", highlight=False, soft_wrap=True)


def legacy_store_note(data_dir: Path, store: Path, *, kind: str = "event store") -> str | None:
    """A line for a user whose events (or contacts) sit in the shared store of an older
    kizuna, else None.

    Parameters
    ----------
    data_dir
        The data folder.
    store
        The store this run reads.
    kind
        ``event store`` or ``contact log``.

    Returns
    -------
    str or None
    """
    from kizuna.serving.config import LEGACY_STORES

    name = LEGACY_STORES[0] if kind == "event store" else LEGACY_STORES[1]
    legacy = Path(data_dir) / name
    if Path(store).exists() or not legacy.exists():
        return None
    return (
        f"{legacy} is the {kind} of an older kizuna, shared by every experiment, and is "
        f"no longer read: it is kept per experiment, here in {store}. Move the file there "
        "if it belongs to this experiment's shop"
    )
