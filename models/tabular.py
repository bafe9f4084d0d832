"""Turn an arbitrary feature table into a LightGBM-ready frame, and train boosters on it.

The same code serves the behaviour vector built from an order log and a
contractual customer table of unknown shape (numbers, categories, free-text
categories, blanks, flags, dates), so no dataset needs code of its own: which
columns to drop or to force categorical is configuration.

Column kinds decided in ``fit`` (and replayed in ``transform``):

* ``numeric``: int/float columns (nullable too), passed through as float64.
* ``numeric_text``: text columns whose every non-blank value parses as a
  number (a CSV read with ``dtype=str``); parsed to float64.
* ``bool``: True/False -> 1/0 (missing -> NaN).
* ``category``: text, object and category columns -> pandas ``category`` whose
  categories are learned in ``fit``; blank strings and categories not learned
  become NaN, which LightGBM routes as missing.
* ``days``: datetimes -> days since 1970-01-01.
* ``duration``: timedeltas -> days.
* ``empty``: columns with no value at all -> all-NaN float (kept so that a
  serving request with the column filled in is still accepted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.reasons import (
    lightgbm_contributions,
    phrase_table,
    reference_points,
    top_reasons,
)

# LightGBM refuses these in feature names (they break its JSON model dump).
_UNSAFE_NAME = re.compile(r'[\s\[\]{}",:]')
_EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
_NS_PER_DAY = 86_400 * 10**9

ColumnKind = Literal["numeric", "numeric_text", "bool", "category", "days", "duration", "empty"]


def as_frame(X: Any) -> pd.DataFrame:
    """Accept a DataFrame as is, or name an array's columns ``x0, x1, ...``."""
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise KizunaInputError(f"features must be a 2-D table, got an array of shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def normalise_text(values: pd.Series) -> pd.Series:
    """Strip text, turn blanks into NA, and spell whole-number floats as integers.

    ``17850.0`` and ``"17850"`` must name the same category, since an integer
    code column with gaps is read by pandas as float.

    Parameters
    ----------
    values
        Shape (n,), any dtype.

    Returns
    -------
    pandas.Series
        Shape (n,), pandas ``string`` dtype with NA for missing and blank cells.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(arr) & (np.floor(arr) == arr)
        text = values.astype("string")
        text[whole] = pd.Series(arr[whole].astype(np.int64), index=values.index[whole]).astype(
            "string"
        )
        return text.mask(~np.isfinite(arr))
    if values.dtype == object:
        # Mixed object columns (numbers among strings): floats must follow the rule above.
        values = values.map(_spell_whole_float, na_action="ignore")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _spell_whole_float(value: Any) -> Any:
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return value


def _is_text_like(dtype: Any) -> bool:
    return (
        dtype == np.dtype(object)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _safe_names(columns: Sequence[str]) -> list[str]:
    """LightGBM-safe, unique names: ``"Monthly charges ($)"`` -> ``"Monthly_charges_($)"``."""
    out: list[str] = []
    seen: set[str] = set()
    for col in columns:
        name = _UNSAFE_NAME.sub("_", str(col)) or "feature"
        candidate, k = name, 2
        while candidate in seen:
            candidate, k = f"{name}__{k}", k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Make a LightGBM-ready frame from any feature table.

    Parameters
    ----------
    drop
        Columns to ignore (ids, labels, free text that is not a category).
    categorical
        Columns to treat as categories even if numeric (store codes, zip codes).
    datetimes
        ``"days"``: datetime columns become days since 1970-01-01 (timedeltas:
        days); ``"drop"``: they are dropped. Tenure relative to ``as_of`` is
        better computed by the feature builder, which knows ``as_of``.
    max_categories
        Keep only this many most frequent categories per column (ties broken by
        name); the rest become NaN. Stops an id-like text column from making
        one split per customer. ``None`` keeps all.

    Attributes
    ----------
    feature_names_in_ : numpy.ndarray of str
        Input columns the model uses, in order (required at ``transform``).
    feature_names_ : list of str
        Output column names (LightGBM-safe), aligned with ``feature_names_in_``.
    dtypes_ : dict of str -> str
        Column kind per input column (see module docstring).
    categories_ : dict of str -> list of str
        Learned categories per category column (sorted; a category's position is its code).
    category_codes_ : dict of str -> dict of str -> int
        The same, as lookups from category to code.
    dropped_ : list of str
        Input columns that were ignored (``drop`` and, with ``datetimes="drop"``, dates).
    """

    def __init__(
        self,
        *,
        drop: Sequence[str] = (),
        categorical: Sequence[str] = (),
        datetimes: Literal["days", "drop"] = "days",
        max_categories: int | None = 200,
    ) -> None:
        self.drop = drop
        self.categorical = categorical
        self.datetimes = datetimes
        self.max_categories = max_categories

    # -- fit -----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> TabularPreprocessor:
        """Learn column kinds and categories from ``X`` of shape (n_rows, n_columns)."""
        X = as_frame(X)
        if self.datetimes not in ("days", "drop"):
            raise KizunaInputError(
                f"datetimes must be 'days' or 'drop', got {self.datetimes!r}", column="datetimes"
            )
        if self.max_categories is not None and self.max_categories < 1:
            raise KizunaInputError("max_categories must be at least 1", column="max_categories")
        dup = X.columns[X.columns.duplicated()]
        if len(dup):
            raise KizunaInputError("feature columns must have unique names", values=dup)
        if len(X) == 0:
            raise KizunaInputError("cannot fit on an empty feature table")
        unknown = [c for c in (*self.drop, *self.categorical) if c not in X.columns]
        if unknown:
            raise KizunaInputError(
                f"drop/categorical name columns the table does not have; it has "
                f"{list(map(str, X.columns))}",
                column=str(unknown[0]),
                values=unknown,
            )

        forced = set(self.categorical)
        dtypes: dict[str, ColumnKind] = {}
        categories: dict[str, list[str]] = {}
        dropped: list[str] = [c for c in X.columns if c in set(self.drop)]
        for col in X.columns:
            if col in set(self.drop):
                continue
            kind = self._kind(X[col], forced=col in forced)
            if kind is None:
                dropped.append(col)
                continue
            if kind == "category":
                cats = self._learn_categories(normalise_text(X[col]))
                if not cats:
                    kind = "empty"
                else:
                    categories[col] = cats
            dtypes[col] = kind
            if kind in ("numeric", "numeric_text", "days", "duration"):
                self._check_finite(self._numeric(X[col], col, kind), col)
        if not dtypes:
            raise KizunaInputError(
                "no feature columns left after dropping", values=list(map(str, X.columns))
            )
        self.feature_names_in_ = np.asarray(list(dtypes), dtype=object)
        self.feature_names_ = _safe_names(list(dtypes))
        self.dtypes_ = dtypes
        self.categories_ = categories
        self.category_codes_ = {
            col: {cat: code for code, cat in enumerate(cats)} for col, cats in categories.items()
        }
        self.dropped_ = dropped
        self.n_features_in_ = len(dtypes)
        return self

    def _kind(self, values: pd.Series, *, forced: bool) -> ColumnKind | None:
        dtype = values.dtype
        if forced:
            return "category"
        if isinstance(dtype, pd.CategoricalDtype):
            return "category"
        if pd.api.types.is_bool_dtype(dtype):
            return "bool"
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return "days" if self.datetimes == "days" else None
        if pd.api.types.is_timedelta64_dtype(dtype):
            return "duration" if self.datetimes == "days" else None
        if pd.api.types.is_numeric_dtype(dtype):
            return "numeric" if values.notna().any() else "empty"
        if _is_text_like(dtype):
            text = normalise_text(values)
            present = text.notna()
            if not present.any():
                return "empty"
            # A text column that is all numbers (or all booleans) is data typed as text.
            if values.dtype == object and values[values.notna()].map(type).eq(bool).all():
                return "bool"
            parsed = pd.to_numeric(text[present], errors="coerce")
            return "numeric_text" if parsed.notna().all() else "category"
        raise KizunaInputError(f"unsupported column type {dtype}", column=str(values.name))

    def _learn_categories(self, text: pd.Series) -> list[str]:
        counts = text.value_counts(dropna=True)
        if counts.empty:
            return []
        order = pd.DataFrame({"cat": counts.index.astype(str), "n": counts.to_numpy()})
        order = order.sort_values(["n", "cat"], ascending=[False, True], kind="stable")
        if self.max_categories is not None:
            order = order.head(self.max_categories)
        return sorted(order["cat"].tolist())

    # -- transform -----------------------------------------------------------
    def transform(self, X: Any) -> pd.DataFrame:
        """Apply the learned kinds and categories.

        Parameters
        ----------
        X
            Shape (n_rows, n_columns); must hold every column in
            ``feature_names_in_`` (any order; extra columns are ignored).

        Returns
        -------
        pandas.DataFrame
            Shape (n_rows, n_features), columns ``feature_names_``: float64
            and ``category``; same index as ``X``. This is what LightGBM trains on.
        """
        X = as_frame(X)
        out: dict[str, Any] = {}
        for col, name, values in self._encode(X):
            if self.dtypes_[col] == "category":
                values = pd.Categorical.from_codes(values, categories=self.categories_[col])
            out[name] = values
        return pd.DataFrame(out, index=X.index)

    def transform_matrix(self, X: Any) -> np.ndarray:
        """The same as :meth:`transform`, as a float64 matrix of shape (n_rows, n_features).

        Category columns hold their category codes, missing and unseen as NaN,
        which is how LightGBM reads a ``category`` column internally. A booster
        trained on :meth:`transform` output predicts identically on this matrix,
        without the per-call cost of converting a DataFrame (most of a
        single-row request's time).
        """
        check_is_fitted(self, "dtypes_")
        X = as_frame(X)
        out = np.empty((len(X), self.n_features_in_))
        for j, (col, _, values) in enumerate(self._encode(X)):
            if self.dtypes_[col] == "category":
                values = np.where(values < 0, np.nan, values)
            out[:, j] = values
        return out

    def _encode(self, X: pd.DataFrame) -> Iterator[tuple[str, str, np.ndarray]]:
        """Yield (input column, output name, values): float64 or category codes (-1 = NaN)."""
        check_is_fitted(self, "dtypes_")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise KizunaInputError(
                f"missing column(s) the model was trained on: {missing}",
                column=str(missing[0]),
            )
        for col, name in zip(self.feature_names_in_, self.feature_names_, strict=True):
            kind = self.dtypes_[col]
            if kind == "category":
                # Unseen categories get code -1 (NaN): the set is fixed at fit.
                lookup = self.category_codes_[col]
                text = normalise_text(X[col]).to_numpy(dtype=object, na_value=None)
                values = np.fromiter(
                    (lookup.get(v, -1) for v in text), dtype=np.int64, count=len(text)
                )
            elif kind == "empty":
                values = self._empty(X[col], col)
            else:
                values = self._numeric(X[col], col, kind)
                self._check_finite(values, col)
            yield col, name, values

    def _numeric(self, values: pd.Series, col: str, kind: str) -> np.ndarray:
        """Shape (n,) float64 for numeric, numeric_text, bool and days columns."""
        dtype = values.dtype
        if kind == "duration":
            if not pd.api.types.is_timedelta64_dtype(dtype):
                text = normalise_text(values)
                values = pd.to_timedelta(text, errors="coerce")
                bad = text.notna() & values.isna()
                if bad.any():
                    raise KizunaInputError(
                        "expected durations as at training", column=col, values=text[bad].unique()
                    )
            ns = values.astype("timedelta64[ns]").to_numpy()
            return np.where(np.isnat(ns), np.nan, ns.astype(np.int64) / _NS_PER_DAY)
        if kind == "days":
            if isinstance(dtype, pd.DatetimeTZDtype):
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            elif not pd.api.types.is_datetime64_any_dtype(dtype):
                text = normalise_text(values)
                values = pd.to_datetime(text, errors="coerce")
                bad = text.notna() & values.isna()
                if bad.any():
                    raise KizunaInputError(
                        "expected dates as at training", column=col, values=text[bad].unique()
                    )
            ns = values.astype("datetime64[ns]").to_numpy()
            days = (ns - _EPOCH).astype("timedelta64[ns]").astype(np.int64) / _NS_PER_DAY
            return np.where(np.isnat(ns), np.nan, days)
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            return values.to_numpy(dtype=float, na_value=np.nan)
        # Text at this point: numbers written as text, or booleans sent as text/objects.
        text = normalise_text(values)
        if kind == "bool":
            lowered = text.str.lower()
            mapped = lowered.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0})
            bad = text.notna() & mapped.isna()
            parsed = mapped
        else:
            parsed = pd.to_numeric(text, errors="coerce")
            bad = text.notna() & parsed.isna()
        if bad.any():
            raise KizunaInputError(
                f"expected {'true/false' if kind == 'bool' else 'numbers'} as at training",
                column=col,
                values=values[bad.to_numpy()].unique(),
            )
        return parsed.astype("float64").to_numpy(dtype=float, na_value=np.nan)

    def _empty(self, values: pd.Series, col: str) -> np.ndarray:
        # The column held nothing at fit, so the model cannot use it; accept any content.
        return np.full(len(values), np.nan)

    @staticmethod
    def _check_finite(values: np.ndarray, col: str) -> None:
        bad = np.isinf(values)
        if bad.any():
            raise KizunaInputError(
                "infinite values; use NaN for 'unknown'", column=col, values=values[bad]
            )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "dtypes_")
        return np.asarray(self.feature_names_, dtype=object)

    def input_name(self, name: str) -> str:
        """The input column behind output column ``name``."""
        return dict(zip(self.feature_names_, self.feature_names_in_, strict=True))[name]


