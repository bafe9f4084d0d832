"""``kizuna report``: one self-contained HTML page a marketer reads in a browser.

:func:`build_report` gathers the numbers (transactions → KPIs, cohorts and
segments; the champion models → value at risk; MLflow → model health; campaign
results, attribution and the contact log when present) and returns the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features.timestamps import utc_now
from kizuna.training.config import ExperimentConfig
from kizuna.training.progress import step
from kizuna.training.report import sections as sec
from kizuna.training.report.html import render

__all__ = ["ReportOptions", "build_report"]


@dataclass(frozen=True)
class ReportOptions:
    """What to include; every source is optional except the experiment's transactions.

    Attributes
    ----------
    since
        Earlier date for the segment transition matrix (default: one horizon back).
    repeat_days
        Window of the repeat-purchase rate (default: the experiment's horizon).
    models
        ``"registry"``, a model folder, or None to leave out model-based sections.
    campaign
        ``kizuna evaluate-campaign --json`` output or an outcomes file.
    contact_log, attribution_store
        Paths of the contact log and the recommendation log (missing files are fine).
    offers
        KIZUNA_OFFERS, the catalogue ``/next_best_offer`` reads before the experiment's
        ``offers:``; its ``ltv_basis`` says what the value at risk is.
    """

    since: pd.Timestamp | None = None
    repeat_days: int | None = None
    models: str | None = "registry"
    alias: str = "champion"
    campaign: Path | None = None
    contact_log: Path | None = None
    attribution_store: Path | None = None
    offers: Path | None = None


def build_report(
    config: ExperimentConfig, options: ReportOptions, *, quiet: bool = False
) -> tuple[str, dict[str, Any]]:
    """The page's HTML and a summary (sections, plots, notes) for the CLI.

    Parameters
    ----------
    config
        The experiment config.
    options
        What the report shows.
    quiet
        Whether to hide progress.

    Returns
    -------
    html : str
    summary : dict
    """
    from kizuna.features.pipeline import customer_features
    from kizuna.training.data import load_tables, load_transactions
    from kizuna.training.data_span import check_as_of_in_data

    horizon = config.split.horizon_days
    validated = load_transactions(config.data, quiet=quiet, experiment=config.name)
    tx = validated.kept
    items, customers = load_tables(config.data)
    as_of = (pd.Timestamp(tx["timestamp"].max()) + pd.Timedelta(days=1)).normalize()
    if options.since is not None:  # a date after the data would compare the data with itself
        check_as_of_in_data(validated, options.since, setting="--since")
    since = options.since if options.since is not None else as_of - pd.Timedelta(days=horizon)
    with step(f"computing KPIs, cohorts and segments as of {as_of.date()}", quiet=quiet):
        sections = [
            sec.kpi_section(
                tx, as_of, repeat_days=options.repeat_days or horizon, churn_days=horizon
            ),
            sec.cohort_section(tx, as_of),
        ]
        now = customer_features(tx, as_of, customers=customers, items=items)
        before = customer_features(tx, since, customers=customers, items=items)
        sections.append(sec.segment_section(now, before, now["monetary_total"], since=since))
    scores = None
    health: list[dict[str, Any]] = []
    next_order_metrics: dict[str, float] = {}
    notes: list[str] = []
    if options.models is not None:
        from kizuna.training.report.sources import ltv_basis

        # The value at risk weighs customers as the offer engine does: its catalogue's basis.
        basis = ltv_basis(options.offers or config.offers)
        scores, reasons, served_note = _scores(options, config, basis, quiet=quiet)
        if served_note:
            notes.append(served_note)
        sections.append(sec.value_section(scores, reasons, ltv_basis=basis))
        if options.models == "registry":
            from kizuna.training.report.sources import model_health

            with step("reading the champions' runs from MLflow", quiet=quiet):
                health, next_order_metrics = model_health(config.name, options.alias)
        sections.append(sec.health_section(health))
        sections.append(sec.next_order_section(*_next_order_tables(next_order_metrics)))
    sections.append(_campaign_section(options.campaign, config))
    sections.append(_attribution_section(options.attribution_store, since, config))
    sections.append(_fatigue_section(config, options.contact_log, now.index))
    for note in notes:
        sections[0].notes.append(note)
    page = render(
        sections,
        title=f"kizuna relationship report: {config.name}",
        subtitle=f"data up to {(as_of - pd.Timedelta(days=1)).date()}; {len(now):,} customers; "
        f"segment moves since {since.date()}; horizon {horizon} days",
    )
    summary = {
        "experiment": config.name,
        "as_of": str(as_of.date()),
        "sections": [s.key for s in sections],
        "plots": [p for s in sections for p, _ in s.plots],
        "notes": [n for s in sections for n in s.notes],
    }
    return page, summary


def _scores(
    options: ReportOptions, config: ExperimentConfig, basis: str, *, quiet: bool
) -> tuple[pd.DataFrame | None, dict[str, list[str]], str | None]:
    from kizuna.features.errors import KizunaInputError
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import load_served
    from kizuna.training.report.sources import customer_scores
    from kizuna.training.stored_events import event_store_path

    # The same stored events as the KPIs read: the customers as the service sees them.
    path = event_store_path(config.data, config.name)
    store = EventStore(path) if path is not None and path.exists() else None
    try:
        with step(f"loading the {options.alias} models and scoring customers", quiet=quiet):
            served = load_served(
                options.models, alias=options.alias, live=False, experiment=config.name,
                store=store,
            )  # fmt: skip
            scores, reasons = customer_scores(served, ltv_basis=basis)
    except KizunaInputError as exc:
        return None, {}, f"model sections left out: {exc}"
    return scores, reasons, None


def _next_order_tables(
    metrics: dict[str, float],
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    if not metrics:
        return None, None
    rows = {k.removeprefix("next_order_"): v for k, v in metrics.items() if "_bin" not in k}
    table = pd.DataFrame({"value": pd.Series(rows)}).rename_axis("metric")
    bins = sorted({int(k.split("_bin")[1].split("_")[0]) for k in metrics if "_bin" in k})
    calibration = pd.DataFrame(
        {
            "predicted": [metrics.get(f"next_order_p90_bin{b}_predicted") for b in bins],
            "observed": [metrics.get(f"next_order_p90_bin{b}_observed") for b in bins],
        }
    ).dropna()
    return table, calibration


def _campaign_section(path: Path | None, config: ExperimentConfig) -> sec.Section:
    from kizuna.training.report.sources import read_campaign

    catalogue = None
    if path is not None and config.offers is not None:
        from kizuna.serving.offer_file import read_offers

        catalogue = read_offers(config.offers)  # the costs and margin of an outcomes file
    table = read_campaign(path, catalogue) if path is not None else None
    return sec.table_section(
        "campaigns",
        "Campaign results against control groups",
        "Uplift in retention with its confidence interval, incremental revenue and profit, per offer.",
        table,
        missing="No campaign results given (kizuna report --campaign results.json, from "
        "`kizuna evaluate-campaign --json`).",
    )


def _attribution_section(
    path: Path | None, since: pd.Timestamp, config: ExperimentConfig
) -> sec.Section:
    table = None
    if path is not None and path.exists():
        from kizuna.training.attribution import attribution_report
        from kizuna.training.stored_events import event_store_path

        # the stored purchases give the control groups' outcomes
        events = event_store_path(config.data, config.name)
        table = attribution_report(path, since=since, events_path=events)
    return sec.table_section(
        "attribution",
        "What recommendations led to purchases",
        f"Per placement, offer and model version since {since.date()}: impressions, purchases "
        "carrying the recommendation id within the window, conversion rate and attributed revenue.",
        table,
        missing="No recommendation log yet: the service writes it as it answers /recommend, "
        "/similar_items and /next_best_offer.",
    )


def _fatigue_section(
    config: ExperimentConfig, log_path: Path | None, customer_ids: pd.Index
) -> sec.Section:
    table = None
    if config.offers is not None and log_path is not None and log_path.exists():
        from kizuna.models.contact_log import fatigue_summary
        from kizuna.serving.contact_store import read_contact_log
        from kizuna.serving.offer_file import read_offers

        catalogue = read_offers(config.offers)
        # Contacts are logged at the wall-clock time they were made: the cap applies now.
        now = utc_now()
        policy = catalogue.contact_policy
        window = pd.Timedelta(days=max(policy.period_days, policy.min_days_between))
        log = read_contact_log(log_path, since=now - window)
        summary = fatigue_summary(log, customer_ids, catalogue, now)
        table = pd.DataFrame({"value": pd.Series(summary, dtype=object)}).rename_axis(
            "contact policy"
        )
    return sec.table_section(
        "fatigue",
        "Contact fatigue",
        "Customers the global contact cap (all offers and channels, per period) holds back now.",
        table,
        missing="No contact log or no offer catalogue: nothing is capped yet.",
    )
