"""README results tables, rendered from a fresh ``kizuna train`` so they cannot go stale.

``python benchmarks/results_tables.py experiments/online_retail.yaml`` trains
the experiment into a throwaway MLflow store and prints the Markdown tables
the README shows; paste them in place of the old ones.
"""

from __future__ import annotations

from typing import Any

RECOMMENDER_NAMES = {
    "global_popularity": "global popularity",
    "trending_popularity": "trending (last 7 days)",
    "personal_popularity": 'personal popularity ("buy again")',
    "als": "ALS (64 factors, BM25 weights)",
    "bpr": "BPR",
    "item_knn_cosine": "cosine item-kNN",
    "item_knn_bm25": "BM25 item-kNN",
    "hybrid": "kizuna hybrid blend alone",
    "reranked": "kizuna two-stage (LambdaRank)",
}
# kizuna's own models: listed, but not the baselines the margin is measured against.
OWN_MODELS = ("hybrid", "reranked")
CHURN_ROWS = ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top_decile")
LTV_ROWS = ("normalised_gini", "spearman", "mae", "rmse", "total_revenue_error")
LABELS = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier",
    "log_loss": "log loss",
    "lift_top_decile": "lift, top decile",
    "normalised_gini": "normalised Gini",
    "spearman": "Spearman",
    "mae": "MAE",
    "rmse": "RMSE",
    "total_revenue_error": "total revenue error",
}


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric == "total_revenue_error":
        return f"{value:+.1%}".replace("-", "−")
    if metric in ("mae", "rmse") and abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4f}"


def recommender_table(models: dict[str, Any], k: int = 10) -> str:
    """NDCG@k per model and mode, the served model first, then the margin over the best.

    Parameters
    ----------
    models
        The recommender's part of the result.
    k
        The cut-off.

    Returns
    -------
    str
    """
    rec = models["recommender"]
    served = rec.get("served", "kizuna")
    key_all, key_new = f"ndcg_at_{k}", f"new_ndcg_at_{k}"
    two_stage = "hybrid" in rec["baselines"]
    rows = [(f"**served: {_served_label(served, two_stage)}**", rec["metrics"], True)]
    for name, metrics in sorted(
        rec["baselines"].items(), key=lambda kv: -kv[1].get(key_all, float("-inf"))
    ):
        rows.append((RECOMMENDER_NAMES.get(name, name), metrics, False))
    lines = [
        f"| recommender, NDCG@{k} | `all` (repeats count) | `new` (unseen items only) |",
        "|---|---|---|",
    ]
    for label, metrics, bold in rows:
        cells = [_fmt("ndcg", metrics.get(key)) for key in (key_all, key_new)]
        if bold:
            cells = [f"**{c}**" for c in cells]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    margins = []
    for key in (key_all, key_new):
        best = max(
            (
                (n, m[key])
                for n, m in rec["baselines"].items()
                if key in m and n != served and n not in OWN_MODELS
            ),
            key=lambda kv: kv[1],
            default=None,
        )
        value = rec["metrics"].get(key)
        if best is None or value is None or best[1] <= 0:
            margins.append("—")
        else:
            label = RECOMMENDER_NAMES.get(best[0], best[0])
            margins.append(f"{value / best[1] - 1:+.1%} ({label})".replace("-", "−"))
    lines.append(f"| margin over the best baseline | {margins[0]} | {margins[1]} |")
    return "\n".join(lines)


def _served_label(served: str, two_stage: bool = False) -> str:
    if served == "kizuna":
        return "kizuna two-stage" if two_stage else "kizuna hybrid"
    return RECOMMENDER_NAMES.get(served, served)


def tabular_table(models: dict[str, Any], kind: str) -> str:
    """Metrics (rows) of the served model and each baseline (columns) on the holdout.

    Parameters
    ----------
    models
        The result's models.
    kind
        ``churn`` or ``ltv``.

    Returns
    -------
    str
    """
    result = models[kind]
    served = result.get("served", "kizuna")
    primary = result["primary_metric"]
    columns = [(f"served: {served}", result["metrics"])] + [
        (name, metrics) for name, metrics in result["baselines"].items()
    ]
    rows = CHURN_ROWS if kind == "churn" else LTV_ROWS
    lines = [
        f"| {kind} | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for metric in rows:
        label = LABELS[metric] + (" (primary)" if metric == primary else "")
        cells = [_fmt(metric, m.get(metric)) for _, m in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(summary: dict[str, Any]) -> str:
    """All tables of one experiment (``ExperimentResult.to_dict()``) as Markdown.

    Parameters
    ----------
    summary
        ``ExperimentResult.to_dict()``.

    Returns
    -------
    str
    """
    models = summary["models"]
    parts = [
        f"<!-- {summary['experiment']}: dataset_hash {summary['fingerprint']['dataset_hash']} -->"
    ]
    if "recommender" in models:
        parts.append(recommender_table(models))
    for kind in ("churn", "ltv"):
        if kind in models:
            parts.append(tabular_table(models, kind))
    rec = models.get("recommender", {}).get("extra_metrics", {})
    if "lambdarank_ndcg_at_10" in rec:
        val = [rec.get(f"val_lambdarank_{m}ndcg_at_10") for m in ("", "new_")]
        shown = "not scored" if None in val else f"{val[0]:.4f} / {val[1]:.4f}"
        parts.append(
            f"- LambdaRank ordering every mode (NDCG@10 `all` / `new`): validation {shown} "
            f"(rankers trained on the cutoffs before it), holdout "
            f"{rec['lambdarank_ndcg_at_10']:.4f} / {rec['lambdarank_new_ndcg_at_10']:.4f}"
        )
    ltv = models.get("ltv", {}).get("extra_metrics", {})
    if "interval_p10_p90_coverage" in ltv:
        parts.append(
            f"- LTV P10–P90 band (from validation residuals): holdout coverage "
            f"{ltv['interval_p10_p90_coverage']:.3f} (nominal 0.800), mean width "
            f"{ltv['interval_p10_p90_mean_width']:,.1f}"
        )
    for kind, decision in summary.get("registry", {}).items():
        parts.append(
            f"- registry, {kind}: v{decision['version']} @{decision['alias']} ({decision['reason']})"
        )
    for kind, model in models.items():
        if model.get("selection"):
            parts.append(f"- {kind} serves {model.get('served')}: {model['selection']}")
    return "\n\n".join(parts) + "\n"