def check_binary_labels(y: Any, *, n_rows: int, name: str = "label") -> np.ndarray:
    """Labels as an int array of 0/1, failing loudly on anything else.

    Parameters
    ----------
    y
        Shape (n,): bool, 0/1 numbers.
    n_rows
        Expected length (rows of the feature table).

    Returns
    -------
    numpy.ndarray
        Shape (n,), int8 of 0 and 1.
    """
    series = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y.to_numpy())
    if len(series) != n_rows:
        raise KizunaInputError(
            f"{name} has {len(series)} values but the feature table has {n_rows} rows",
            column=name,
        )
    if series.isna().any():
        raise KizunaInputError(f"{int(series.isna().sum())} missing values", column=name)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.int8)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() | ~numbers.isin([0, 1])
    if bad.any():
        raise KizunaInputError(
            "expected 0/1 or true/false labels", column=name, values=series[bad].unique()
        )
    out = numbers.to_numpy(dtype=np.int8)
    if out.min() == out.max():
        raise KizunaInputError(
            f"needs both classes to learn from, but every value is {int(out[0])}", column=name
        )
    return out


def check_target(y: Any, *, n_rows: int, name: str = "target") -> np.ndarray:
    """A regression target as a finite float array of shape (n,)."""
    arr = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce").to_numpy(float)
    if len(arr) != n_rows:
        raise KizunaInputError(
            f"{name} has {len(arr)} values but the feature table has {n_rows} rows", column=name
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise KizunaInputError(
            f"{int(bad.sum())} missing or infinite values",
            column=name,
            values=np.asarray(y).ravel()[bad],
        )
    return arr


def fit_booster(
    params: Mapping[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    num_boost_round: int,
    X_val: pd.DataFrame | None = None,
    y_val: np.ndarray | None = None,
    early_stopping_rounds: int | None = None,
    init_score: np.ndarray | None = None,
    val_init_score: np.ndarray | None = None,
) -> lgb.Booster:
    """Train a LightGBM booster on transformed frames, with optional early stopping.

    Parameters
    ----------
    params
        LightGBM parameters (objective, learning rate, ...).
    X, y
        Shapes (n, p) and (n,).
    X_val, y_val
        Shapes (m, p) and (m,); when given and ``early_stopping_rounds`` is set,
        boosting stops when the validation metric has not improved for that many
        rounds, and the booster keeps the best iteration.
    init_score, val_init_score
        Shapes (n,) and (m,): raw scores boosting starts from (a prior model's
        margin); the booster then learns corrections to them.
    """
    train = lgb.Dataset(X, label=y, init_score=init_score, free_raw_data=True)
    valid_sets: list[lgb.Dataset] = []
    callbacks: list[Any] = []
    if X_val is not None and y_val is not None and early_stopping_rounds:
        valid_sets = [lgb.Dataset(X_val, label=y_val, init_score=val_init_score, reference=train)]
        callbacks.append(lgb.early_stopping(early_stopping_rounds, verbose=False))
    booster = lgb.train(
        dict(params),
        train,
        num_boost_round=num_boost_round,
        valid_sets=valid_sets or None,
        callbacks=callbacks,
    )
    if booster.best_iteration and booster.best_iteration > 0:
        # Make plain predict() use the best iteration, so serving needs no extra argument.
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    return booster


class BoostedTabularModel(BaseEstimator):
    """What the LightGBM classifier and regressor share: preprocessing, boosting, reasons.

    Subclasses set the LightGBM objective and how raw scores become outputs.
    Attributes set by :meth:`_fit_booster`: ``preprocessor_``, ``booster_``,
    ``reference_``, ``feature_names_in_``, ``n_features_in_``, ``n_iterations_``.
    """

    # Hyper-parameters shared by subclasses; listed so __init__ stays declarative.
    n_estimators: int
    learning_rate: float
    num_leaves: int
    min_child_samples: int
    subsample: float
    colsample_bytree: float
    reg_lambda: float
    early_stopping_rounds: int | None
    drop: Sequence[str]
    categorical: Sequence[str]
    datetimes: Literal["days", "drop"]
    max_categories: int | None
    random_state: int
    n_jobs: int | None
    num_threads: int
    reason_phrases: Mapping[str, Sequence[str]] | None

    def _lgb_params(self, **objective: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,  # skips LightGBM's timing probe; results do not depend on it
            "verbosity": -1,
        }
        if self.subsample < 1.0:
            params.update(bagging_fraction=self.subsample, bagging_freq=1)
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        params.update(objective)
        return params

    def _fit_booster(
        self,
        X: Any,
        y: np.ndarray,
        X_val: Any,
        y_val: np.ndarray | None,
        params: dict[str, Any],
        init_score: Any = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Fit preprocessing and booster; return the transformed train and validation frames."""
        if self.n_estimators < 1:
            raise KizunaInputError("n_estimators must be at least 1", column="n_estimators")
        phrase_table(self.reason_phrases)  # a bad phrase table fails at fit, not at serving
        X = as_frame(X)
        pre = TabularPreprocessor(
            drop=self.drop,
            categorical=self.categorical,
            datetimes=self.datetimes,
            max_categories=self.max_categories,
        ).fit(X)
        Xt = pre.transform(X)
        Xv = None if X_val is None else pre.transform(as_frame(X_val))
        self.preprocessor_ = pre  # init_score reads it to find its column
        margins = (
            (None, None)
            if init_score is None
            else (
                init_score(pre.transform_matrix(X)),
                None if X_val is None else init_score(pre.transform_matrix(as_frame(X_val))),
            )
        )
        self.booster_ = fit_booster(
            params,
            Xt,
            y,
            num_boost_round=self.n_estimators,
            X_val=Xv,
            y_val=y_val,
            early_stopping_rounds=self.early_stopping_rounds,
            init_score=margins[0],
            val_init_score=margins[1],
        )
        self.preprocessor_ = pre
        self.feature_names_in_ = pre.feature_names_in_
        self.n_features_in_ = pre.n_features_in_
        self.n_iterations_ = self.booster_.num_trees()
        self.reference_ = reference_points(Xt.set_axis(list(pre.feature_names_in_), axis=1))
        return Xt, Xv

    def transform_matrix(self, X: Any) -> np.ndarray:
        """Booster input for ``X`` (n, p) as a float matrix, shape (n, p).

        Serving keeps these rows per customer and calls :meth:`predict_matrix`
        and :meth:`reasons_matrix` on them, skipping the DataFrame conversion.
        """
        check_is_fitted(self, "booster_")
        return self.preprocessor_.transform_matrix(as_frame(X))

    def predict_matrix(self, M: np.ndarray) -> np.ndarray:
        """The model's score per row of a :meth:`transform_matrix` output, shape (n,)."""
        raise NotImplementedError

    def reasons_matrix(self, M: np.ndarray, *, top_n: int = 3) -> list[list[dict[str, Any]]]:
        """Up to ``top_n`` reasons per row of ``M`` (n, p) that the score is high.

        The one place reasons are phrased: :meth:`predict_with_reasons`, the
        service and the CRM export all call it, so custom ``reason_phrases``
        read the same everywhere. Reasons are dicts ``{"feature", "phrase",
        "contribution", "value"}``, contribution in raw booster units, largest first.
        """
        check_is_fitted(self, "booster_")
        M = np.asarray(M, dtype=np.float64)
        contrib = lightgbm_contributions(self.booster_, M, num_threads=self.num_threads)
        return top_reasons(
            contrib,
            self._values(M),
            reference=self.reference_,
            top_n=top_n,
            sign=1,
            phrases=phrase_table(self.reason_phrases),
        )

    def predict_with_reasons(
        self, X: Any, top_n: int = 3
    ) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Score (n,) and, per row, up to ``top_n`` reasons it is high (see :meth:`reasons_matrix`)."""
        M = self.transform_matrix(X)
        return self.predict_matrix(M), self.reasons_matrix(M, top_n=top_n)

    def _raw_score(self, M: np.ndarray | pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(M, raw_score=True, num_threads=self.num_threads))

    def _values(self, M: np.ndarray) -> pd.DataFrame:
        """The booster input with the user's column names and categories spelled out."""
        pre = self.preprocessor_
        cols: dict[str, Any] = {}
        for j, col in enumerate(pre.feature_names_in_):
            if pre.dtypes_[col] == "category":
                spelled = np.array([*pre.categories_[col], None], dtype=object)
                codes = np.where(np.isnan(M[:, j]), -1, M[:, j]).astype(np.int64)
                cols[col] = spelled[codes]  # code -1 picks the trailing None
            else:
                cols[col] = M[:, j]
        return pd.DataFrame(cols)

    def feature_importance(self, importance_type: str = "gain") -> pd.Series:
        """Importance per input column, shape (p,), descending."""
        check_is_fitted(self, "booster_")
        values = self.booster_.feature_importance(importance_type=importance_type)
        return pd.Series(
            values, index=list(self.feature_names_in_), name=importance_type
        ).sort_values(ascending=False, kind="stable")
