"""The tabular stage in a child process: the same results as in this one, and its errors here."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.training.config import ExperimentConfig
from kizuna.training.pipeline import tabular_kinds, uses_tabular_stage
from kizuna.training.tabular_process import TabularProcess, portable_error
from kizuna.training.tabular_stage import train_tabular_stage


@pytest.fixture(scope="module")
def shop() -> tuple[ExperimentConfig, pd.DataFrame]:
    from kizuna.features.validate import validate_transactions
    from kizuna.simulators.synthetic import ShopConfig, generate_shop

    tx = validate_transactions(generate_shop(ShopConfig(n_customers=400, seed=3)).transactions).kept
    config = ExperimentConfig.model_validate(
        {
            "name": "child",
            "data": {"transactions": "unused.parquet"},
            "split": {"as_of": "2024-10-01", "horizon_days": 90, "train_snapshots": 1},
            "churn": {"params": {"n_estimators": 30}},
            "ltv": {"params": {"n_estimators": 30}},
        }
    )
    return config, tx


@pytest.mark.parametrize("in_process", [False, True], ids=["child", "in process"])
def test_the_child_gives_the_results_of_this_process(shop, in_process):
    config, tx = shop
    args = (config, tx, None, None, tabular_kinds(config))
    here = train_tabular_stage(*args)
    stage = TabularProcess(in_process=in_process).start()
    assert (stage.process is None) == in_process  # the fallback where pass_fds is missing
    there = stage.train(*args)
    stage.stop()
    pd.testing.assert_frame_equal(there[0].X, here[0].X)
    assert set(there[1]) == set(here[1]) == {"churn", "ltv"}
    for kind in ("churn", "ltv"):
        assert there[1][kind].metrics == here[1][kind].metrics
        assert there[1][kind].figures == here[1][kind].figures  # the same PNG bytes
    assert there[2] == here[2]  # next-order metrics


def test_a_user_error_in_the_child_arrives_as_itself(shop):
    config, tx = shop
    early = config.model_copy(
        update={"split": config.split.model_copy(update={"as_of": "2023-01-05"})}
    )
    with pytest.raises(KizunaInputError) as err:  # no customer before as_of
        TabularProcess().start().train(early, tx, None, None, ["churn", "ltv"])
    assert "no customer has a purchase before as_of" in str(err.value)  # as the CLI prints
    assert any("raised in the tabular process" in note for note in err.value.__notes__)


def test_a_child_that_dies_is_reported_with_its_exit_code(shop):
    config, tx = shop
    child = TabularProcess().start()
    child.process.kill()
    child.process.wait()
    with pytest.raises(RuntimeError, match="ended without a result .exit code -9"):
        child.train(config, tx, None, None, ["churn"])


def test_an_unused_child_is_stopped():
    child = TabularProcess().start()
    child.stop()
    assert child.process.poll() is not None
    child.stop()  # twice is harmless


def test_errors_cross_with_their_type_and_data_or_as_text():
    user = KizunaInputError("bad values", column="price", values=[-1, -2])
    copy = pickle.loads(pickle.dumps(portable_error(user)))
    assert type(copy) is KizunaInputError and str(copy) == str(user)
    assert (copy.column, copy.values) == ("price", [-1, -2])
    odd = ValueError("no")
    odd.callback = lambda: None  # a lambda does not pickle
    text = portable_error(odd)
    assert type(text) is RuntimeError and "ValueError in the tabular process" in str(text)


def test_which_experiments_need_the_stage():
    base = {"name": "x", "data": {"transactions": "t.csv"}, "split": {"as_of": "2024-01-01"}}
    assert uses_tabular_stage(ExperimentConfig.model_validate(base))
    off = {**base, "churn": {"enabled": False}, "ltv": {"enabled": False}}
    assert not uses_tabular_stage(ExperimentConfig.model_validate(off))
    contractual = {**off, "churn": {"mode": "contractual"}}
    assert tabular_kinds(ExperimentConfig.model_validate(contractual)) == []
    no_log = {"name": "x", "data": {"customers": "c.csv"}, "churn": {"mode": "contractual"}}
    assert not uses_tabular_stage(ExperimentConfig.model_validate(no_log))


def test_a_script_that_trains_at_module_level_works(tmp_path):
    """The child does not re-run the caller's main script (as multiprocessing's spawn would)."""
    import subprocess
    import sys

    script = tmp_path / "train_here.py"
    script.write_text(
        "from kizuna.training.tabular_process import TabularProcess\n"
        "child = TabularProcess().start()\n"
        "try:\n"
        "    child.train(None)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "TypeError"  # the stage's own error for a bad call, once
