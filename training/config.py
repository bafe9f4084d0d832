"""Experiment configuration: YAML in, frozen pydantic models out.

Relative paths in an experiment file are resolved against the file's own
folder, so an experiment runs the same from any working directory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kizuna.features.errors import KizunaInputError
from kizuna.serving.offer_file import read_yaml  # noqa: F401 - re-exported


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(Frozen):
    """Where the data is and how to read it.

    ``column_map`` maps canonical names to the export's names, e.g.
    ``{customer_id: CustNo, timestamp: OrderDate}``.
    """

    transactions: Path | None = None
    format: Literal["canonical", "online-retail", "cdnow"] = "canonical"
    column_map: dict[str, str] = {}
    items: Path | None = None
    items_column_map: dict[str, str] = {}
    customers: Path | None = None
    customers_column_map: dict[str, str] = {}
    data_end: date | None = None
    # The service's purchase-event store; default: events.sqlite in the data folder.
    events: Path | None = None

    def resolved(self, base: Path) -> DataConfig:
        """Return a copy with relative paths anchored at ``base``."""

        def anchor(p: Path | None) -> Path | None:
            return None if p is None or p.is_absolute() else (base / p).resolve()

        updates = {
            key: anchor(getattr(self, key))
            for key in ("transactions", "items", "customers", "events")
            if getattr(self, key) is not None and not getattr(self, key).is_absolute()
        }
        return self.model_copy(update=updates)


def parse_model(model: type[Frozen], data: dict[str, Any], *, source: str) -> Any:
    """Build ``model`` from ``data``, turning pydantic's errors into one readable message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, err['loc'])) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise KizunaInputError(f"{source} has invalid settings:\n" + "\n".join(lines)) from None


class SplitConfig(Frozen):
    """The time-based holdout.

    Features use events before ``as_of``; labels and recommendation ground
    truth come from ``[as_of, as_of + horizon_days)``. Churn and LTV models
    train on ``train_snapshots`` earlier snapshots, spaced ``horizon_days``
    apart, and are calibrated on the snapshot just before the test one, so no
    training label overlaps the holdout.
    """

    as_of: date
    horizon_days: int = 90
    lookback_days: int = 365
    train_snapshots: int = 3


class SearchConfig(Frozen):
    """An optional grid: each combination runs as a nested MLflow run."""

    grid: dict[str, list[Any]] = {}
    max_runs: int = 12


class RecommenderConfig(Frozen):
    enabled: bool = True
    model: str = "hybrid"
    params: dict[str, Any] = {}
    candidates: list[str] = [
        "global_popularity",
        "trending_popularity",
        "personal_popularity",
        "als",
        "bpr",
        "item_knn_cosine",
        "item_knn_bm25",
    ]
    k: int = 10
    # Choose the hybrid's blend weights on the validation split (as_of - horizon);
    # search.grid overrides the weight grid, params fix the other settings.
    tune_weights: bool = True
    search: SearchConfig | None = None
    primary_metric: str = "ndcg_at_10"
    primary_mode: Literal["all", "new"] = "all"


class ChurnConfig(Frozen):
    enabled: bool = True
    mode: Literal["non_contractual", "contractual"] = "non_contractual"
    label_col: str = "churned"
    params: dict[str, Any] = {}
    search: SearchConfig | None = None
    calibration: Literal["isotonic", "sigmoid", "none"] = "isotonic"
    primary_metric: str = "roc_auc"


class LTVConfig(Frozen):
    enabled: bool = True
    params: dict[str, Any] = {}
    search: SearchConfig | None = None
    primary_metric: str = "normalised_gini"


class BTYDConfig(Frozen):
    """Buy-till-you-die settings: the time unit of BG/NBD and Gamma-Gamma."""

    enabled: bool = True
    time_unit: Literal["D", "W"] = "W"
    discount_rate: float = 0.01  # per time unit


class UpliftConfig(Frozen):
    """Learned uplift of offers, from a campaign with a control group.

    ``outcomes`` is a file with customer_id, offer_id, treated, outcome and
    revenue (see ``kizuna evaluate-campaign``); ``simulate`` instead runs the
    synthetic campaign on the holdout customers (demo data only).
    """

    enabled: bool = False
    outcomes: Path | None = None
    simulate: bool = False
    learner: Literal["x", "t"] = "x"


class TrackingConfig(Frozen):
    experiment_name: str | None = None
    register_models: bool = True


class ExperimentConfig(Frozen):
    """One experiment file: data, split, models and tracking."""

    name: str
    description: str = ""
    seed: int = 0
    data: DataConfig
    split: SplitConfig
    recommender: RecommenderConfig = RecommenderConfig()
    churn: ChurnConfig = ChurnConfig()
    ltv: LTVConfig = LTVConfig()
    btyd: BTYDConfig = BTYDConfig()
    tracking: TrackingConfig = TrackingConfig()
    uplift: UpliftConfig = UpliftConfig()
    offers: Path | None = None  # offer catalogue (YAML or CSV) for next-best offers


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read an experiment YAML into a frozen, validated config with resolved paths."""
    path = Path(path)
    config = parse_model(ExperimentConfig, read_yaml(path), source=str(path))
    base = path.resolve().parent

    def anchor(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else (base / p).resolve()

    uplift = config.uplift.model_copy(update={"outcomes": anchor(config.uplift.outcomes)})
    return config.model_copy(
        update={
            "data": config.data.resolved(base),
            "offers": anchor(config.offers),
            "uplift": uplift,
        }
    )
