"""Offer commands: ``kizuna score offers`` (batch next-best offers), ``kizuna evaluate-campaign``.

``score offers`` reads customer scores from one table (Parquet or CSV), one
row per customer: ``customer_id`` (column or index), ``churn_probability``,
``predicted_value`` (``predicted_ltv`` is read as it too),
``days_since_last_purchase`` (``recency_days`` is used when
absent), and optionally ``segment`` and ``monetary_mean`` (the basket a
discount applies to), plus any feature columns learned uplift models need. A
``kizuna features`` frame joined with the churn and LTV scores is exactly that.
It writes the decisions, with the control-group assignment, to Parquet (the
decision log), and can append the contacts it makes to the contact log.

``evaluate-campaign`` reads an outcomes table (customer_id, offer_id, treated,
outcome, revenue) and reports uplift and incremental profit with intervals;
with ``--features`` it also learns per-offer uplift models, measures them on a
holdout (Qini, AUUC) and can save them for ``score offers --uplift``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import OfferCatalogue
from kizuna.serving.offer_file import read_offers
from kizuna.training.cli_common import JsonOpt, QuietOpt, console, emit_json
from kizuna.training.progress import err_console, step

#: The LTV column of score tables written before the column registry (now predicted_value).
LEGACY_PREDICTED_VALUE = "predicted_ltv"

OffersOpt = Annotated[
    Path | None,
    typer.Option("--offers", help="Offer catalogue (.yaml/.yml or .csv)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Experiment YAML whose `offers:` names the catalogue."),
]
MarginOpt = Annotated[
    float | None,
    typer.Option("--margin", help="Share of revenue kept as profit (overrides the catalogue)."),
]


def resolve_offers(
    offers: Path | None, config: Path | None, *, margin: float | None = None
) -> tuple[OfferCatalogue, Path]:
    """The catalogue from ``--offers``, or the experiment's ``offers:`` key (relative to it)."""
    from kizuna.training.config import read_yaml

    if offers is None and config is None:
        raise KizunaInputError(
            "give an offer catalogue with --offers, or an experiment with "
            "an `offers:` entry with --config"
        )
    if offers is None:
        raw = read_yaml(config)
        if "offers" not in raw:
            raise KizunaInputError(f"{config} has no `offers:` entry naming a catalogue")
        offers = Path(raw["offers"])
        if not offers.is_absolute():
            offers = (Path(config).resolve().parent / offers).resolve()
    return read_offers(offers, margin=margin), offers


def read_scores(path: Path) -> pd.DataFrame:
    """Customer scores with ``customer_id`` as a column and days since the last purchase."""
    from kizuna.training.data import read_table

    frame = read_table(path, string_columns={s.CUSTOMER_ID})
    if s.CUSTOMER_ID not in frame.columns:
        if frame.index.name == s.CUSTOMER_ID:
            frame = frame.reset_index()
        else:
            raise KizunaInputError(f"{path} has no {s.CUSTOMER_ID!r} column", column=s.CUSTOMER_ID)
    if s.DAYS_SINCE_LAST_PURCHASE not in frame.columns and s.RECENCY_DAYS in frame.columns:
        frame[s.DAYS_SINCE_LAST_PURCHASE] = frame[s.RECENCY_DAYS]
    # Score tables written before the column registry named the LTV predicted_ltv.
    if s.PREDICTED_VALUE not in frame.columns and LEGACY_PREDICTED_VALUE in frame.columns:
        frame[s.PREDICTED_VALUE] = frame[LEGACY_PREDICTED_VALUE]
    # `kizuna score` (the CRM export) has totals, not means.
    if s.MONETARY_MEAN not in frame.columns and {s.MONETARY_TOTAL, s.FREQUENCY} <= set(
        frame.columns
    ):
        frame[s.MONETARY_MEAN] = frame[s.MONETARY_TOTAL] / frame[s.FREQUENCY].astype(float)
    if s.CHURN_PROBABILITY in frame.columns:
        unscored = frame[s.CHURN_PROBABILITY].isna()
        if unscored.any():
            # Outside the churn population (no purchase in the lookback window): no
            # score to value an offer on, so they are left out, and counted.
            err_console.print(
                f"{int(unscored.sum()):,} customers have no churn score "
                "(outside the model's population) and get no offer decision"
            )
            frame = frame.loc[~unscored].reset_index(drop=True)
    return frame


def _read_uplift(path: Path) -> Any:
    from kizuna.training.data import read_table

    if not path.is_file():
        raise KizunaInputError(f"--uplift: no such file: {path}")
    if path.suffix.lower() == ".joblib":
        import joblib

        try:
            models = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
            raise KizunaInputError(
                f"--uplift: cannot load {path}: {exc or type(exc).__name__}"
            ) from None
        if not isinstance(models, dict):
            raise KizunaInputError(f"{path} must hold a dict offer_id -> uplift model")
        return models
    return read_table(path, string_columns={s.CUSTOMER_ID, "offer_id"})


