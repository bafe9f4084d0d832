"""The contractual split: shares, seed, and by signup date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.training.config import ExperimentConfig, SplitConfig
from kizuna.training.splits import contractual_split

N = 100
X = pd.DataFrame(
    {"signup_date": pd.date_range("2020-01-01", periods=N, freq="D")[::-1], "x": np.arange(N)}
)
Y = pd.Series(np.arange(N) % 3 == 0, dtype=int)


def test_shares_are_honoured_and_the_seed_decides():
    split = SplitConfig(test_share=0.3, validation_share=0.1, by="random", seed=1)
    tr, va, te = contractual_split(X, Y, split, seed=0)
    assert (len(tr), len(va), len(te)) == (60, 10, 30)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(N))
    again = contractual_split(X, Y, split, seed=99)  # split.seed wins over the experiment's
    assert all((a == b).all() for a, b in zip((tr, va, te), again, strict=True))
    other = contractual_split(X, Y, split.model_copy(update={"seed": 2}), seed=0)
    assert not (np.sort(other[2]) == np.sort(te)).all()


def test_by_signup_date_puts_the_newest_customers_in_test():
    tr, va, te = contractual_split(X, Y, SplitConfig(by="signup_date"), seed=0)
    newest = X["signup_date"].iloc[te].min()
    assert newest > X["signup_date"].iloc[va].max() > X["signup_date"].iloc[tr].max()
    assert len(te) == 20 and len(va) == 20


def test_by_signup_date_without_dates_fails():
    with pytest.raises(KizunaInputError, match="signup_date"):
        contractual_split(X[["x"]], Y, SplitConfig(by="signup_date"), seed=0)


def test_a_customers_only_experiment_needs_no_as_of_but_transactions_do():
    config = ExperimentConfig.model_validate(
        {"name": "c", "data": {"customers": "c.csv"}, "churn": {"mode": "contractual"}}
    )
    assert config.split.as_of is None
    with pytest.raises(ValueError, match="as_of is required"):
        ExperimentConfig.model_validate({"name": "t", "data": {"transactions": "t.csv"}})
    with pytest.raises(ValueError, match="at least 10%"):
        SplitConfig(test_share=0.5, validation_share=0.45)
