"""``kizuna snapshot``, ``kizuna export`` and ``kizuna events``: the served data, by hand."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from kizuna.features.errors import KizunaInputError
from kizuna.serving.redact import hide_passwords
from kizuna.training.cli_common import EventStoreOpt, JsonOpt, QuietOpt, console, emit_json
from kizuna.training.cli_data import EngineOpt, SparkMasterOpt
from kizuna.training.progress import err_console

EXPORT_FORMATS = ("csv", "parquet", "jsonl")


def snapshot(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment YAML, e.g. experiments/demo.yaml.")
    ],
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Rebuild the customer snapshot from the experiment's current data and stored events.

    No model is retrained: the snapshot is built for the experiment's current
    champions and registered as kizuna-<experiment>-snapshot@champion.
    With --engine spark the lines are read and the snapshot's parts computed on Spark.
    """
    from kizuna.training.config import load_experiment
    from kizuna.training.engines.settings import resolve_engine
    from kizuna.training.snapshot_job import rebuild_snapshot

    name, spark = resolve_engine(engine, experiment)
    summary = rebuild_snapshot(
        load_experiment(experiment), quiet=quiet, engine=name, spark=spark, master=spark_master
    )
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"snapshot of [bold]{summary['customers']:,}[/bold] customers, {summary['items']:,} items, "
        f"{summary['lines']:,} lines as of {summary['as_of']} (events up to seq "
        f"{summary['last_event_seq']}) → {summary['registered']}"
    )


