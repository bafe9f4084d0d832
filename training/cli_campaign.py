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
from kizuna.training.atomic_write import replacing
from kizuna.training.cli_common import JsonOpt, QuietOpt, console, emit_json
from kizuna.training.csv_safety import neutralise_formulas, restored_from
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
    frame = restored_from(frame, outcomes)  # as campaign-outcomes wrote it
    with step(f"evaluating {len(frame):,} outcomes", quiet=quiet):
        report = evaluate(frame, catalogue=catalogue, margin=margin, confidence=confidence)
    learned = None
    if features is not None:
        feats = restored_from(read_table(features, string_columns=set(s.TEXT_COLUMNS)), features)
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


def campaign_outcomes(
    decisions: Annotated[
        Path, typer.Argument(help="Decisions (.parquet or .csv) that `kizuna score offers` wrote.")
    ],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Experiment YAML: the order log to measure.")
    ],
    days: Annotated[int, typer.Option(min=1, help="Days after each decision that count.")] = 30,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Outcomes file (.csv or .parquet).")
    ] = Path("outcomes.csv"),
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Measure a sent campaign: who bought in the window after its decisions, treated and control.

    The order log (with the purchases the service stored) must reach the end of
    the window. The outcomes it writes are what `kizuna evaluate-campaign` reads.
    """
    from kizuna.training.config import load_experiment
    from kizuna.training.data import load_transactions_and_events, read_table
    from kizuna.training.measured_outcomes import outcomes_of_decisions

    experiment = load_experiment(config)
    table = read_table(decisions, string_columns={s.CUSTOMER_ID, s.OFFER_ID})
    table = restored_from(table, decisions)  # as `kizuna score offers` wrote it
    validated, _ = load_transactions_and_events(
        experiment.data, quiet=quiet, experiment=experiment.name
    )
    kept = validated.kept
    data_end = experiment.data.data_end or kept[s.TIMESTAMP].max()
    with step(f"measuring {len(table):,} decisions over {days} days", quiet=quiet):
        frame = outcomes_of_decisions(table, kept, days=days, data_end=pd.Timestamp(data_end))
    with replacing(out) as temp:  # complete, or the earlier outcomes as they were
        if out.suffix.lower() == ".parquet":
            frame.to_parquet(temp, index=False)
        else:
            neutralise_formulas(frame).to_csv(temp, index=False)
    treated = frame[frame[s.TREATED] == 1]
    control = frame[frame[s.TREATED] == 0]
    summary = {
        "out": str(out),
        "days": days,
        "treated": len(treated),
        "control": len(control),
        "treated_bought": float(treated[s.OUTCOME].mean()) if len(treated) else None,
        "control_bought": float(control[s.OUTCOME].mean()) if len(control) else None,
    }
    if as_json:
        emit_json(summary)
        return
    rate = {
        k: "—" if summary[k] is None else f"{summary[k]:.1%}"
        for k in ("treated_bought", "control_bought")
    }
    console.print(
        f"{len(treated):,} treated ({rate['treated_bought']} bought) and {len(control):,} "
        f"control ({rate['control_bought']} bought) within {days} days; written to {out}. "
        f"Next: kizuna evaluate-campaign {out} --config {config}",
        highlight=False,
    )
