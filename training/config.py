"""Experiment configuration: YAML in, frozen pydantic models out.

Relative paths in an experiment file are resolved against the file's own
folder, so an experiment runs the same from any working directory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kizuna.features.column_map import check_column_map
from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import TimestampRule
from kizuna.serving.offer_file import read_yaml


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


FileFormat = Literal["csv", "tsv", "parquet", "jsonl"]


def check_read_settings(
    file_format: str | None, delimiter: str | None, header: bool, columns: list[str] | None
) -> None:
    """Raise ``ValueError`` on settings that cannot read a file together."""
    if not header and not columns:
        raise ValueError("header: false needs `columns: [...]`, the file's column names")
    if header and columns:
        raise ValueError("`columns` names a headerless file's columns; add `header: false`")
    if file_format == "parquet" and (delimiter or not header):
        raise ValueError("delimiter and header apply to text files, not parquet")
    if delimiter is not None and len(delimiter) != 1 and delimiter != r"\s+":
        raise ValueError("delimiter is one character (e.g. ';' or '\\t')")


class ReadSettings(Frozen):
    """How to read the items or customers file when its name does not say (see DataConfig)."""

    file_format: FileFormat | None = None
    delimiter: str | None = None
    header: bool = True
    columns: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> ReadSettings:
        check_read_settings(self.file_format, self.delimiter, self.header, self.columns)
        return self


class DataConfig(Frozen):
    """Where the data is and how to read it.

    ``column_map`` builds each canonical column from a source column, a
    constant or an expression, e.g. ``{customer_id: CustNo, quantity: 1,
    order_id: "{CustNo}-{When}"}`` (see :mod:`features.column_map`);
    ``items_column_map`` and ``customers_column_map`` do the same for the
    other tables. ``file_format``, ``delimiter``, ``header`` and ``columns``
    say how to read the transactions file when its name does not
    (``items_reading`` and ``customers_reading`` hold the same for the other
    files); the timestamp settings say how its dates are written (ISO 8601
    text by default) and apply to ``signup_date`` too.
    """

    transactions: Path | None = None
    format: Literal["canonical", "online-retail", "cdnow"] = "canonical"
    column_map: dict[str, Any] = {}
    items: Path | None = None
    items_column_map: dict[str, Any] = {}
    customers: Path | None = None
    customers_column_map: dict[str, Any] = {}
    data_end: date | None = None
    # The service's purchase-event store; default: events.sqlite in the data folder.
    events: Path | None = None
    file_format: FileFormat | None = None
    delimiter: str | None = None
    header: bool = True
    columns: list[str] | None = None
    timestamp_format: str | None = None
    dayfirst: bool | None = None
    epoch: Literal["s", "ms"] | None = None
    items_reading: ReadSettings | None = None
    customers_reading: ReadSettings | None = None

    @field_validator("column_map", "items_column_map", "customers_column_map")
    @classmethod
    def _check_map(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        table = {"column_map": "transactions", "items_column_map": "items"}.get(
            info.field_name or "", "customers"
        )
        return check_column_map(value, table=table)

    @model_validator(mode="after")
    def _check_reading(self) -> DataConfig:
        check_read_settings(self.file_format, self.delimiter, self.header, self.columns)
        if sum(x is not None for x in (self.timestamp_format, self.epoch)) > 1 or (
            self.dayfirst is not None and (self.timestamp_format or self.epoch)
        ):
            raise ValueError("give one of timestamp_format, dayfirst or epoch, not several")
        return self

    @property
    def timestamp_rule(self) -> TimestampRule:
        """How this source's timestamps are written."""
        return TimestampRule(format=self.timestamp_format, dayfirst=self.dayfirst, epoch=self.epoch)

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
            f"  {'.'.join(map(str, err['loc'])) or '(top level)'}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        ]
        raise KizunaInputError(f"{source} has invalid settings:\n" + "\n".join(lines)) from None


