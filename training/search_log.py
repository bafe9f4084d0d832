"""A hyperparameter or blend-weight search, logged as one table and one plot.

One MLflow run per combination made the store unreadable (hundreds of child
runs per ``kizuna train``); the search is a property of the training run, so
it is logged into that run: a table artifact with every combination and its
validation score, a plot of the scores, and the number of combinations.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def search_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per combination: ``mode`` (if any), ``param.<name>``, ``val_<metric>``.

    Parameters
    ----------
    records
        ``{"params": {...}, "validation": {...}, "mode": ...}`` per combination,
        as the trainers return them.

    Returns
    -------
    pandas.DataFrame
        Shape (len(records), n_columns), in the order the combinations were tried.
    """
    rows = []
    for i, record in enumerate(records):
        row: dict[str, Any] = {"combination": i}
        if "mode" in record:
            row["mode"] = record["mode"]
        row.update({f"param.{k}": _plain(v) for k, v in record["params"].items()})
        row.update({f"val_{k}": float(v) for k, v in record["validation"].items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _plain(value: Any) -> Any:
    """Numbers and strings stay; anything else becomes text (one column type per cell)."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def log_search(
    kind: str, records: list[dict[str, Any]], *, model_id: str | None = None
) -> pd.DataFrame | None:
    """Log a search of ``kind`` into the active run: table, plot and count.

    Nothing is logged for a search of one combination (no choice was made).
    ``model_id``: the logged model the count of combinations belongs to.

    Parameters
    ----------
    kind
        The model kind.
    records
        One record per combination.
    model_id
        The logged model's id, or None.

    Returns
    -------
    pandas.DataFrame or None
        The logged table.
    """
    import mlflow

    from kizuna.training import plots_model

    if len(records) <= 1:
        return None
    table = search_table(records)
    mlflow.log_table(table, artifact_file=f"search/{kind}_search.json")
    mlflow.log_text(table.to_csv(index=False), f"search/{kind}_search.csv")
    mlflow.log_metric(f"{kind}_search_combinations", float(len(table)), model_id=model_id)
    scores = [c for c in table.columns if c.startswith("val_")]
    mlflow.log_figure(plots_model.search_figure(table, scores), f"plots/{kind}_search.png")
    return table
