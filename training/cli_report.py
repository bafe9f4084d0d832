"""``kizuna report``: the relationship report as one HTML file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from kizuna.features import schema as s
from kizuna.features.control_groups import CONTROL
from kizuna.features.timestamps import naive_utc
from kizuna.training.atomic_write import replacing
from kizuna.training.cli_common import (
    EventStoreOpt,
    JsonOpt,
    QuietOpt,
    console,
    emit_json,
    instant_option,
)
from kizuna.training.csv_safety import neutralise_formulas


def report(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment YAML whose data the report reads.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file to write (default: KIZUNA_REPORT, the page the service's /report "
            "serves: report.html in the data folder).",
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        instant_option(help="Earlier date for segment moves, ISO (default: one horizon back)."),
    ] = None,
    repeat_days: Annotated[
        int | None, typer.Option(min=1, help="Repeat-purchase window (default: the horizon).")
    ] = None,
    models: Annotated[
        str, typer.Option(help="`registry`, a model folder, or `none`.")
    ] = "registry",
    alias: Annotated[str, typer.Option(help="Registry alias of the models.")] = "champion",
    campaign: Annotated[
        Path | None, typer.Option(help="`evaluate-campaign --json` output or outcomes file.")
    ] = None,
    contact_log: Annotated[
        Path | None,
        typer.Option(help="Contact log (default: KIZUNA_CONTACT_LOG, else the experiment's)."),
    ] = None,
    recommendation_log: Annotated[
        Path | None, typer.Option(help="Recommendation log (default: KIZUNA_CONTACT_LOG's store).")
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the relationship report: KPIs, cohorts, segments, value at risk, model health,
    campaigns, attribution and contact fatigue, in one self-contained HTML file."""
    from kizuna.features.errors import KizunaInputError
    from kizuna.serving.config import Settings
    from kizuna.training.config import load_experiment
    from kizuna.training.report import ReportOptions, build_report

    if campaign is not None and not campaign.is_file():  # fail before minutes of work
        raise KizunaInputError(f"--campaign {campaign}: no such file")
    config = load_experiment(experiment)
    settings = Settings.from_env()
    out = out if out is not None else Path(settings.report)
    log = contact_log or settings.for_experiment(config.name).contact_log
    if contact_log is None and settings.contact_log is None:
        from kizuna.training.stored_events import warn_legacy_store

        warn_legacy_store(settings.data_dir, log, kind="contact log")
    options = ReportOptions(
        since=naive_utc(since) if since else None,
        repeat_days=repeat_days,
        models=None if models == "none" else models,
        alias=alias,
        campaign=campaign,
        contact_log=log,
        attribution_store=recommendation_log or log,
        offers=settings.offers,
    )
    page, summary = build_report(config, options, quiet=quiet)
    with replacing(out) as temp:  # the page the service serves: never half of it
        temp.write_text(page, encoding="utf-8")
    summary = {"out": str(out), "bytes": len(page.encode()), **summary}
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"wrote [bold]{escape(str(out))}[/bold]: {len(summary['sections'])} sections, {len(summary['plots'])} plots"
    )
    for note in summary["notes"]:
        console.print(f"  note: {escape(note)}", highlight=False)


