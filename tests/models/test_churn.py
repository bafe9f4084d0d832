"""Churn classifiers on synthetic data whose true churn probabilities are known."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.features.tables import validate_customers
from kizuna.models.churn import ChurnClassifier
from kizuna.models.churn_baseline import RFMLogisticBaseline
from kizuna.training.metrics_tabular import brier, roc_auc
from tests.models.classifier_contract import ClassifierContract, make_churn_data

FAST = {"n_estimators": 80, "learning_rate": 0.1, "num_leaves": 7, "n_jobs": 1}

# The pipeline trains on one snapshot and calibrates on a later one, whose
# churn base rate has moved; the holdout comes from the later regime too.
DRIFT = 0.7


class TestChurnClassifierContract(ClassifierContract):
    def make_estimator(self) -> ChurnClassifier:
        return ChurnClassifier(**FAST)


class TestRFMBaselineContract(ClassifierContract):
    def make_estimator(self) -> RFMLogisticBaseline:
        return RFMLogisticBaseline()


@pytest.fixture(scope="module")
def drifted() -> dict[str, tuple[pd.DataFrame, np.ndarray, np.ndarray]]:
    return {
        "train": make_churn_data(4000, seed=10),
        "val": make_churn_data(3000, seed=11, shift=DRIFT),
        "test": make_churn_data(4000, seed=12, shift=DRIFT),
    }


@pytest.fixture(scope="module")
def churn_model(drifted: dict) -> ChurnClassifier:
    X, y, _ = drifted["train"]
    X_val, y_val, _ = drifted["val"]
    return ChurnClassifier(**FAST).fit(X, y, X_val=X_val, y_val=y_val)


def test_auc_and_brier_close_to_the_true_probabilities(
    drifted: dict, churn_model: ChurnClassifier
) -> None:
    X_test, y_test, p_true = drifted["test"]
    p = churn_model.predict_proba(X_test)[:, 1]
    bayes_auc = roc_auc(y_test, p_true)  # the best any model can do on these labels
    assert roc_auc(y_test, p) > bayes_auc - 0.03
    assert brier(y_test, p) < brier(y_test, p_true) + 0.01


def test_calibration_on_the_later_snapshot_corrects_base_rate_drift(drifted: dict) -> None:
    X, y, _ = drifted["train"]
    X_val, y_val, _ = drifted["val"]
    X_test, y_test, p_true = drifted["test"]
    raw = ChurnClassifier(**FAST, calibration=None).fit(X, y, X_val=X_val, y_val=y_val)
    for method in ("isotonic", "sigmoid"):
        cal = ChurnClassifier(**FAST, calibration=method).fit(X, y, X_val=X_val, y_val=y_val)
        p_cal = cal.predict_proba(X_test)[:, 1]
        assert cal.calibrator_.method_ == method
        assert abs(p_cal.mean() - p_true.mean()) < 0.02
        assert brier(y_test, p_cal) < brier(y_test, raw.predict_proba(X_test)[:, 1]) - 0.005
    # Without calibration the model keeps the training snapshot's lower base rate.
    assert p_true.mean() - raw.predict_proba(X_test)[:, 1].mean() > 0.05


def test_lightgbm_beats_the_rfm_baseline_when_trend_matters(
    drifted: dict, churn_model: ChurnClassifier
) -> None:
    X, y, _ = drifted["train"]
    X_val, y_val, _ = drifted["val"]
    X_test, y_test, _ = drifted["test"]
    baseline = RFMLogisticBaseline().fit(X, y, X_val=X_val, y_val=y_val)
    assert baseline.columns_ == ("recency_days", "frequency", "monetary_mean")
    auc_lgb = roc_auc(y_test, churn_model.predict_proba(X_test)[:, 1])
    auc_base = roc_auc(y_test, baseline.predict_proba(X_test)[:, 1])
    assert auc_base > 0.6  # recency alone carries signal
    assert auc_lgb > auc_base + 0.05


def test_reason_codes_name_the_true_driver(churn_model: ChurnClassifier) -> None:
    # Two made-up customers: one lapsed with a flat trend, one recent with falling spend.
    X = pd.DataFrame(
        {
            "recency_days": [250.0, 5.0],
            "trend": [0.0, -2.5],
            "frequency": [3.0, 3.0],
            "monetary_mean": [20.0, 20.0],
            "orders_90d": [1.0, 1.0],
            "noise": [0.0, 0.0],
            "channel": ["web", "web"],
        }
    )
    proba, reasons = churn_model.predict_with_reasons(X, top_n=3)
    assert proba.shape == (2,) and np.all(proba > 0.5)
    lapsed, falling = reasons
    assert lapsed[0]["feature"] == "recency_days"
    assert lapsed[0]["phrase"] == "Long time since last purchase (250 days)"
    assert falling[0]["feature"] == "trend"
    assert falling[0]["phrase"] == "Spending is falling"


def test_rfm_baseline_reasons_follow_its_coefficients(drifted: dict) -> None:
    X, y, _ = drifted["train"]
    baseline = RFMLogisticBaseline(calibration=None).fit(X, y)
    assert baseline.model_.coef_[0][0] > 0  # churn rises with recency
    X_one = X.head(1).assign(recency_days=400.0)
    _, reasons = baseline.predict_with_reasons(X_one, top_n=1)
    assert reasons[0][0]["feature"] == "recency_days"
    assert reasons[0][0]["phrase"].startswith("Long time since last purchase (400 days)")


def test_baseline_reads_the_btyd_summary_when_rfm_columns_are_absent() -> None:
    rng = np.random.default_rng(3)
    n = 600
    X = pd.DataFrame(
        {
            "repeat_periods": rng.poisson(2, n).astype(float),
            "recency": rng.uniform(0, 200, n),
            "T": rng.uniform(200, 400, n),
            "monetary_value": rng.gamma(2, 20, n),
        }
    )
    # Lapsed = long gap between last purchase and now.
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["T"] - X["recency"] - 200) / 40))).astype(int)
    model = RFMLogisticBaseline(calibration=None).fit(X, y)
    assert model.columns_ == ("repeat_periods", "recency", "T", "monetary_value")
    assert roc_auc(y, model.predict_proba(X)[:, 1]) > 0.7


def test_baseline_without_rfm_columns_says_which_it_needs() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(KizunaInputError, match="recency_days"):
        RFMLogisticBaseline().fit(X, [0, 1, 0, 1])


def test_early_stopping_keeps_the_best_iteration(drifted: dict) -> None:
    X, y, _ = drifted["train"]
    X_val, y_val, _ = drifted["val"]
    model = ChurnClassifier(
        n_estimators=400, learning_rate=0.3, num_leaves=15, n_jobs=1, early_stopping_rounds=10
    ).fit(X, y, X_val=X_val, y_val=y_val)
    assert model.n_iterations_ < 400
    assert model.booster_.num_trees() == model.n_iterations_


def test_booster_serves_directly_with_one_thread(
    churn_model: ChurnClassifier, drifted: dict
) -> None:
    X_test = drifted["test"][0].head(1)
    raw = churn_model.booster_.predict(
        churn_model.preprocessor_.transform(X_test), raw_score=True, num_threads=1
    )
    expected = churn_model.calibrator_.transform(raw)
    np.testing.assert_allclose(churn_model.predict_proba(X_test)[:, 1], expected)


def test_no_validation_split_warns_and_leaves_probabilities_uncalibrated(drifted: dict) -> None:
    X, y, _ = drifted["train"]
    with pytest.warns(UserWarning, match="uncalibrated"):
        model = ChurnClassifier(**FAST).fit(X, y)
    assert model.calibrator_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ChurnClassifier(**FAST, calibration=None).fit(X, y)


def test_validation_labels_must_come_with_validation_features(drifted: dict) -> None:
    X, y, _ = drifted["train"]
    with pytest.raises(KizunaInputError, match="X_val"):
        ChurnClassifier(**FAST).fit(X, y, X_val=X)


# --- contractual mode ------------------------------------------------------------


def _customer_table(n: int, *, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A raw contractual export: id, yes/no label and messy attribute columns.

    True churn log-odds = 1.5 [plan == basic] - 0.08 tenure_months + 0.02 (monthly_charges - 50).
    """
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], n)
    tenure = rng.integers(1, 60, n)
    charges = rng.uniform(20, 120, n)
    logit = 1.5 * (plan == "basic") - 0.08 * tenure + 0.02 * (charges - 50)
    p = 1 / (1 + np.exp(-logit))
    churned = rng.random(n) < p
    charges_text = np.round(charges, 2).astype(str).astype(object)
    charges_text[rng.random(n) < 0.05] = " "  # blanks, as in real exports
    table = pd.DataFrame(
        {
            "CustomerID": [f"C{seed}-{i:05d}" for i in range(n)],
            "Plan Type": plan,
            "tenure_months": tenure,
            "MonthlyCharges": charges_text,
            "City": rng.choice(["  Osaka", "Tokyo ", "Kyoto", "Nagoya"], n),
            "Notes": [""] * n,
            "paperless": rng.random(n) < 0.5,
            "signup_date": (
                pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
            ).astype(str),
            "Churn": np.where(churned, "Yes", "No"),
        }
    )
    return table, p


