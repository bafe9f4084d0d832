"""Warming the Python workers: the tiny shard runs the real feature path, once per slot."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from kizuna.training.engines.spark_warm import warm_python_workers, warm_shard


def test_the_warm_shard_builds_features_of_both_customers():
    # Customer "a" bought twice before as_of and returned once after; "b" bought once.
    assert warm_shard() == 2


@pytest.mark.spark
def test_one_warm_task_runs_per_task_slot(spark):
    with ThreadPoolExecutor(max_workers=1) as pool:
        warmed = warm_python_workers(spark, pool).result(timeout=120)
    # One row per slot, each the length of its one-row batch.
    assert warmed == spark.sparkContext.defaultParallelism == 2
