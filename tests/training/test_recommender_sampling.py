"""Large-shop sampling in recommender training: a fixed hashed sample of customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.training.config import RecommenderConfig
from kizuna.training.recommender_eval import holdout_split
from kizuna.training.recommender_splits import hashed_sample
from kizuna.training.train_reranker import train_reranker
from tests.models.test_reranker import FAST, _cycle_shop


def _split(as_of: str = "2024-05-10", days: int = 7):
    return holdout_split(_cycle_shop(), pd.Timestamp(as_of), days)


def test_small_splits_and_no_cap_are_returned_unchanged():
    split = _split()
    assert hashed_sample(split, None) is split
    assert hashed_sample(split, len(split.user_codes)) is split


def test_the_sample_is_the_lowest_id_hashes_and_keeps_truth_rows_aligned():
    split = _split()
    sample = hashed_sample(split, 30)
    assert len(sample.user_codes) == 30
    ids = split.train.user_ids[split.user_codes].astype(str)
    hashes = pd.Series(pd.util.hash_array(np.asarray(ids, dtype=object)), index=ids)
    chosen = split.train.user_ids[sample.user_codes].astype(str)
    # Determined by the ids alone: every customer left out hashes above every one kept.
    assert hashes[chosen].max() < hashes.drop(chosen).min()
    assert np.all(np.diff(sample.user_codes) > 0)  # still sorted, as tune_blend expects
    rows = np.searchsorted(split.user_codes, sample.user_codes)
    for mode in ("all", "new"):
        assert (sample.truth[mode] != split.truth[mode][rows]).nnz == 0
    assert hashed_sample(split, 30).user_codes.tolist() == sample.user_codes.tolist()


def test_reranker_learns_from_the_capped_windows_only():
    tx = _cycle_shop()
    as_of = pd.Timestamp("2024-05-10")
    splits = [holdout_split(tx, as_of - pd.Timedelta(days=7 * j), 7) for j in (2, 1, 0)]
    args = (tx, splits[:2], splits[1], splits[2])
    kw = {"k": 5, "params": FAST, "selection_params": FAST, "seed": 0}
    full = train_reranker(*args, **kw)
    capped = train_reranker(*args, **kw, max_users=40)
    again = train_reranker(*args, **kw, max_users=40)
    dump = {m: b.model_to_string() for m, b in capped.model.rankers_.items()}
    assert dump == {m: b.model_to_string() for m, b in again.model.rankers_.items()}
    assert dump != {m: b.model_to_string() for m, b in full.model.rankers_.items()}
    assert capped.model.rankers_["all"].num_trees() > 0


def test_caps_are_configurable_and_off_with_null():
    config = RecommenderConfig.model_validate({"rerank_max_users": None, "validation_max_users": 5})
    assert config.rerank_max_users is None and config.validation_max_users == 5


def test_default_caps_leave_the_readme_shops_whole():
    # The README's figures use every customer: the demo shop (kizuna demo's default size)
    # and Online Retail (4,338 customers) are below both caps.
    from kizuna.simulators.synthetic.config import ShopConfig

    config = RecommenderConfig()
    smallest = min(config.rerank_max_users, config.validation_max_users)
    assert max(ShopConfig().n_customers, 4_338) <= smallest


def test_a_validation_cutoff_before_the_data_names_the_users_as_of():
    import pytest

    from kizuna.features.errors import KizunaInputError
    from kizuna.training.recommender_splits import time_or_random_splits

    tx = _cycle_shop()
    first = tx["timestamp"].min()
    as_of = first + pd.Timedelta(days=5)
    with pytest.raises(KizunaInputError, match=f"split.as_of {as_of:%Y-%m-%d}") as caught:
        time_or_random_splits(tx, as_of, as_of - pd.Timedelta(days=7), 7, RecommenderConfig(), 0)
    assert f"the data starts {first:%Y-%m-%d}" in str(caught.value)
