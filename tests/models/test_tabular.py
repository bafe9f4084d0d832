"""TabularPreprocessor and label checks on tiny frames worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.models.column_kinds import ARROW_MIN_VALUES, category_codes, normalise_text
from kizuna.models.label_checks import check_binary_labels, check_target
from kizuna.models.preprocessing import TabularPreprocessor
from kizuna.models.tabular import fit_booster
from tests.models.estimator_contract import EstimatorContract


def _mixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["u1", "u2", "u3"],
            "n": pd.array([1, 2, None], dtype="Int64"),
            "f": [0.5, np.nan, 2.0],
            "b": [True, False, True],
            "c": ["a", " b", ""],
            "s": pd.array(["x", "y", "x"], dtype="string"),
            "cat": pd.Categorical(["lo", "hi", "lo"]),
            "num_txt": ["1.5", " ", "3"],
            "when": pd.to_datetime(["1970-01-02", "1970-01-11", None]),
            "wait": pd.to_timedelta(["12h", "2D", None]),
            "empty": ["", " ", None],
            "zip": [17850.0, 200.0, 17850.0],
        }
    )


@pytest.fixture
def fitted() -> TabularPreprocessor:
    return TabularPreprocessor(drop=("id",), categorical=("zip",)).fit(_mixed())


def test_column_kinds_and_categories(fitted: TabularPreprocessor) -> None:
    assert fitted.dtypes_ == {
        "n": "numeric",
        "f": "numeric",
        "b": "bool",
        "c": "category",
        "s": "category",
        "cat": "category",
        "num_txt": "numeric_text",
        "when": "days",
        "wait": "duration",
        "empty": "empty",
        "zip": "category",
    }
    assert fitted.categories_ == {
        "c": ["a", "b"],
        "s": ["x", "y"],
        "cat": ["hi", "lo"],
        "zip": ["17850", "200"],
    }
    assert fitted.dropped_ == ["id"]
    assert list(fitted.feature_names_in_) == list(fitted.dtypes_)


def test_transform_values(fitted: TabularPreprocessor) -> None:
    out = fitted.transform(_mixed())
    np.testing.assert_array_equal(out["n"], [1.0, 2.0, np.nan])
    np.testing.assert_array_equal(out["b"], [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(out["num_txt"], [1.5, np.nan, 3.0])
    np.testing.assert_array_equal(out["when"], [1.0, 10.0, np.nan])  # days since 1970-01-01
    np.testing.assert_array_equal(out["wait"], [0.5, 2.0, np.nan])
    assert out["empty"].isna().all()
    assert out["c"].tolist()[:2] == ["a", "b"] and pd.isna(out["c"].iloc[2])  # " b" stripped
    assert out["zip"].tolist() == ["17850", "200", "17850"]
    assert all(isinstance(out[c].dtype, pd.CategoricalDtype) for c in ("c", "s", "cat", "zip"))
    assert out.drop(columns=["c", "s", "cat", "zip"]).dtypes.eq("float64").all()
    assert out.index.equals(_mixed().index)


def test_unseen_categories_become_missing_and_integer_codes_match(
    fitted: TabularPreprocessor,
) -> None:
    request = _mixed().head(2).assign(c=["zzz", "a"], zip=[17850, 999])
    out = fitted.transform(request)
    assert pd.isna(out["c"].iloc[0]) and out["c"].iloc[1] == "a"
    assert out["zip"].iloc[0] == "17850" and pd.isna(out["zip"].iloc[1])
    assert list(out["c"].cat.categories) == ["a", "b"]


@pytest.mark.parametrize("dtype", ["str", "string[python]", "string[pyarrow]", object, "category"])
def test_category_codes_by_hand_for_every_text_dtype(dtype: object) -> None:
    # blanks and missing cells are NA, text is stripped, unseen values get -1
    values = pd.Series(["b", None, "zz", " a ", "", "17850", "b"], dtype=dtype)
    codes = category_codes(normalise_text(values), ["17850", "a", "b"])
    assert codes.dtype == np.int64
    assert codes.tolist() == [2, -1, -1, 1, -1, 0, 2]
    assert category_codes(normalise_text(values), []).tolist() == [-1] * 7
    # a long column goes through Arrow: the same codes
    long = pd.concat([values] * 200, ignore_index=True)
    assert len(long) >= ARROW_MIN_VALUES
    assert (
        category_codes(normalise_text(long), ["17850", "a", "b"]).tolist() == codes.tolist() * 200
    )


def test_category_codes_equal_a_lookup_per_cell() -> None:
    rng = np.random.default_rng(3)
    cats = sorted(f"c{i}" for i in range(50))
    values = pd.Series(rng.choice([*cats, "unseen", " c7", "", "\u00e9"], 5_000), dtype="str")
    values[rng.random(5_000) < 0.1] = None
    text = normalise_text(values)
    lookup = {c: i for i, c in enumerate(cats)}
    expected = [lookup.get(v, -1) for v in text.to_numpy(dtype=object, na_value=None)]
    assert category_codes(text, cats).tolist() == expected


def test_matrix_codes_of_unseen_and_missing_categories(fitted: TabularPreprocessor) -> None:
    request = pd.concat([_mixed()] * 2, ignore_index=True).head(5)
    request["c"] = pd.Series(["b", None, "zzz", " a ", ""], dtype="str")
    request["s"] = pd.array(["y", pd.NA, "x", "w", "x"], dtype="string")
    M = fitted.transform_matrix(request)
    col = list(fitted.feature_names_in_)
    np.testing.assert_array_equal(M[:, col.index("c")], [1.0, np.nan, np.nan, 0.0, np.nan])
    np.testing.assert_array_equal(M[:, col.index("s")], [1.0, np.nan, 0.0, np.nan, 0.0])


def test_serving_json_text_is_parsed_like_training(fitted: TabularPreprocessor) -> None:
    request = (
        _mixed()
        .head(1)
        .astype(object)
        .assign(n="7", f="0.25", b="false", when="1970-01-03", wait="1 days 06:00:00")
    )
    out = fitted.transform(request)
    assert out[["n", "f", "b", "when", "wait"]].iloc[0].tolist() == [7.0, 0.25, 0.0, 2.0, 1.25]


def test_text_in_a_numeric_column_is_named(fitted: TabularPreprocessor) -> None:
    with pytest.raises(KizunaInputError, match=r"'f'.*'abc'"):
        fitted.transform(_mixed().astype({"f": object}).assign(f=[1.0, "abc", 2.0]))


def test_missing_columns_are_all_named(fitted: TabularPreprocessor) -> None:
    with pytest.raises(KizunaInputError, match=r"\['n', 'zip'\]"):
        fitted.transform(_mixed().drop(columns=["zip", "n"]))


def test_dropped_and_extra_columns_are_not_required(fitted: TabularPreprocessor) -> None:
    request = _mixed().drop(columns=["id"]).assign(extra=1)
    pd.testing.assert_frame_equal(
        fitted.transform(request[request.columns[::-1]]), fitted.transform(_mixed())
    )


def test_datetimes_can_be_dropped() -> None:
    pre = TabularPreprocessor(datetimes="drop").fit(_mixed()[["f", "when", "wait"]])
    assert list(pre.feature_names_in_) == ["f"] and pre.dropped_ == ["when", "wait"]


def test_max_categories_keeps_the_most_frequent() -> None:
    X = pd.DataFrame({"c": ["a", "a", "a", "b", "b", "c", "d"]})
    pre = TabularPreprocessor(max_categories=2).fit(X)
    assert pre.categories_["c"] == ["a", "b"]
    assert pre.transform(X)["c"].isna().tolist() == [False] * 5 + [True] * 2


def test_unsafe_names_are_made_lightgbm_safe_and_trainable() -> None:
    X = pd.DataFrame(
        {
            "Monthly charges ($)": [1.0, 2.0, 3.0, 4.0] * 10,
            "a b": [0.0, 1.0] * 20,
            "a_b": [1.0, 0.0] * 20,
            '{"x":1}': 1.0,
        }
    )
    pre = TabularPreprocessor().fit(X)
    assert pre.feature_names_ == ["Monthly_charges_($)", "a_b", "a_b__2", "__x__1_"]
    assert pre.input_name("a_b__2") == "a_b"
    booster = fit_booster(
        {"objective": "regression", "verbosity": -1, "min_data_in_leaf": 2},
        pre.transform(X),
        np.arange(40.0),
        num_boost_round=2,
    )
    assert booster.feature_name() == pre.feature_names_


def test_infinite_values_are_refused() -> None:
    with pytest.raises(KizunaInputError, match="'r'.*infinite"):
        TabularPreprocessor().fit(pd.DataFrame({"r": [1.0, np.inf]}))


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (pd.DataFrame({"a": []}), "empty"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "unique"),
        (pd.DataFrame({"a": [1]}), "no feature columns"),
    ],
)
def test_unusable_tables_are_refused(X: pd.DataFrame, message: str) -> None:
    drop = ("a",) if message == "no feature columns" else ()
    with pytest.raises(KizunaInputError, match=message):
        TabularPreprocessor(drop=drop).fit(X)


def test_unknown_config_columns_are_named() -> None:
    with pytest.raises(KizunaInputError, match="'customer_id'"):
        TabularPreprocessor(drop=("customer_id",)).fit(pd.DataFrame({"a": [1.0]}))


def test_normalise_text_spells_whole_floats_as_integers() -> None:
    out = normalise_text(pd.Series([17850.0, 1.5, np.nan]))
    assert out.tolist()[:2] == ["17850", "1.5"] and pd.isna(out.iloc[2])
    mixed = normalise_text(pd.Series([3.0, " x ", None], dtype=object))
    assert mixed.tolist()[:2] == ["3", "x"] and pd.isna(mixed.iloc[2])


def test_binary_labels() -> None:
    np.testing.assert_array_equal(check_binary_labels([True, False], n_rows=2), [1, 0])
    np.testing.assert_array_equal(check_binary_labels(["1", "0"], n_rows=2), [1, 0])
    with pytest.raises(KizunaInputError, match="'yes'"):
        check_binary_labels(["yes", "no"], n_rows=2)
    with pytest.raises(KizunaInputError, match="missing"):
        check_binary_labels([1.0, np.nan], n_rows=2)
    with pytest.raises(KizunaInputError, match="both classes"):
        check_binary_labels([1, 1], n_rows=2)


def test_regression_target() -> None:
    np.testing.assert_array_equal(check_target([0, 2.5], n_rows=2), [0.0, 2.5])
    with pytest.raises(KizunaInputError, match="1 missing or infinite"):
        check_target([0.0, np.inf], n_rows=2)


def test_early_stopping_keeps_only_the_best_iteration() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=400)})
    y = X["x"].to_numpy() + rng.normal(size=400)
    X_val = pd.DataFrame({"x": rng.normal(size=400)})
    y_val = X_val["x"].to_numpy() + rng.normal(size=400)
    params = {
        "objective": "regression",
        "verbosity": -1,
        "learning_rate": 0.5,
        "num_leaves": 31,
        "min_data_in_leaf": 2,
        "num_threads": 1,
    }
    booster = fit_booster(
        params, X, y, X_val=X_val, y_val=y_val, num_boost_round=200, early_stopping_rounds=5
    )
    assert booster.num_trees() < 200
    full = fit_booster(params, X, y, num_boost_round=booster.num_trees())
    np.testing.assert_allclose(booster.predict(X_val), full.predict(X_val))


def test_matrix_and_frame_give_the_same_booster_predictions() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b", "c", ""], 300)})
    y = X["x"].to_numpy() + (X["c"] == "b") * 2.0
    pre = TabularPreprocessor().fit(X)
    booster = fit_booster(
        {"objective": "regression", "verbosity": -1, "min_data_in_leaf": 5, "num_threads": 1},
        pre.transform(X),
        y,
        num_boost_round=20,
    )
    request = X.head(20).assign(c=["zzz"] * 5 + X["c"].head(15).tolist())  # unseen included
    matrix = pre.transform_matrix(request)
    assert matrix.shape == (20, 2) and np.isnan(matrix[:5, 1]).all()
    np.testing.assert_array_equal(booster.predict(matrix), booster.predict(pre.transform(request)))
    np.testing.assert_array_equal(
        booster.predict(matrix, pred_contrib=True),
        booster.predict(pre.transform(request), pred_contrib=True),
    )


@pytest.mark.parametrize("estimator", ["churn", "ltv"])
def test_labels_in_another_order_or_an_empty_table_are_refused(estimator):
    from kizuna.models.churn import ChurnClassifier
    from kizuna.models.ltv import LTVRegressor

    X = pd.DataFrame({"a": np.arange(40.0)}, index=[f"c{i}" for i in range(40)])
    y = pd.Series(np.arange(40) % 2, index=X.index, dtype=float)
    model = (
        ChurnClassifier(n_estimators=5) if estimator == "churn" else LTVRegressor(n_estimators=5)
    )
    with pytest.raises(KizunaInputError, match="in another order"):
        model.fit(X, y.sample(frac=1, random_state=0))
    with pytest.raises(KizunaInputError, match="empty feature table"):
        model.fit(X.iloc[:0], y.iloc[:0])


def test_an_array_of_another_width_is_refused_not_matched_by_position() -> None:
    # A model fitted on an array took 5 columns (or shifted ones) at predict and matched
    # them by position: silently wrong numbers. Named columns may still come in any number.
    from kizuna.models.churn import ChurnClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    model = ChurnClassifier(n_estimators=20, calibration=None).fit(X, y)
    assert model.predict_proba(X).shape == (300, 2)
    for wider in (np.c_[X, X[:, 0]], X[:, :3]):
        with pytest.raises(KizunaInputError, match="columns but the model was fitted on 4"):
            model.predict_proba(wider)
    named = pd.DataFrame(X, columns=list("abcd"))
    fitted = ChurnClassifier(n_estimators=20, calibration=None).fit(named, y)
    np.testing.assert_array_equal(
        fitted.predict_proba(named.assign(extra=1.0)), fitted.predict_proba(named)
    )


class TestTabularPreprocessorContract(EstimatorContract):
    """The preprocessing every boosted model fits, under the shared estimator rules."""

    def make_estimator(self) -> TabularPreprocessor:
        return TabularPreprocessor(drop=("customer_id",), max_categories=2)

    def make_data(self) -> dict:
        X = pd.DataFrame(
            {
                "customer_id": ["a", "b", "c", "d"],
                "spend": [1.0, np.nan, 3.0, 4.0],
                "channel": ["web", "store", "web", "app"],
            }
        )
        return {"X": X}

    def fit(self, est: TabularPreprocessor, data: dict) -> TabularPreprocessor:
        return est.fit(data["X"])

    def outputs(self, est: TabularPreprocessor, data: dict) -> list[np.ndarray]:
        return [est.transform_matrix(data["X"])]

    def bad_settings(self) -> dict:
        return {"datetimes": "weeks", "max_categories": 0}

    def bad_data(self, data: dict) -> list[tuple[dict, str]]:
        return [({"X": data["X"].head(0)}, "empty")]

    def test_matrix_by_hand(self, fitted: TabularPreprocessor, data: dict) -> None:
        # Two most frequent channels kept (web 2, then app/store tied: by name, app);
        # store becomes missing; codes follow the sorted categories.
        M = fitted.transform_matrix(data["X"])
        assert list(fitted.feature_names_in_) == ["spend", "channel"]
        np.testing.assert_array_equal(M[:, 0], [1.0, np.nan, 3.0, 4.0])
        np.testing.assert_array_equal(M[:, 1], [1.0, np.nan, 1.0, 0.0])
