"""Shard numbers that Spark's hash partitioning spreads one to a partition.

Numbering S shards 0..S-1 and partitioning on them put two or three shards in
some partitions and none in others (at 1M lines both shards in one: one core
did the pass); :func:`even_shard_numbers` picks numbers whose Spark hash lands
each in its own partition, from Spark's Murmur3 computed in Python.
"""

from __future__ import annotations

import pytest

from kizuna.training.engines.spark_shards import even_shard_numbers, spark_int_hash

pytestmark = pytest.mark.spark


def test_the_python_hash_is_sparks(spark):
    from pyspark.sql import functions as F

    values = spark.range(-300, 3000).select(F.col("id").cast("int").alias("v"))
    rows = values.select("v", F.hash("v").alias("h")).collect()
    assert [spark_int_hash(r["v"]) for r in rows] == [r["h"] for r in rows]


@pytest.mark.parametrize("shards", [2, 3, 22])
def test_each_partition_gets_one_shard(spark, shards):
    numbers = even_shard_numbers(shards)
    assert len(set(numbers)) == shards
    frame = spark.createDataFrame([(v,) for v in numbers], "shard int").repartition(shards, "shard")
    assert sorted(frame.rdd.glom().map(len).collect()) == [1] * shards