def attribution(
    since: Annotated[
        datetime,
        instant_option(help="Answers shown at or after this date (ISO)."),
    ],
    window_days: Annotated[
        float, typer.Option(min=0, help="Days after an answer a purchase counts.")
    ] = 7.0,
    contact_log: Annotated[
        Path | None,
        typer.Option(
            help="Contact log whose store holds the recommendation log "
            "(default: KIZUNA_CONTACT_LOG, else the experiment's)."
        ),
    ] = None,
    event_store: Annotated[
        Path | None,
        typer.Option(
            help="Purchases for control-group comparisons "
            "(default: KIZUNA_EVENT_STORE, else the experiment's)."
        ),
    ] = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Interval level.")] = 0.95,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            help="Experiment whose logs to read (default: the only one registered).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Impressions, conversions, conversion rate and attributed revenue per placement, offer
    and model version; incremental effect against control groups where they exist."""
    from rich.table import Table

    from kizuna.serving.config import Settings
    from kizuna.training.attribution import attribution_report

    start = naive_utc(since)
    settings = Settings.from_env()
    if (contact_log or settings.contact_log) is None or (
        event_store or settings.event_store
    ) is None:
        from kizuna.serving.model_registry import resolve_experiment

        settings = settings.for_experiment(resolve_experiment(experiment))
    table = attribution_report(
        contact_log or settings.contact_log,
        since=start,
        window_days=window_days,
        events_path=event_store or settings.event_store,
        confidence=confidence,
    )
    if as_json:
        emit_json({"since": str(start), "window_days": window_days, "rows": _records(table)})
        return
    t = Table(title=f"Attribution since {start.date()} (purchases within {window_days:g} days)")
    for col in table.columns:
        t.add_column(
            col, justify="left" if col in ("placement", "offer_id", "model_version") else "right"
        )
    for row in table.itertuples(index=False):
        t.add_row(
            *["" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        )
    console.print(t)


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def score_audience(
    item: Annotated[str | None, typer.Option(help="The item to find buyers for.")] = None,
    category: Annotated[str | None, typer.Option(help="Or a category.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="A .csv or .parquet file.")] = Path(
        "audience.csv"
    ),
    n: Annotated[int, typer.Option(min=1, help="Audience size.")] = 1000,
    horizon_days: Annotated[
        int, typer.Option(min=1, max=365, help="Days ahead for P(order).")
    ] = 90,
    exclude_days: Annotated[
        int, typer.Option(min=0, help="Leave out who bought it in these last days.")
    ] = 30,
    campaign_id: Annotated[
        str | None,
        typer.Option(help="With --control-share: the control split, as `score offers` makes it."),
    ] = None,
    control_share: Annotated[
        float,
        typer.Option(min=0.0, help="Share in [0, 1) flagged `control` in the `group` column."),
    ] = 0.0,
    models: Annotated[str, typer.Option(help="`registry` or a model folder.")] = "registry",
    alias: Annotated[str, typer.Option(help="Registry alias.")] = "champion",
    experiment: Annotated[
        str | None, typer.Option(help="Registered experiment (default: the only one).")
    ] = None,
    event_store: EventStoreOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The customers most likely to buy an item or category soon, for the CRM."""
    from kizuna.features.errors import KizunaInputError
    from kizuna.models.audience import reasons
    from kizuna.serving.audience import AudienceError, audience_frame
    from kizuna.serving.live import load_served
    from kizuna.serving.model_registry import served_experiment
    from kizuna.training.progress import step
    from kizuna.training.stored_events import served_event_store

    if (item is None) == (category is None):
        raise KizunaInputError("give exactly one of --item and --category")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise KizunaInputError(f"--out must end in .csv or .parquet, got {out.name}")
    with step(f"loading models ({models}, {alias}) and customer state", quiet=quiet):
        # live: the state keeps the purchase lines, which say who bought the target recently;
        # the stored events too, as /audience applies them
        source = models if models == "registry" else str(Path(models).resolve())
        experiment = served_experiment(source, experiment)
        store = served_event_store(experiment, event_store)
        served = load_served(models, alias=alias, store=store, live=True, experiment=experiment)
    try:
        with step("scoring the audience", quiet=quiet):
            frame, excluded, _ = audience_frame(
                served, item_id=item, category=category, n=n,
                horizon_days=horizon_days, exclude_days=exclude_days,
                campaign_id=campaign_id, control_share=control_share,
            )  # fmt: skip
    except AudienceError as exc:
        option = "" if exc.loc is None else "--" + exc.loc.split(".")[-1].replace("_", "-") + " "
        raise KizunaInputError(option + exc.message) from None
    n_items = served.state.catalogue.n_items
    frame["reasons"] = [
        "; ".join(
            reasons(
                r,
                horizon_days=horizon_days,
                n_items=n_items,
                bought_before=bool(r["bought_before"]),
            )
        )
        for _, r in frame.iterrows()
    ]
    with replacing(out) as temp:
        if out.suffix.lower() == ".parquet":
            frame.to_parquet(temp, index=False)
        else:
            neutralise_formulas(frame).to_csv(temp, index=False)
    summary = {
        "out": str(out),
        "rows": len(frame),
        "excluded_recent_buyers": excluded,
        "control": int((frame[s.GROUP] == CONTROL).sum()) if s.GROUP in frame else 0,
        "model_versions": served.versions,
    }
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"wrote [bold]{len(frame):,}[/bold] customers to {out} ({excluded:,} recent buyers left out)"
    )
