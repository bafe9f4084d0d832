"""The model sections of an experiment: the split, the search grid and each model's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from kizuna.training.config_base import Frozen, IsoDate

#: Settings that take a list of column names; one name alone is read as a list of one.
LIST_PARAMS = ("drop", "categorical")


def one_name_is_a_list(params: dict[str, Any]) -> dict[str, Any]:
    """``drop: region`` means the column, not the letters r, e, g, i, o, n.

    Parameters
    ----------
    params
        A model's ``params:`` mapping.

    Returns
    -------
    dict
        ``params`` with such names as one-item lists.
    """
    return {k: [v] if k in LIST_PARAMS and isinstance(v, str) else v for k, v in params.items()}


def check_keys(params: dict[str, Any], estimator: type, setting: str) -> None:
    """Refuse keys that ``estimator`` does not take, naming the setting and the valid keys.

    Parameters
    ----------
    params
        A model's ``params:`` mapping.
    estimator
        The estimator class.
    setting
        The setting's path in the experiment file.
    """
    valid = set(estimator().get_params(deep=False))
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"{setting}: {estimator.__name__} has no setting {', '.join(unknown)}; "
            f"its settings are {', '.join(sorted(valid))}"
        )


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

    as_of: IsoDate | None = None
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
    """The recommender: its model and candidates, the protocol, the re-ranker and blend tuning."""

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
    k: int = Field(10, ge=1)
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
    # 5,000 customers give the rankers hundreds of thousands of candidate rows: on a
    # 50,000-customer shop NDCG@10 moved by -0.0005 against 20,000, for 23% less time.
    rerank_max_users: int | None = Field(5_000, ge=1)
    # Large shops: the served model is chosen on a fixed hashed sample of at most this
    # many validation customers (None: everyone); the holdout is always scored in full.
    validation_max_users: int | None = Field(20_000, ge=1)

    @model_validator(mode="after")
    def _check_params(self) -> RecommenderConfig:
        from kizuna.models.recommenders.hybrid import HybridRecommender
        from kizuna.models.recommenders.reranker import RerankedRecommender

        check_keys(self.params, HybridRecommender, "params")
        check_keys(self.rerank_params, RerankedRecommender, "rerank_params")
        if self.search is not None:
            check_keys(self.search.grid, HybridRecommender, "search.grid")
        return self


class _EstimatorSettings(Frozen):
    """``params`` and ``search`` of a churn or LTV model, checked against its estimator."""

    #: (module, class) of the estimator whose settings ``params`` and the grid hold.
    _estimator: ClassVar[tuple[str, str]]

    params: dict[str, Any] = {}
    search: SearchConfig | None = None

    @field_validator("params")
    @classmethod
    def _lists(cls, params: dict[str, Any]) -> dict[str, Any]:
        return one_name_is_a_list(params)

    @model_validator(mode="after")
    def _check_params(self) -> _EstimatorSettings:
        from importlib import import_module

        module, name = self._estimator
        estimator = getattr(import_module(module), name)
        check_keys(self.params, estimator, "params")
        if self.search is not None:
            check_keys(self.search.grid, estimator, "search.grid")
        return self


# The keys of training.metrics_tabular.classification_report and
# training.metrics_regression.regression_report (a test keeps them equal), so a misspelt
# primary metric is refused when the file loads.
ChurnMetric = Literal[
    "roc_auc", "pr_auc", "brier", "log_loss", "lift_top_decile", "capture_rate_top_decile"
]
LTVMetric = Literal["mae", "rmse", "spearman", "normalised_gini", "total_revenue_error"]


class ChurnConfig(_EstimatorSettings):
    """The churn model: non-contractual (no purchase in the horizon) or contractual (a label)."""

    _estimator = ("kizuna.models.churn", "ChurnClassifier")

    enabled: bool = True
    mode: Literal["non_contractual", "contractual"] = "non_contractual"
    label_col: str = "churned"
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    primary_metric: ChurnMetric = "roc_auc"


class LTVConfig(_EstimatorSettings):
    """The lifetime-value model: horizon revenue per customer."""

    _estimator = ("kizuna.models.ltv", "LTVRegressor")

    enabled: bool = True
    primary_metric: LTVMetric = "normalised_gini"


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