class SplitConfig(Frozen):
    """The holdout.

    Time-based for transactions: features use events before ``as_of``;
    labels and recommendation ground truth come from
    ``[as_of, as_of + horizon_days)``. Churn and LTV models train on
    ``train_snapshots`` earlier snapshots, spaced ``horizon_days`` apart, and
    are calibrated on the snapshot just before the test one, so no training
    label overlaps the holdout.

    Contractual churn on a customers table alone needs no ``as_of``: its
    customers are split into train, validation (``validation_share``) and
    test (``test_share``), by ``signup_date`` (newest last) or at random
    (seeded by ``seed``, else the experiment's seed, stratified by the label);
    ``by: auto`` uses the signup date when every customer has one.
    """

    as_of: date | None = None
    horizon_days: int = Field(90, gt=0)
    lookback_days: int = Field(365, gt=0)
    train_snapshots: int = Field(3, gt=0)
    test_share: float = Field(0.2, gt=0.0, lt=1.0)
    validation_share: float = Field(0.2, gt=0.0, lt=1.0)
    by: Literal["auto", "random", "signup_date"] = "auto"
    seed: int | None = None

    @model_validator(mode="after")
    def _check_shares(self) -> SplitConfig:
        if self.test_share + self.validation_share >= 0.9:
            raise ValueError("test_share + validation_share must leave at least 10% to train on")
        return self


class SearchConfig(Frozen):
    """An optional grid; every combination and its validation score are logged as one table."""

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
    # "time": fit before as_of, judge on the horizon after (validation one horizon earlier).
    # "random_user": hold out holdout_fraction of each customer's distinct items at random
    # (full ranking, training items excluded), as published benchmarks do.
    protocol: Literal["time", "random_user"] = "time"
    holdout_fraction: float = Field(0.2, gt=0, lt=1)
    # Two-stage model (time protocol only): candidate generators + a LambdaRank re-ranker,
    # trained on the windows before the holdout; served when it wins on validation.
    rerank: bool = True
    rerank_params: dict[str, Any] = {}
    # Training cutoffs of the re-ranker per horizon (over the two horizons before as_of).
    rerank_cutoffs: int = Field(1, ge=1, le=6)
    # Large shops: the re-ranker learns from a fixed hashed sample of at most this many
    # customers per training window (None: everyone); smaller windows are used whole.
    rerank_max_users: int | None = Field(20_000, ge=1)
    # Large shops: the served model is chosen on a fixed hashed sample of at most this
    # many validation customers (None: everyone); the holdout is always scored in full.
    validation_max_users: int | None = Field(20_000, ge=1)


class ChurnConfig(Frozen):
    enabled: bool = True
    mode: Literal["non_contractual", "contractual"] = "non_contractual"
    label_col: str = "churned"
    params: dict[str, Any] = {}
    search: SearchConfig | None = None
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
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


class SparkConfig(Frozen):
    """Spark settings for ``engine: spark`` (see SCALING.md).

    ``master`` defaults to ``local[*]`` (or the active session when kizuna is
    called as a library); ``conf`` holds any ``spark.*`` keys, e.g.
    ``{spark.executor.memory: 8g}``; ``shards`` is the number of customer-hash
    shards (0: one per ~500k input rows, at least the default parallelism).
    """

    master: str | None = None
    conf: dict[str, str] = {}
    shards: int = 0


class ScoringConfig(Frozen):
    """Settings of the batch export (``kizuna score``), both engines.

    ``candidate_pool``: ``None`` (default) ranks every item exactly; a number
    ``N`` blends the hybrid only over each customer's candidates (the ``N``
    trending and ``N`` most popular items, the customer's own items and their
    item-kNN neighbours: :class:`models.recommenders.pooled.CandidatePool`),
    so the cost per customer does not grow with the catalogue (BENCHMARKS.md
    measures what it changes).
    """

    candidate_pool: int | None = Field(None, gt=0)


class ExperimentConfig(Frozen):
    """One experiment file: data, split, models and tracking."""

    name: str
    description: str = ""
    seed: int = 0
    data: DataConfig
    split: SplitConfig = SplitConfig()
    recommender: RecommenderConfig = RecommenderConfig()
    churn: ChurnConfig = ChurnConfig()
    ltv: LTVConfig = LTVConfig()
    btyd: BTYDConfig = BTYDConfig()
    tracking: TrackingConfig = TrackingConfig()
    uplift: UpliftConfig = UpliftConfig()
    offers: Path | None = None  # offer catalogue (YAML or CSV) for next-best offers
    # Engine of the per-customer data work (validate, features, score); training is pandas.
    engine: Literal["pandas", "spark"] = "pandas"
    spark: SparkConfig = SparkConfig()
    scoring: ScoringConfig = ScoringConfig()

    @model_validator(mode="after")
    def _as_of_for_transactions(self) -> ExperimentConfig:
        if self.data.transactions is not None and self.split.as_of is None:
            raise ValueError(
                "split.as_of is required with data.transactions: features use events before "
                "it and labels the horizon after it (`kizuna init FILE` proposes one)"
            )
        return self


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