def export(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Folder to write: new, empty or an earlier export (replaced once the new "
            "one is complete).",
        ),
    ],
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Experiment name (default: the only one).")
    ] = None,
    alias: Annotated[str, typer.Option("--alias", help="Registry alias to export.")] = "champion",
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Copy an experiment's champion models and snapshot out of the registry into a folder.

    The folder is a model source for `kizuna serve --models DIR` and what a Bento bakes in.
    It is fetched into a hidden folder beside --out and swapped in once complete: a failed
    export (an unknown experiment, a registry error) leaves an earlier one as it was.
    """
    from kizuna.serving.model_registry import fetch_from_registry
    from kizuna.serving.model_store import tracking_uri
    from kizuna.training.atomic_write import replacing
    from kizuna.training.tracking import setup_mlflow_uri

    check_export_target(out)
    setup_mlflow_uri()
    uri = hide_passwords(tracking_uri())
    summary = {"experiment": experiment, "out": str(out), "tracking_uri": uri}
    with replacing(out) as temp:
        _, summary["experiment"] = fetch_from_registry(experiment, temp, alias=alias)
    if as_json:
        emit_json(summary)
        return
    console.print(f"exported {summary['experiment']} (@{alias}) to {out}")


def check_export_target(out: Path) -> None:
    """Refuse an ``--out`` that export would replace wrongly: a file, or another folder.

    As the Spark outputs (:func:`training.engines.spark_outputs.check_spark_target`),
    a folder is replaced only if it is new, empty, or holds only what an export
    (or a training's model folder) writes, ``versions.json`` among it.

    Parameters
    ----------
    out
        The ``--out`` folder.

    Raises
    ------
    KizunaInputError
        ``out`` is a file, or a folder holding other files or no ``versions.json``.
    """
    from kizuna.serving import model_store as m

    if out.exists() and not out.is_dir():
        raise KizunaInputError(f"--out {out} is a file: export writes a folder there")
    entries = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if not entries:
        return
    known = {m.VERSIONS_FILE, m.KINDS_FILE, m.EXPERIMENT_FILE, m.SNAPSHOT_DIR, *m.REGISTERED_KINDS}
    others = sorted(entries - known)
    if others or m.VERSIONS_FILE not in entries:
        held = (
            f"holds files no export made (e.g. {others[:3]})" if others else "has no versions.json"
        )
        raise KizunaInputError(
            f"--out {out} is not an earlier kizuna export: it {held}. Export replaces the "
            "whole folder; name a new or empty one"
        )


events_app = typer.Typer(
    help="Stored purchase events: list, count, export, purge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CustomerOpt = Annotated[str | None, typer.Option("--customer", help="Only this customer.")]
AfterOpt = Annotated[int, typer.Option("--after", min=0, help="Only lines with seq > AFTER.")]
UptoOpt = Annotated[int | None, typer.Option("--upto", min=0, help="Only lines with seq <= UPTO.")]


StoreExperimentOpt = Annotated[
    str | None,
    typer.Option(
        "--experiment",
        help="Experiment whose event store to read (default: the only one registered).",
    ),
]


def _store(path: Path | None, experiment: str | None, quiet: bool):  # noqa: ANN202 - EventStore
    from kizuna.serving.config import Settings
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.model_registry import resolve_experiment

    if path is None:
        from kizuna.training.stored_events import warn_legacy_store

        settings = Settings.from_env()
        path = settings.event_store  # KIZUNA_EVENT_STORE names it: no experiment needed
        if path is None:
            path = settings.for_experiment(resolve_experiment(experiment)).event_store
            warn_legacy_store(settings.data_dir, path)
    if not Path(path).exists():
        # Nothing was ever posted to this experiment: an empty store, not an error.
        if not quiet:
            err_console.print(f"no event store at {path} yet: nothing stored", highlight=False)
        return EventStore(":memory:")
    return EventStore(path)


@events_app.command("list")
def events_list(
    customer: CustomerOpt = None,
    after: AfterOpt = 0,
    upto: UptoOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="Most lines shown.")] = 50,
    event_store: EventStoreOpt = None,
    experiment: StoreExperimentOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Show stored lines (oldest first)."""
    lines = (
        _store(event_store, experiment, quiet).read(after, upto=upto, customer=customer).head(limit)
    )
    if as_json:
        emit_json(lines.astype({"timestamp": str}).to_dict("records"))
        return
    console.print(lines.to_string(index=False) if len(lines) else "no stored lines")


@events_app.command("count")
def events_count(
    customer: CustomerOpt = None,
    after: AfterOpt = 0,
    upto: UptoOpt = None,
    event_store: EventStoreOpt = None,
    experiment: StoreExperimentOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Count stored lines."""
    store = _store(event_store, experiment, quiet)
    n = store.count(after, upto=upto, customer=customer)
    if as_json:
        emit_json({"count": n, "last_seq": store.last_seq()})
        return
    console.print(f"{n:,} stored lines (last seq {store.last_seq()})")


@events_app.command("export")
def events_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    format: Annotated[
        str, typer.Option("--format", help="csv, parquet or jsonl (default: from the suffix).")
    ] = "",
    customer: CustomerOpt = None,
    after: AfterOpt = 0,
    upto: UptoOpt = None,
    event_store: EventStoreOpt = None,
    experiment: StoreExperimentOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write stored lines (with their seq) to CSV, Parquet or JSON lines."""
    kind = format or {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}.get(out.suffix, "")
    if kind not in EXPORT_FORMATS:
        raise KizunaInputError(f"--format must be one of {EXPORT_FORMATS}, or use one as suffix")
    lines = _store(event_store, experiment, quiet).read(after, upto=upto, customer=customer)
    if kind == "csv":
        lines.to_csv(out, index=False)
    elif kind == "parquet":
        lines.to_parquet(out, index=False)
    else:
        lines.to_json(out, orient="records", lines=True, date_format="iso", date_unit="us")
    if as_json:
        emit_json({"out": str(out), "rows": len(lines)})
        return
    console.print(f"wrote {len(lines):,} lines to {out}")


@events_app.command("purge")
def events_purge(
    upto: Annotated[int, typer.Option("--upto", min=0, help="Delete lines with seq <= UPTO.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also purge lines no snapshot includes yet.")
    ] = False,
    event_store: EventStoreOpt = None,
    experiment: StoreExperimentOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Delete stored lines up to a seq, with confirmation: once the order export has them.

    Every snapshot and training reads the export plus the stored lines, so a purged
    line that the export lacks is gone from the next one. Lines after the champion
    snapshot's last included seq are in no snapshot yet: purging them needs --force.
    """
    store = _store(event_store, experiment, quiet)
    included = _snapshot_seq(event_store, experiment)
    if included is not None and upto > included and store.count(included, upto=upto):
        if not force:
            raise KizunaInputError(
                f"lines after seq {included} are in no snapshot yet (the champion snapshot "
                f"includes events up to seq {included}): purging them loses those purchases. "
                f"Run `kizuna snapshot` first, purge --upto {included}, or pass --force"
            )
    elif included is None and not quiet:
        err_console.print(
            "no champion snapshot known to check which lines it includes "
            "(name the experiment with --experiment)",
            highlight=False,
        )
    n = store.count(0, upto=upto)
    if not yes and not _can_ask(as_json):
        # No one to answer, and a prompt on stdout would break the JSON.
        raise KizunaInputError(
            f"purging deletes {n:,} stored lines with seq <= {upto}: confirm with --yes "
            "(a job without a terminal cannot be asked)"
        )
    if not yes and not typer.confirm(f"delete {n:,} stored lines with seq <= {upto}?"):
        raise typer.Exit(1)
    deleted = store.purge(upto)
    if as_json:
        emit_json({"deleted": deleted})
        return
    console.print(f"deleted {deleted:,} lines")


def _can_ask(as_json: bool) -> bool:
    """Whether a confirmation prompt has someone to answer it (a terminal, not --json)."""
    return not as_json and sys.stdin.isatty()


def _snapshot_seq(path: Path | None, experiment: str | None) -> int | None:
    """The last event seq the experiment's champion snapshot includes (None: none found)."""
    from kizuna.serving.model_registry import resolve_experiment
    from kizuna.serving.model_store import registered_name
    from kizuna.training import registration, tracking

    if (path is not None or os.environ.get("KIZUNA_EVENT_STORE")) and experiment is None:
        return None  # a store named by its path: whose snapshot is not known
    tracking.setup_mlflow_uri()
    name = resolve_experiment(experiment)
    version = registration.current_alias_version(registered_name(name, "snapshot"), "champion")
    if version is None or "last_event_seq" not in version.tags:
        return None
    return int(version.tags["last_event_seq"])
