"""Experiment configuration: YAML in, frozen pydantic models out.

Relative paths in an experiment file are resolved against the file's own
folder, so an experiment runs the same from any working directory. The
sections live in :mod:`training.data_config` (``data:``) and
:mod:`training.model_config` (split and models); this module holds the
experiment itself, the engine and tracking settings, and re-exports the
sections, so ``from kizuna.training.config import DataConfig`` keeps working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kizuna.features.errors import KizunaInputError
from kizuna.serving.offer_file import read_yaml
from kizuna.training.config_base import Frozen, parse_model
from kizuna.training.data_config import DataConfig, FileFormat, ReadSettings, check_read_settings
from kizuna.training.model_config import (
    BTYDConfig,
    ChurnConfig,
    LTVConfig,
    RecommenderConfig,
    SearchConfig,
    SplitConfig,
    UpliftConfig,
)

__all__ = [
    "BTYDConfig",
    "ChurnConfig",
    "DataConfig",
    "ExperimentConfig",
    "FileFormat",
    "Frozen",
    "LTVConfig",
    "ReadSettings",
    "RecommenderConfig",
    "ScoringConfig",
    "SearchConfig",
    "SparkConfig",
    "SplitConfig",
    "TrackingConfig",
    "UpliftConfig",
    "check_read_settings",
    "load_experiment",
    "parse_model",
    "read_yaml",
]


class TrackingConfig(Frozen):
    """MLflow: the experiment name (default ``kizuna-<name>``) and whether to register models."""

    experiment_name: str | None = None
    register_models: bool = True


class SparkConfig(Frozen):
    """Spark settings for ``engine: spark`` (see SCALING.md).

    ``master`` defaults to ``local[*]`` (or the active session when kizuna is
    called as a library); ``conf`` holds any ``spark.*`` keys, e.g.
    ``{spark.executor.memory: 8g}``; ``shards`` is the number of customer-hash
    shards (0: one per ~500k input rows, at least the default parallelism).
    ``class_archive``: in local mode, keep a class-data archive of Spark's JVM
    (``training.engines.spark_classes``) in the default cache folder (true),
    in the given folder, or not at all (false).
    """

    master: str | None = None
    conf: dict[str, str] = {}
    shards: int = 0
    class_archive: bool | Path = True

    @field_validator("conf", mode="before")
    @classmethod
    def _conf_as_text(cls, value: Any) -> Any:
        """``spark.executor.cores: 4`` and ``...enabled: true`` as Spark reads them: text."""
        if not isinstance(value, dict):
            return value
        text = {True: "true", False: "false"}
        return {
            k: text[v] if isinstance(v, bool) else str(v) if isinstance(v, int | float) else v
            for k, v in value.items()
        }


class ScoringConfig(Frozen):
    """Settings of the batch export (``kizuna score``), both engines.

    ``candidate_pool``: ``None`` (default) ranks every item exactly; a number
    ``N`` blends the hybrid only over each customer's candidates (the ``N``
    trending and ``N`` most popular items, the customer's own items and their
    item-kNN neighbours: :class:`models.recommenders.pooled.CandidatePool`),
    so the cost per customer does not grow with the catalogue (BENCHMARKS.md
    measures what it changes). It applies to a served hybrid; another served
    recommender (the two-stage model) ranks exactly, with a warning.
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


def offers_file(offers: str | Path | None, experiment: str | Path) -> Path | None:
    """The ``offers:`` catalogue, relative to the experiment file; a missing one fails
    (else the snapshot would silently have no offers).

    Parameters
    ----------
    offers
        The ``offers:`` setting, or None.
    experiment
        The experiment file.

    Returns
    -------
    pathlib.Path or None
    """
    if offers is None:
        return None
    found = Path(offers)
    found = found if found.is_absolute() else (Path(experiment).resolve().parent / found).resolve()
    if not found.is_file():
        raise KizunaInputError(f"{experiment}: offers: no such file: {found}")
    return found


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read an experiment YAML into a frozen, validated config with resolved paths.

    Parameters
    ----------
    path
        The experiment file.

    Returns
    -------
    ExperimentConfig
    """
    path = Path(path)
    config = parse_model(ExperimentConfig, read_yaml(path), source=str(path))
    base = path.resolve().parent

    def anchor(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else (base / p).resolve()

    uplift = config.uplift.model_copy(update={"outcomes": anchor(config.uplift.outcomes)})
    offers = offers_file(config.offers, path)
    return config.model_copy(
        update={
            "data": config.data.resolved(base),
            "offers": offers,
            "uplift": uplift,
        }
    )