def test_contractual_table_trains_with_configuration_only() -> None:
    # Everything dataset-specific is a value an experiment file would hold.
    config = {"customer_col": "CustomerID", "label_col": "Churn"}
    phrases = {"tenure_months": ["Long contract history", "New subscriber ({value} months)"]}

    def split(raw: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        table = validate_customers(raw, **config)
        return table.drop(columns=[config["label_col"]]), table[config["label_col"]].to_numpy()

    X, y = split(_customer_table(3000, seed=0)[0])
    X_val, y_val = split(_customer_table(1500, seed=1)[0])
    raw_test, p_true = _customer_table(2000, seed=2)
    X_test, y_test = split(raw_test)

    model = ChurnClassifier(**FAST, reason_phrases=phrases).fit(X, y, X_val=X_val, y_val=y_val)
    kinds = model.preprocessor_.dtypes_
    assert kinds["Plan Type"] == "category" and kinds["City"] == "category"
    assert kinds["MonthlyCharges"] == "numeric_text" and kinds["Notes"] == "empty"
    assert kinds["paperless"] == "bool" and kinds["signup_date"] == "days"
    assert model.preprocessor_.categories_["City"] == ["Kyoto", "Nagoya", "Osaka", "Tokyo"]

    p = model.predict_proba(X_test)[:, 1]
    assert roc_auc(y_test, p) > roc_auc(y_test, p_true) - 0.04
    _, reasons = model.predict_with_reasons(X_test[X_test["Plan Type"] == "basic"].head(20))
    said = {r["phrase"] for row in reasons for r in row}
    assert "Plan type: basic" in said
    _, reasons = model.predict_with_reasons(X_test.assign(tenure_months=2).head(5), top_n=5)
    assert all("New subscriber (2 months)" in {r["phrase"] for r in row} for row in reasons)

    # A serving request with a plan the model never saw still gets a score.
    unseen = X_test.head(1).assign(**{"Plan Type": "enterprise"})
    assert np.isfinite(model.predict_proba(unseen)).all()


def test_a_bad_reason_phrase_table_fails_at_fit(drifted: dict) -> None:
    X, y, _ = drifted["train"]
    with pytest.raises(KizunaInputError, match="recency_days"):
        ChurnClassifier(
            **FAST, calibration=None, reason_phrases={"recency_days": ["only one text"]}
        ).fit(X, y)
