"""Customer shards on Spark: which shard a customer falls in, and one shard a partition.

A shard is every line of a set of customers (by their cleaned id,
:mod:`training.engines.spark_keys`). The shard numbers are chosen so that
Spark's hash partitioning on them puts exactly one shard in each partition
(:func:`even_shard_numbers`), so a pass over a partition is a pass over a shard.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

SHARD = "__shard"


def shard_key(col: Any, shards: int) -> Any:
    """Shard of a cleaned customer id (:mod:`training.engines.spark_keys`): equal id, equal
    shard. The shard numbers are :func:`even_shard_numbers`: partitioned on them, each
    of ``shards`` partitions holds one shard.

    Parameters
    ----------
    col
        A cleaned customer id column.
    shards
        Number of shards.

    Returns
    -------
    pyspark.sql.Column
    """
    from pyspark.sql import functions as F

    numbers = F.array(*(F.lit(v) for v in even_shard_numbers(shards)))
    return F.element_at(numbers, F.pmod(F.xxhash64(col), F.lit(shards)).cast("int") + 1)


def even_shard_numbers(shards: int) -> list[int]:
    """For each partition ``p`` of ``shards``, a number that Spark's hash partitioning
    (``repartition(shards, col)``, :func:`spark_int_hash`) sends to ``p``.

    Numbering shards 0..n-1 would put several shards in some partitions and leave
    others empty (the hash of the numbers is not a permutation).

    Parameters
    ----------
    shards
        Number of shards (and partitions).

    Returns
    -------
    list of int
    """
    found: dict[int, int] = {}
    value = 0
    while len(found) < shards:
        found.setdefault(spark_int_hash(value) % shards, value)
        value += 1
    return [found[p] for p in range(shards)]


def spark_int_hash(value: int, seed: int = 42) -> int:
    """Spark's ``hash()`` of an int column (Murmur3 x86 32-bit, seed 42), as a signed int.

    Parameters
    ----------
    value
        The int.
    seed
        The hash seed.

    Returns
    -------
    int
    """

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & 0xFFFFFFFF

    k1 = rotl((value & 0xFFFFFFFF) * 0xCC9E2D51 & 0xFFFFFFFF, 15) * 0x1B873593 & 0xFFFFFFFF
    h1 = (rotl(seed ^ k1, 13) * 5 + 0xE6546B64) & 0xFFFFFFFF
    h1 ^= 4  # the input's length in bytes
    h1 = (h1 ^ (h1 >> 16)) * 0x85EBCA6B & 0xFFFFFFFF
    h1 = (h1 ^ (h1 >> 13)) * 0xC2B2AE35 & 0xFFFFFFFF
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 >= 1 << 31 else h1


def shard_of_partition() -> int:
    """The shard a partition of :attr:`ShardPlan.by_customer` holds: its partition id
    (0 on the driver, where schema probes run a shard function on a few rows).

    Returns
    -------
    int
    """
    from pyspark import TaskContext

    task = TaskContext.get()
    return task.partitionId() if task is not None else 0


def whole_partition(batches: Any) -> pd.DataFrame | None:
    """All the Arrow batches of one partition as one frame (None when it is empty):
    the validator needs every line of a customer at once.

    Parameters
    ----------
    batches
        The partition's Arrow record batches.

    Returns
    -------
    pandas.DataFrame or None
    """
    frames = list(batches)
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
