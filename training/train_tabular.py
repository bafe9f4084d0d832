"""Train and evaluate the churn and LTV models against their baselines.

Both follow one recipe: fit candidates on the training snapshots, choose
hyperparameters on the validation snapshot (early stopping and probability
calibration use it too), then score the test snapshot once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kizuna.models.btyd_features import EXPECTED_VALUE
from kizuna.models.bundles import TabularBundle
from kizuna.models.churn import ChurnClassifier
from kizuna.models.churn_baseline import RFMLogisticBaseline
from kizuna.models.column_forecast import ColumnForecast
from kizuna.models.intervals import BinnedQuantileInterval, coverage
from kizuna.models.ltv import LTVRegressor
from kizuna.training import metrics_regression as mr
from kizuna.training import metrics_tabular as mt
from kizuna.training import plots, plots_model
from kizuna.training.config import ChurnConfig, LTVConfig
from kizuna.training.selection import TUNED, Selection, choose_served
from kizuna.training.snapshots import Snapshot, stack
from kizuna.training.tabular_search import LOWER_IS_BETTER, grid, select_best


@dataclass
class TabularResult:
    """What training one tabular model produced, ready to be logged.

    ``metrics`` are the served model's on the test snapshot (the tuned
    model's, or a baseline's when it won on validation: see ``selection``);
    ``baselines`` maps each baseline's name to its metrics on the same rows;
    ``search`` lists every candidate's parameters and validation metrics.
    """

    kind: str
    bundle: TabularBundle
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    primary_metric: str
    figures: dict[str, Any] = field(default_factory=dict)
    search: list[dict[str, Any]] = field(default_factory=list)
    input_example: pd.DataFrame | None = None
    extra_metrics: dict[str, float] = field(default_factory=dict)
    selection: Selection | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.primary_metric not in LOWER_IS_BETTER


def plain_example(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """An input example MLflow can type: categoricals and pandas strings as plain text.

    Parameters
    ----------
    frame
        Some input rows, or None.

    Returns
    -------
    pandas.DataFrame or None
    """
    if frame is None:
        return None
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


# LightGBM threads per model. One: churn and LTV train side by side and alongside the
# recommender, and OpenMP's spin-waiting makes 2 threads per model far slower than 1 on a
# busy machine (7x the CPU on the shared 2-core machine). Column-wise histograms with
# ``deterministic`` grow the same trees on 1 thread as on 2 (Online Retail's churn and LTV
# metrics and search records compared equal); bagging would differ, it is off by default.
LIGHTGBM_THREADS = 1


def train_churn(
    train: list[Snapshot],
    val: Snapshot,
    test: Snapshot,
    config: ChurnConfig,
    *,
    seed: int,
    btyd_unit: str,
    horizon_days: int,
    baseline: Any = None,
    baseline_name: str = "rfm_logistic",
) -> TabularResult:
    """LightGBM churn model against a logistic baseline; the better on validation is served.

    ``baseline`` is an unfitted classifier (default: logistic regression on RFM).

    Parameters
    ----------
    train
        The training snapshots.
    val, test
        The validation and test snapshots.
    config
        The churn config.
    seed
        The experiment's seed.
    btyd_unit
        ``"W"`` or ``"D"``.
    horizon_days
        The label window.
    baseline
        An unfitted classifier, or None for the RFM logistic one.
    baseline_name
        Its report name.

    Returns
    -------
    TabularResult
    """
    X, y, _ = stack(train)
    calibration = None if config.calibration == "none" else config.calibration

    def make(params: dict[str, Any]) -> ChurnClassifier:
        return ChurnClassifier(
            **{
                "random_state": seed,
                "n_jobs": LIGHTGBM_THREADS,
                "calibration": calibration,
                **config.params,
                **params,
            }
        )

    def fit(model: Any) -> Any:
        return model.fit(X, y, X_val=val.X, y_val=val.churn)

    scored: dict[tuple[int, int], tuple[Any, np.ndarray]] = {}

    def proba(model: Any, frame: pd.DataFrame) -> np.ndarray:
        """P(churn) of ``frame`` (n,), computed once per model and frame (both kept alive)."""
        key = (id(model), id(frame))
        if key not in scored:
            scored[key] = (model, model.predict_proba(frame)[:, 1])
        return scored[key][1]

    def report(target: pd.Series, model: Any, frame: pd.DataFrame) -> dict[str, float]:
        return mt.classification_report(target, proba(model, frame))

    model, search = select_best(
        make,
        grid(config.search, seed),
        fit,
        lambda m: report(val.churn, m, val.X),
        config.primary_metric,
    )
    base = RFMLogisticBaseline() if baseline is None else baseline
    base.fit(X, y, X_val=val.X, y_val=val.churn)
    selection = _choose(
        {TUNED: model, baseline_name: base},
        lambda m: report(val.churn, m, val.X),
        config.primary_metric,
    )
    served = model if selection.served == TUNED else base
    p_model = proba(model, test.X)
    p_base = proba(base, test.X)
    scores = {"kizuna": p_model, baseline_name: p_base}
    figures = {
        "churn_roc.png": plots.roc_figure(test.churn.to_numpy(), scores),
        "churn_calibration.png": plots.calibration_figure(test.churn.to_numpy(), scores),
        "churn_gains.png": plots.gains_figure(test.churn.to_numpy(), scores),
        "churn_precision_recall.png": plots.precision_recall_figure(test.churn.to_numpy(), scores),
        **plots_model.model_figures("churn", model, test.X),
    }
    tuned_metrics = mt.classification_report(test.churn, p_model)
    calibrator = getattr(model, "calibrator_", None)
    return TabularResult(
        kind="churn",
        bundle=_bundle(served, X, val, test, btyd_unit=btyd_unit, horizon_days=horizon_days),
        metrics=report(test.churn, served, test.X),
        baselines={baseline_name: mt.classification_report(test.churn, p_base)},
        primary_metric=config.primary_metric,
        figures=figures,
        search=search,
        input_example=plain_example(test.X.head(5)),
        extra_metrics={
            "churn_rate_test": float(test.churn.mean()),
            "churn_rows_train": float(len(X)),
            "churn_rows_test": float(len(test.X)),
            **{f"lightgbm_{k}": v for k, v in tuned_metrics.items()},
            **{
                f"calibration_cv_log_loss_{k}": v
                for k, v in getattr(calibrator, "cv_log_loss_", {}).items()
            },
        },
        selection=selection,
    )


def _choose(
    candidates: dict[str, Any], score: Callable[[Any], dict[str, float]], primary: str
) -> Selection:
    """Score each fitted candidate on validation and choose the served one."""
    values = {name: float(score(model)[primary]) for name, model in candidates.items()}
    return choose_served(values, metric=primary, higher_is_better=primary not in LOWER_IS_BETTER)


def train_ltv(
    train: list[Snapshot],
    val: Snapshot,
    test: Snapshot,
    config: LTVConfig,
    *,
    seed: int,
    btyd_unit: str,
    horizon_days: int,
) -> TabularResult:
    """LightGBM horizon-revenue model against BG/NBD + Gamma-Gamma and last period's revenue.

    The better of the three on the validation snapshot is served.

    Parameters
    ----------
    train
        The training snapshots.
    val, test
        The validation and test snapshots.
    config
        The LTV config.
    seed
        The experiment's seed.
    btyd_unit
        ``"W"`` or ``"D"``.
    horizon_days
        The label window.

    Returns
    -------
    TabularResult
    """
    X, _, y = stack(train)

    def make(params: dict[str, Any]) -> LTVRegressor:
        return LTVRegressor(
            **{"random_state": seed, "n_jobs": LIGHTGBM_THREADS, **config.params, **params}
        )

    def fit(model: Any) -> Any:
        return model.fit(X, y, X_val=val.X, y_val=val.value)

    def validate(m: Any) -> dict[str, float]:
        return mr.regression_report(val.value, m.predict(val.X))

    model, search = select_best(
        make, grid(config.search, seed), fit, validate, config.primary_metric
    )
    # The naive "same as the last horizon" forecast: the bar any model must clear.
    columns = {"bgnbd_gamma_gamma": EXPECTED_VALUE, "last_period": f"revenue_{horizon_days}d"}
    forecasts = {
        name: ColumnForecast(column).fit(X)
        for name, column in columns.items()
        if column in X.columns and column in test.X.columns
    }
    selection = _choose({TUNED: model, **forecasts}, validate, config.primary_metric)
    served = model if selection.served == TUNED else forecasts[selection.served]
    predicted = model.predict(test.X)
    baselines = {}
    tables = {"kizuna": mr.decile_calibration(test.value, predicted)}
    for name, forecast in forecasts.items():
        values = forecast.predict(test.X)
        baselines[name] = mr.regression_report(test.value, values)
        if name == "bgnbd_gamma_gamma":
            tables[name] = mr.decile_calibration(test.value, values)
    tuned_metrics = mr.regression_report(test.value, predicted)
    band = BinnedQuantileInterval(0.1, 0.9).fit(served.predict(val.X), val.value.to_numpy())
    low, high = band.predict(served.predict(test.X))
    return TabularResult(
        kind="ltv",
        bundle=_bundle(served, X, val, test, btyd_unit=btyd_unit, horizon_days=horizon_days),
        metrics=mr.regression_report(test.value, served.predict(test.X)),
        baselines=baselines,
        primary_metric=config.primary_metric,
        figures={
            "ltv_decile_calibration.png": plots.decile_calibration_figure(tables),
            "ltv_residuals.png": plots_model.residual_figure(test.value.to_numpy(), predicted),
            **plots_model.model_figures("ltv", model, test.X),
        },
        search=search,
        input_example=plain_example(test.X.head(5)),
        extra_metrics={
            "ltv_clipped_targets": float(getattr(model, "n_clipped_", 0)),
            **{f"lightgbm_{k}": v for k, v in tuned_metrics.items()},
            # P10-P90 band from validation residuals; coverage should be near 0.8.
            "interval_p10_p90_coverage": coverage(low, high, test.value.to_numpy()),
            "interval_p10_p90_mean_width": float(np.mean(high - low)),
        },
        selection=selection,
    )


def _bundle(
    model: Any,
    X: pd.DataFrame,
    val: Snapshot,
    test: Snapshot,
    *,
    btyd_unit: str,
    horizon_days: int,
) -> TabularBundle:
    """The served model with the BTYD models of the latest snapshot, which make its inputs."""
    return TabularBundle(
        model=model,
        feature_columns=list(X.columns),
        bgnbd=test.bgnbd,
        gamma_gamma=test.gamma_gamma,
        btyd_unit=btyd_unit,
        horizon_days=horizon_days,
        trained_until=val.as_of,
    )
