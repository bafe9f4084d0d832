"""What the report reads besides the transactions: champions' runs in MLflow, customer
scores from the champion models, campaign results, the contact log."""

from __future__ import annotations

import base64
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError

# Metrics shown per model kind (the pipeline logs them unprefixed, baselines as
# ``baseline_<name>_<metric>``).
HEALTH_METRICS = {
    "recommender": ("ndcg_at_10", "recall_at_10", "new_ndcg_at_10", "new_recall_at_10"),
    "churn": ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top_decile"),
    "ltv": ("normalised_gini", "spearman", "mae", "rmse", "total_revenue_error"),
}
HEALTH_PLOTS = {
    "recommender": ("recommender_recall_at_k.png",),
    "churn": ("churn_calibration.png", "churn_gains.png"),
    "ltv": ("ltv_decile_calibration.png",),
}
NEXT_ORDER_METRIC = re.compile(r"^next_order_")


def model_health(
    experiment: str, alias: str = "champion"
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Per champion: its version, metrics against baselines and plots from its run.

    Parameters
    ----------
    experiment
        The experiment's name.
    alias
        The alias of the models described.

    Returns
    -------
    (entries, next_order_metrics)
        ``entries`` for :func:`training.report.sections.health_section`;
        the ``next_order_*`` metrics of the newest champion run (may be empty).
    """
    from mlflow import MlflowClient

    from kizuna.serving.model_store import registered_name
    from kizuna.training import registration, tracking

    tracking.setup_mlflow_uri()
    client = MlflowClient()
    entries: list[dict[str, Any]] = []
    next_order: dict[str, float] = {}
    for kind in HEALTH_METRICS:
        version = registration.current_alias_version(registered_name(experiment, kind), alias)
        if version is None or not version.run_id:
            continue
        run = client.get_run(version.run_id)
        metrics = run.data.metrics
        next_order = next_order or {k: v for k, v in metrics.items() if NEXT_ORDER_METRIC.match(k)}
        entries.append(
            {
                "kind": kind,
                "version": version.version,
                "primary": version.tags.get("primary_metric", "?"),
                "metrics": health_table(metrics, HEALTH_METRICS[kind]),
                "plots": _plots(client, version.run_id, HEALTH_PLOTS[kind]),
            }
        )
    return entries, next_order


def health_table(metrics: dict[str, float], names: tuple[str, ...]) -> pd.DataFrame:
    """Rows: kizuna and each baseline; columns: the metrics of ``names`` that were logged.

    Parameters
    ----------
    metrics
        A run's logged metrics.
    names
        The metrics to show.

    Returns
    -------
    pandas.DataFrame
        Shape (1 + n_baselines, n_metrics).
    """
    present = [n for n in names if n in metrics]
    rows = {"kizuna": {n: metrics[n] for n in present}}
    for key, value in metrics.items():
        rest = key.removeprefix("baseline_")
        ends = [n for n in present if rest != key and rest.endswith("_" + n)]
        if ends:  # the longest: `baseline_als_new_ndcg_at_10` is als's new_ndcg_at_10
            n = max(ends, key=len)
            rows.setdefault(f"baseline: {rest[: -len(n) - 1]}", {})[n] = value
    return pd.DataFrame.from_dict(rows, orient="index", columns=present).rename_axis("model")


def _plots(client: Any, run_id: str, names: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                path = client.download_artifacts(run_id, f"plots/{name}", tmp)
            except Exception:  # noqa: BLE001 - an older run without this plot
                continue
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            out.append(
                (
                    name.removesuffix(".png"),
                    f'<img alt="{name}" src="data:image/png;base64,{data}">',
                )
            )
    return out


def customer_scores(
    served: Any, *, ltv_basis: str, top_reasons: int = 3, top: int = 20
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Churn and LTV of every customer from the loaded champions, and churn reasons for
    the ``top`` customers by value at risk.

    Parameters
    ----------
    served
        The loaded champions and snapshot.
    ltv_basis
        What ``predicted_value`` means (the offer catalogue's ``ltv_basis``).
    top_reasons
        Most reasons per customer.
    top
        How many customers get reasons.

    Returns
    -------
    scores : pandas.DataFrame
        One row per customer.
    reasons : dict of str -> list of str
        Customer id -> churn reasons, for the top customers.
    """
    import numpy as np

    from kizuna.serving.row_scores import reasons_for_rows
    from kizuna.training.batch_score import score_chunks
    from kizuna.training.report.sections import worth_keeping

    scores = pd.concat(list(score_chunks(served, k=1, chunk_size=50_000)), ignore_index=True)
    reasons: dict[str, list[str]] = {}
    bundle = served.models.churn
    if bundle is not None and "churn_probability" in scores and "predicted_value" in scores:
        ids = worth_keeping(scores, top=top, ltv_basis=ltv_basis)[s.CUSTOMER_ID].tolist()
        frame = served.state.frames["churn"]
        rows = frame.index.get_indexer(ids)
        ok = rows >= 0
        found = reasons_for_rows(served.state, "churn", bundle, rows[ok], top_reasons)
        for cid, rs in zip(np.asarray(ids)[ok], found, strict=True):
            reasons[str(cid)] = [r["phrase"] if isinstance(r, dict) else r.phrase for r in rs]
    return scores, reasons


def ltv_basis(offers: Path | None) -> str:
    """What ``predicted_value`` means for the report: the ``ltv_basis`` of the catalogue the
    offer engine reads, or ``"expected"`` without one: the report's values come from
    kizuna's LTV champion, which predicts an expected value (churn already in it).

    Parameters
    ----------
    offers
        The offer catalogue file (KIZUNA_OFFERS, else the experiment's ``offers:``), or None.

    Returns
    -------
    str
        ``"if_retained"`` or ``"expected"``.
    """
    if offers is None:
        return "expected"
    from kizuna.serving.offer_file import read_offers

    return read_offers(offers).ltv_basis


def read_campaign(path: Path, catalogue: Any = None) -> pd.DataFrame:
    """Campaign results: ``kizuna evaluate-campaign --json`` output, or an outcomes file
    (evaluated with ``catalogue``'s costs and margin; profit unknown without one).

    Parameters
    ----------
    path
        The campaign file.
    catalogue
        The offer catalogue, or None.

    Returns
    -------
    pandas.DataFrame
        One row per offer (and group).
    """
    if not path.is_file():
        raise KizunaInputError(f"--campaign {path}: no such file")
    if path.suffix.lower() == ".json":
        payload = json.loads(path.read_text())
        if "offers" not in payload:
            raise KizunaInputError(
                f"{path}: not `kizuna evaluate-campaign --json` output (no 'offers')"
            )
        frame = pd.DataFrame(payload["offers"])
    else:
        from kizuna.training.campaign_eval import evaluate_campaign
        from kizuna.training.csv_safety import restored_from
        from kizuna.training.data import read_table

        outcomes = read_table(path, string_columns={s.CUSTOMER_ID, "offer_id"})
        outcomes = restored_from(outcomes, path)  # as campaign-outcomes wrote it
        frame = evaluate_campaign(outcomes, catalogue=catalogue)
    keep = [
        c
        for c in (
            "offer_id", "n_treated", "n_control", "retention_uplift", "retention_uplift_low",
            "retention_uplift_high", "incremental_revenue", "incremental_profit",
            "incremental_profit_low", "incremental_profit_high",
        )
        if c in frame.columns
    ]  # fmt: skip
    return frame[keep].set_index("offer_id")
