"""``kizuna score offers``: the next-best offer for every customer of a scores table.

It reads customer scores from one table (Parquet or CSV), one
row per customer: ``customer_id`` (column or index), ``churn_probability``,
``predicted_value`` (``predicted_ltv`` is read as it too),
``days_since_last_purchase`` (``recency_days`` is used when
absent), and optionally ``segment`` and ``monetary_mean`` (the basket a
discount applies to), plus any feature columns learned uplift models need. A
``kizuna features`` frame joined with the churn and LTV scores is exactly that
(the readers: :mod:`training.offer_inputs`). It writes the decisions, with the
control-group assignment, to Parquet or CSV (the decision log), and can append the
contacts it makes to the contact log. ``kizuna evaluate-campaign`` is
:mod:`training.cli_campaign`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import naive_utc, utc_now
from kizuna.training.cli_common import JsonOpt, QuietOpt, console, emit_json, instant_option
from kizuna.training.offer_inputs import (
    ConfigOpt,
    MarginOpt,
    OffersOpt,
    read_scores,
    read_uplift,
    resolve_offers,
)
from kizuna.training.progress import step

#: What ``kizuna score offers --out`` writes (``kizuna campaign-outcomes`` reads each).
DECISION_SUFFIXES = (".parquet", ".csv", ".csv.gz")


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
        Path | None,
        typer.Option(
            "--contact-log",
            help="Contact log (.csv or .db/.sqlite); default: the service's, "
            "KIZUNA_CONTACT_LOG, else $KIZUNA_DATA_DIR/contacts/<experiment>.sqlite "
            "of the --config experiment.",
        ),
    ] = None,
    uplift: Annotated[
        Path | None,
        typer.Option(
            help="Learned uplift: a table customer_id, offer_id, uplift, or the "
            ".joblib models that evaluate-campaign --models-out writes."
        ),
    ] = None,
    now: Annotated[
        datetime | None,
        instant_option(help="Decision time for cooldowns and caps (default: now)."),
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
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Decisions file: .parquet, .csv or .csv.gz (default "
            "$KIZUNA_DATA_DIR/offers/decisions-<campaign>-<now>.parquet, one per decision).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Decide the next-best offer for every customer in a scores table."""
    from kizuna.features.control_groups import CONTROL, TREATED, in_control
    from kizuna.models.contact_log import contacts_from_decisions, own_contacts
    from kizuna.models.next_best_offer import decide
    from kizuna.models.offers import NO_OFFER
    from kizuna.serving.contact_store import append_contacts, read_contact_log
    from kizuna.serving.offers import known_channels

    now_ts = naive_utc(now) if now is not None else utc_now().floor("s")
    if out is None:  # one file per decision: campaign-outcomes reads it after the window
        out = default_decisions_path(campaign_id, now_ts)
    check_decisions_out(out)  # before minutes of work
    catalogue, offers_path = resolve_offers(offers, config, margin=margin)
    if not 0 <= control_share < 1:  # as the service: 1 would hold everyone out
        raise KizunaInputError(
            "--control-share must be in [0, 1)", column="control_share", values=[control_share]
        )
    channels = known_channels(catalogue)
    if channel is not None and channels and channel not in channels:
        raise KizunaInputError(
            f"--channel {channel!r}: no offer of {offers_path} names it; known: "
            f"{', '.join(channels)}"
        )
    if control_share > 0 and not campaign_id:
        raise KizunaInputError(
            "a control group needs --campaign-id (the hash uses it)", column="campaign_id"
        )
    contact_log = contact_log or _service_contact_log(config)
    if log_contacts and contact_log is None:
        raise KizunaInputError(
            "--log-contacts needs --contact-log (or --config, for the service's log)",
            column="contact_log",
        )
    with step(f"reading scores {scores}", quiet=quiet):
        table = read_scores(scores)
        cands = None
        if candidates is not None:
            from kizuna.training.data import read_table

            cands = read_table(candidates, string_columns={s.CUSTOMER_ID, s.ITEM_ID})
        log = read_contact_log(contact_log) if contact_log is not None else None
        learned = read_uplift(uplift) if uplift is not None else None
    rerun = own_contacts(log, campaign_id, now_ts)
    already: set[str] = set()
    if rerun.any():  # a retry of the same decision: its first run's contacts are not history
        already = set(log.loc[rerun, s.CUSTOMER_ID].astype("str"))
        log = log.loc[~rerun]
    _warn_unmatched_segments(catalogue, table)
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
    with step(f"writing {out}", quiet=quiet):
        write_decisions(decisions, out)
    logged = 0
    if log_contacts:
        contacts = contacts_from_decisions(
            decisions, now_ts, channel=channel, campaign_id=campaign_id
        )
        # logged by the first run of this decision: not twice
        contacts = contacts[~contacts[s.CUSTOMER_ID].isin(already)]
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
        "contacts_logged_by_an_earlier_run": len(already),
        "contact_log": None if contact_log is None else str(contact_log),
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
    seen = "none (caps and cooldowns see no past contacts)" if log is None else contact_log
    console.print(f"contact log: {seen}")