def score_offers(
    scores: Annotated[Path, typer.Argument(help="Customer scores (.parquet or .csv).")],
    offers: OffersOpt = None,
    config: ConfigOpt = None,
    candidates: Annotated[
        Path | None,
        typer.Option(
            help="Product candidates: customer_id, item_id, p_purchase, margin_value "
            "(or price and margin)."
        ),
    ] = None,
    contact_log: Annotated[
        Path | None, typer.Option("--contact-log", help="Contact log (.csv or .db/.sqlite).")
    ] = None,
    uplift: Annotated[
        Path | None,
        typer.Option(
            help="Learned uplift: a table customer_id, offer_id, uplift, or the "
            ".joblib models that evaluate-campaign --models-out writes."
        ),
    ] = None,
    now: Annotated[
        datetime | None, typer.Option(help="Decision time for cooldowns and caps (default: now).")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Channel asking, e.g. email.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Offers per customer, best first.")] = 1,
    campaign_id: Annotated[
        str | None,
        typer.Option("--campaign-id", help="Campaign id (for control groups and the log)."),
    ] = None,
    control_share: Annotated[
        float, typer.Option("--control-share", help="Share held out as control, by hash.")
    ] = 0.0,
    log_contacts: Annotated[
        bool, typer.Option("--log-contacts", help="Append the contacts made to --contact-log.")
    ] = False,
    margin: MarginOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Decisions file (Parquet).")] = Path(
        "data/offers/decisions.parquet"
    ),
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Decide the next-best offer for every customer in a scores table."""
    from kizuna.features.control_groups import CONTROL, TREATED, in_control
    from kizuna.models.contact_log import contacts_from_decisions
    from kizuna.models.next_best_offer import decide
    from kizuna.models.offers import NO_OFFER
    from kizuna.serving.contact_store import append_contacts, read_contact_log

    catalogue, offers_path = resolve_offers(offers, config, margin=margin)
    if control_share > 0 and not campaign_id:
        raise KizunaInputError(
            "a control group needs --campaign-id (the hash uses it)", column="campaign_id"
        )
    if log_contacts and contact_log is None:
        raise KizunaInputError("--log-contacts needs --contact-log", column="contact_log")
    now_ts = pd.Timestamp(now) if now is not None else pd.Timestamp.now().floor("s")
    with step(f"reading scores {scores}", quiet=quiet):
        table = read_scores(scores)
        cands = None
        if candidates is not None:
            from kizuna.training.data import read_table

            cands = read_table(candidates, string_columns={s.CUSTOMER_ID, s.ITEM_ID})
        log = read_contact_log(contact_log) if contact_log is not None else None
        learned = _read_uplift(uplift) if uplift is not None else None
    with step(f"deciding offers for {len(table):,} customers", quiet=quiet):
        decisions = decide(
            table,
            catalogue,
            product_candidates=cands,
            contact_log=log,
            now=now_ts,
            channel=channel,
            k=k,
            uplift=learned,
        )
    ids = decisions[s.CUSTOMER_ID]
    control = (
        in_control(ids, campaign_id, control_share)
        if control_share > 0
        else pd.Series(False, index=decisions.index).to_numpy()
    )
    decisions[s.GROUP] = pd.array(
        [CONTROL if c else TREATED for c in control.tolist()], dtype="str"
    )
    decisions["campaign_id"] = pd.array([campaign_id] * len(decisions), dtype="str")
    decisions["decided_at"] = now_ts
    decisions[s.CHANNEL] = pd.array([channel] * len(decisions), dtype="str")
    out.parent.mkdir(parents=True, exist_ok=True)
    with step(f"writing {out}", quiet=quiet):
        decisions.to_parquet(out, index=False)
    logged = 0
    if log_contacts:
        contacts = contacts_from_decisions(
            decisions, now_ts, channel=channel, campaign_id=campaign_id
        )
        logged = append_contacts(contact_log, contacts)
    first = decisions[decisions[s.RANK] == 1]
    sent = first[(first[s.OFFER_ID] != NO_OFFER) & (first[s.GROUP] == TREATED)]
    summary = {
        "out": str(out),
        "offers_file": str(offers_path),
        "now": now_ts,
        "customers": int(first.shape[0]),
        "decision_rows": int(len(decisions)),
        "control": int((first[s.GROUP] == CONTROL).sum()),
        "no_offer": int((first[s.OFFER_ID] == NO_OFFER).sum()),
        "offers": {str(k_): int(v) for k_, v in first[s.OFFER_ID].value_counts().items()},
        "expected_value_sent": float(sent["expected_value"].sum()),
        "contacts_logged": logged,
    }
    if as_json:
        emit_json(summary)
        return
    table_out = Table(title=f"Next-best offers ({summary['customers']:,} customers)")
    table_out.add_column("offer")
    table_out.add_column("customers (rank 1)", justify="right")
    table_out.add_column("expected value", justify="right")
    for offer_id, rows in first.groupby(s.OFFER_ID, sort=True):
        table_out.add_row(str(offer_id), f"{len(rows):,}", f"{rows['expected_value'].sum():,.2f}")
    console.print(table_out)
    console.print(
        f"control group: {summary['control']:,}; contacts logged: {logged:,}; "
        f"decisions written to {out}"
    )


def evaluate_campaign(
    outcomes: Annotated[
        Path,
        typer.Argument(
            help="Outcomes (.csv/.parquet): customer_id, offer_id, treated, outcome, revenue."
        ),
    ],
    offers: OffersOpt = None,
    config: ConfigOpt = None,
    margin: MarginOpt = None,
    confidence: Annotated[float, typer.Option(help="Interval level.")] = 0.95,
    features: Annotated[
        Path | None,
        typer.Option(help="Customer features at send time: learn per-offer uplift models."),
    ] = None,
    learner: Annotated[str, typer.Option(help="Uplift meta-learner: x or t.")] = "x",
    models_out: Annotated[
        Path | None, typer.Option("--models-out", help="Save the uplift models (.joblib).")
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Measure a campaign against its control group: uplift, revenue, incremental profit."""
    from kizuna.training.campaign_eval import evaluate_campaign as evaluate
    from kizuna.training.campaign_eval import learn_uplift
    from kizuna.training.data import read_table

    catalogue = None
    if offers is not None or config is not None:
        catalogue, _ = resolve_offers(offers, config, margin=margin)
    frame = read_table(outcomes, string_columns={s.CUSTOMER_ID, "offer_id"})
    with step(f"evaluating {len(frame):,} outcomes", quiet=quiet):
        report = evaluate(frame, catalogue=catalogue, margin=margin, confidence=confidence)
    learned = None
    if features is not None:
        feats = read_table(features, string_columns={s.CUSTOMER_ID})
        if s.CUSTOMER_ID in feats.columns:
            feats = feats.set_index(s.CUSTOMER_ID)
        with step(f"learning uplift ({learner}-learner) per offer", quiet=quiet):
            models, learned = learn_uplift(feats, frame, learner=learner)
        if models_out is not None:
            import joblib

            models_out.parent.mkdir(parents=True, exist_ok=True)
            joblib.dump(models, models_out, compress=3)
    if as_json:
        payload: dict[str, Any] = {"confidence": confidence, "offers": _records(report)}
        if learned is not None:
            payload["learned_uplift"] = _records(learned)
            payload["models_out"] = None if models_out is None else str(models_out)
        emit_json(payload)
        return
    _print_report(report, confidence)
    if learned is not None:
        t = Table(title="Learned uplift (holdout)")
        for col in ("offer_id", "n_train", "n_holdout", "qini", "auuc", "uplift_at_30"):
            t.add_column(col, justify="left" if col == "offer_id" else "right")
        for r in learned.to_dict("records"):
            t.add_row(
                str(r["offer_id"]),
                f"{r['n_train']:,}",
                f"{r['n_holdout']:,}",
                f"{r['qini']:.3f}",
                f"{r['auuc']:.4f}",
                f"{r['uplift_at_30']:+.3f}",
            )
        console.print(t)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}
        for rec in frame.to_dict("records")
    ]


def _print_report(report: pd.DataFrame, confidence: float) -> None:
    level = f"{confidence:.0%}"
    t = Table(title=f"Campaign results ({level} intervals)")
    for col in (
        "offer",
        "treated",
        "control",
        "retention uplift",
        "revenue uplift / customer",
        "incremental profit",
    ):
        t.add_column(col, justify="left" if col == "offer" else "right")
    for r in report.to_dict("records"):
        t.add_row(
            str(r["offer_id"]), f"{r['n_treated']:,}", f"{r['n_control']:,}",
            f"{r['retention_uplift']:+.2%} [{r['retention_uplift_low']:+.2%}, "
            f"{r['retention_uplift_high']:+.2%}]",
            f"{r['revenue_uplift']:+,.2f} [{r['revenue_uplift_low']:+,.2f}, "
            f"{r['revenue_uplift_high']:+,.2f}]",
            f"{r['incremental_profit']:+,.2f} [{r['incremental_profit_low']:+,.2f}, "
            f"{r['incremental_profit_high']:+,.2f}]",
        )  # fmt: skip
    console.print(t)
