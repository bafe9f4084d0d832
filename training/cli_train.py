"""Training commands: ``kizuna train``, ``kizuna promote``, ``kizuna demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from kizuna.serving.redact import hide_passwords
from kizuna.training.cli_common import JsonOpt, QuietOpt, console, emit_json

DEMO_EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "demo.yaml"
METRIC_COLUMNS = {
    "recommender": [
        "ndcg_at_10",
        "recall_at_10",
        "precision_at_10",
        "map_at_10",
        "new_ndcg_at_10",
        "new_recall_at_10",
        "coverage",
    ],
    "churn": [
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "lift_top_decile",
        "capture_rate_top_decile",
    ],
    "ltv": ["spearman", "normalised_gini", "mae", "rmse", "total_revenue_error"],
    "uplift": ["qini", "auuc", "uplift_at_30"],
}


def train(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment YAML, e.g. experiments/demo.yaml.")
    ],
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run an experiment: validate, build features, train, evaluate, log to MLflow, register."""
    from kizuna.training.progress import step
    from kizuna.training.tabular_process import TabularProcess

    # Started first: its imports run on the other core while this process makes its own.
    tabular = TabularProcess().start()
    try:
        with step(f"loading {experiment} and the training libraries", quiet=quiet):
            import mlflow  # noqa: F401 - a slow import, done under the progress line

            from kizuna.training.config import load_experiment
            from kizuna.training.pipeline import run_experiment

            config = load_experiment(experiment)
        result = run_experiment(config, quiet=quiet, tabular=tabular)
    finally:
        tabular.stop()
    if as_json:
        emit_json(result.to_dict())
        return
    print_comparison(result, experiment)


def print_comparison(result, experiment: Path | None = None) -> None:  # noqa: ANN001 - ExperimentResult, imported lazily
    """One table per model kind (metrics as rows, models as columns), then the registry moves.

    Parameters
    ----------
    result
        The experiment's result.
    experiment
        The experiment file, or None.
    """
    table = result.comparison()
    for kind, rows in table.groupby("kind", sort=False):
        metrics = [
            c for c in METRIC_COLUMNS.get(kind, []) if c in rows.columns and rows[c].notna().any()
        ]
        primary = rows["primary"].iloc[0]
        out = Table(title=f"{kind}: kizuna against baselines on the holdout")
        out.add_column("metric")
        for name in rows["model"]:
            out.add_column(str(name).replace("baseline: ", "baseline\n"), justify="right")
        for metric in metrics:
            label = f"[bold]{metric}[/bold] (primary)" if metric == primary else metric
            out.add_row(label, *(_fmt(v) for v in rows[metric]))
        console.print(out)
    for kind, outcome in result.results.items():
        selection = getattr(outcome, "selection", None)
        if selection is not None:
            console.print(
                f"[bold]{kind}[/bold] serves {selection.served}: {escape(selection.reason)}"
            )
    for kind, decision in result.registry.items():
        console.print(
            f"[bold]{decision.name}[/bold] v{decision.version} → "
            f"[cyan]@{decision.alias}[/cyan]: {escape(decision.reason)}"
        )
        if decision.alias != "champion" and kind != "snapshot":
            rebuild = f" && kizuna snapshot {experiment}" if experiment is not None else ""
            console.print(
                f"  the service serves the {kind} @champion, if any (else its endpoints answer "
                f"503); to serve this one: kizuna promote {kind} {decision.version} "
                f"--experiment {result.name}{rebuild}",
                highlight=False,
                soft_wrap=True,  # one line in a log: the command is copied whole
            )
    console.print(f"MLflow run {result.run_id} (tracking store: {hide_passwords(_store())})")


def _store() -> str:
    from kizuna.training.tracking import tracking_uri

    return tracking_uri()


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def promote(
    model: Annotated[
        str,
        typer.Argument(
            help="recommender | churn | ltv | snapshot (with --experiment), or a registered name."
        ),
    ],
    version: Annotated[int, typer.Argument(help="Registry version to point the alias at.")],
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Experiment name (default: the only one).")
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Move a registry alias (champion by default) to a version by hand."""
    from kizuna.serving.model_registry import resolve_experiment
    from kizuna.serving.model_store import REGISTERED_KINDS
    from kizuna.training import registration, tracking

    tracking.setup_mlflow_uri()
    name = model
    if model in REGISTERED_KINDS:
        name = registration.registered_name(resolve_experiment(experiment), model)
    moved = registration.promote(name, version, alias)
    if as_json:
        emit_json(moved)
        return
    before = moved["previous_version"]
    console.print(
        f"{name}@{alias}: {'none' if before is None else f'v{before}'} → v{moved['version']}"
    )
    if model in ("recommender", "churn", "ltv") and before != moved["version"]:
        # The snapshot holds inputs computed for the models it was built with.
        console.print(
            f"next: kizuna snapshot EXPERIMENT.yaml builds the customer snapshot for the new "
            f"@{alias}; until then a service reloading or starting on it refuses the set",
            highlight=False,
            soft_wrap=True,
        )


def demo(
    experiment: Annotated[Path, typer.Option(help="Experiment to run.")] = DEMO_EXPERIMENT,
    customers: Annotated[int, typer.Option(help="Synthetic customers.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Shop seed.")] = 0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The main job: generate a synthetic shop, build its features, train and register models."""
    from kizuna.features.pipeline import customer_features, customer_labels
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.cli_common import print_reconciliation
    from kizuna.training.cli_features import feature_summary, print_feature_summary
    from kizuna.training.config import load_experiment
    from kizuna.training.data import load_tables, load_transactions
    from kizuna.training.pipeline import run_experiment
    from kizuna.training.progress import step
    from kizuna.training.shop_io import write_shop

    config = load_experiment(experiment)
    shop_dir = Path(config.data.transactions).parent
    title = f"generating a synthetic shop of {customers:,} customers into {shop_dir}"
    with step(title, quiet=quiet):
        write_shop(generate_shop(ShopConfig(n_customers=customers, seed=seed)), shop_dir)
    validated = load_transactions(config.data, quiet=quiet, experiment=config.name)
    report = validated.report.to_dict()
    if not as_json:
        print_reconciliation(report)
    items, known = load_tables(config.data)
    as_of = pd.Timestamp(config.split.as_of)
    with step(f"building customer features as of {as_of.date()}", quiet=quiet):
        frame = customer_features(validated.kept, as_of, customers=known, items=items)
        labels = customer_labels(
            validated.kept,
            as_of,
            horizon_days=config.split.horizon_days,
            lookback_days=config.split.lookback_days,
        )
    summary = feature_summary(frame, labels)
    if not as_json:
        print_feature_summary(summary)
    result = run_experiment(config, quiet=quiet)
    if as_json:
        emit_json(
            {"shop": str(shop_dir), "report": report, "features": summary, **result.to_dict()}
        )
        return
    print_comparison(result, experiment)
