"""``kizuna evaluate-campaign``: uplift in retention and revenue, incremental profit, learned uplift.

It reads an outcomes table (customer_id, offer_id, treated, outcome, revenue)
and reports uplift and incremental profit with intervals
(:mod:`training.campaign_eval`); with ``--features`` it also learns per-offer
uplift models, measures them on a holdout (Qini, AUUC) and can save them for
``kizuna score offers --uplift``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from kizuna.features import schema as s
from kizuna.training.cli_common import JsonOpt, QuietOpt, console, emit_json
from kizuna.training.offer_inputs import ConfigOpt, MarginOpt, OffersOpt, resolve_offers
from kizuna.training.progress import err_console, step


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
    else:
        left_out = (
            "incremental profit is the margin on the revenue, the offers' costs left out"
            if margin is not None
            else "incremental profit is not computed"
        )
        err_console.print(
            "warning: no offer catalogue (--offers, or --config with `offers:`): the offers' "
            f"costs are unknown, so {left_out}",
            highlight=False,
        )
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
                *(
                    _shown(r[c], f)
                    for c, f in (("qini", ".3f"), ("auuc", ".4f"), ("uplift_at_30", "+.3f"))
                ),
            )
        console.print(t)
        for r in learned.to_dict("records"):
            if r["skipped"]:
                console.print(f"offer {r['offer_id']} not learned: {r['skipped']}", highlight=False)


def _shown(value: float, spec: str) -> str:
    return "—" if value != value else format(value, spec)


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
            "unknown (no catalogue)" if r["incremental_profit"] != r["incremental_profit"]
            else f"{r['incremental_profit']:+,.2f} [{r['incremental_profit_low']:+,.2f}, "
            f"{r['incremental_profit_high']:+,.2f}]",
        )  # fmt: skip
    console.print(t)