def check_decisions_out(out: Path) -> None:
    """Refuse a decisions file whose name says neither Parquet nor CSV.

    Parameters
    ----------
    out
        The decisions file.
    """
    if not out.name.lower().endswith(DECISION_SUFFIXES):
        raise KizunaInputError(
            f"--out {out}: decisions are written as {', '.join(DECISION_SUFFIXES)}; "
            "name the file with one of these"
        )


def write_decisions(decisions: pd.DataFrame, out: Path) -> None:
    """Write the decisions as the name says: Parquet, or CSV (gzipped for ``.csv.gz``).

    In CSV the lists are text, as in the CRM export: ``items`` joined by
    ``|``, ``reasons`` by ``; ``. The file replaces ``out`` only once complete.

    Parameters
    ----------
    decisions
        The decisions, shape (n, k).
    out
        The file.
    """
    from kizuna.training.atomic_write import replacing
    from kizuna.training.csv_safety import neutralise_formulas
    from kizuna.training.export_schema import REASON_SEP, REC_SEP

    name = out.name.lower()
    with replacing(out) as temp:
        if name.endswith(".parquet"):
            decisions.to_parquet(temp, index=False)
            return
        text = decisions.copy()
        for col, sep in ((s.ITEMS, REC_SEP), (s.REASONS, REASON_SEP)):
            if col in text.columns:
                text[col] = [_joined(v, sep) for v in text[col].tolist()]
        # Text a customer or an offer supplied is no formula in a spreadsheet; `kizuna
        # campaign-outcomes` takes the quotes off again (training.csv_safety).
        neutralise_formulas(text).to_csv(
            temp, index=False, compression="gzip" if name.endswith(".gz") else None
        )


def _joined(value: object, sep: str) -> object:
    if isinstance(value, list | tuple | np.ndarray):
        return sep.join(map(str, value))
    return value


def _service_contact_log(config: Path | None) -> Path | None:
    """The log the service writes: KIZUNA_CONTACT_LOG, else the experiment's own (None:
    neither set nor an experiment given), so batch and service caps count the same contacts."""
    from kizuna.serving.config import Settings
    from kizuna.training.config import read_yaml

    settings = Settings.from_env()
    if settings.contact_log is not None:
        return Path(settings.contact_log)
    name = read_yaml(config).get("name") if config is not None else None
    if not isinstance(name, str) or not name:
        return None
    return Path(settings.for_experiment(name).contact_log)


def _warn_unmatched_segments(catalogue: object, table: pd.DataFrame) -> None:
    """Name each segment of an offer that no customer is in (a typo, or empty today)."""
    from kizuna.training.progress import err_console

    if s.SEGMENT not in table.columns:
        return
    present = set(table[s.SEGMENT].dropna().astype(str))
    for offer in catalogue.offers:
        missing = sorted(set(offer.eligibility.segments) - present)
        if missing:  # a typo, or a segment empty today
            err_console.print(
                f"warning: offer {offer.offer_id!r} names segments no customer is in: "
                f"{missing} (segments here: {sorted(present)})",
                highlight=False,
                soft_wrap=True,
            )


def default_decisions_path(campaign_id: str | None, now: pd.Timestamp) -> Path:
    """``$KIZUNA_DATA_DIR/offers/decisions-<campaign>-<now>.parquet``: one file per decision,
    kept for ``kizuna campaign-outcomes`` (one name for every night was overwritten before the
    window ended); a retry of the same decision writes the same file.

    Parameters
    ----------
    campaign_id
        The campaign, or None.
    now
        The decision time.

    Returns
    -------
    pathlib.Path
    """
    import re

    from kizuna.training.tracking import data_dir

    name = re.sub(r"[^A-Za-z0-9._-]", "_", campaign_id) if campaign_id else "batch"
    return data_dir() / "offers" / f"decisions-{name}-{now:%Y%m%dT%H%M%S}.parquet"
