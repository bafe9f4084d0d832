"""Turn an arbitrary feature table into a LightGBM-ready frame: :class:`TabularPreprocessor`.

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

from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.column_kinds import (
    ColumnKind,
    category_codes,
    check_finite,
    column_kind,
    learn_categories,
    normalise_text,
    safe_names,
    to_float,
)


def as_frame(X: Any) -> pd.DataFrame:
    """Accept a DataFrame as is, or name an array's columns ``x0, x1, ...``.

    Parameters
    ----------
    X
        A DataFrame, or an array of shape (n, p).

    Returns
    -------
    pandas.DataFrame
        Shape (n, p).
    """
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise KizunaInputError(f"features must be a 2-D table, got an array of shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _positional(names: list[Any]) -> bool:
    """Whether ``names`` are the ``x0, x1, ...`` that :func:`as_frame` gives an array."""
    return names == [f"x{i}" for i in range(len(names))]


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
        """Learn column kinds and categories from ``X`` of shape (n_rows, n_columns).

        Parameters
        ----------
        X
            Features, shape (n_rows, n_columns): a DataFrame or an array.
        y
            Ignored (scikit-learn's signature).

        Returns
        -------
        TabularPreprocessor
            ``self``.
        """
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
            kind = column_kind(X[col], forced=col in forced, datetimes=self.datetimes)
            if kind is None:
                dropped.append(col)
                continue
            if kind == "category":
                cats = learn_categories(normalise_text(X[col]), self.max_categories)
                if not cats:
                    kind = "empty"
                else:
                    categories[col] = cats
            dtypes[col] = kind
            if kind in ("numeric", "numeric_text", "days", "duration"):
                check_finite(to_float(X[col], col, kind), col)
        if not dtypes:
            raise KizunaInputError(
                "no feature columns left after dropping", values=list(map(str, X.columns))
            )
        self.feature_names_in_ = np.asarray(list(dtypes), dtype=object)
        self.feature_names_ = safe_names(list(dtypes))
        self.dtypes_ = dtypes
        self.categories_ = categories
        self.category_codes_ = {
            col: {cat: code for code, cat in enumerate(cats)} for col, cats in categories.items()
        }
        self.dropped_ = dropped
        self.n_features_in_ = len(dtypes)
        return self

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

        Parameters
        ----------
        X
            Features, shape (n_rows, n_columns), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n_rows, n_features), float64.
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
        fitted, given = list(self.feature_names_in_), list(X.columns)
        if _positional(fitted) and _positional(given) and len(given) != len(fitted):
            # Arrays have no names: their columns match by position, so the width must too.
            raise KizunaInputError(
                f"X has {len(given)} columns but the model was fitted on {len(fitted)} "
                "(array columns are matched by position)",
                column="X",
            )
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
                values = category_codes(
                    normalise_text(X[col]), self.categories_[col], self.category_codes_[col]
                )
            elif kind == "empty":
                values = self._empty(X[col], col)
            else:
                values = to_float(X[col], col, kind)
                check_finite(values, col)
            yield col, name, values

    def _empty(self, values: pd.Series, col: str) -> np.ndarray:
        # The column held nothing at fit, so the model cannot use it; accept any content.
        return np.full(len(values), np.nan)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "dtypes_")
        return np.asarray(self.feature_names_, dtype=object)

    def input_name(self, name: str) -> str:
        """The input column behind output column ``name``.

        Parameters
        ----------
        name
            A column of the output (:meth:`get_feature_names_out`).

        Returns
        -------
        str
        """
        return dict(zip(self.feature_names_, self.feature_names_in_, strict=True))[name]
