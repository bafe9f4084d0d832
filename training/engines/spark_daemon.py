"""Spark's Python daemon, with kizuna's shard functions imported before it forks workers.

Spark starts one daemon per executor (``spark.python.daemon.module``) and forks a
Python worker from it for each task slot. The stock daemon has imported only
pyspark, so every new worker spends seconds importing pandas, scikit-learn and
kizuna before it touches a row; forked from this one, workers start with them.
"""

from pyspark import daemon

import kizuna.training.engines.spark_pass  # noqa: F401  (features, validation, pandas, sklearn)
import kizuna.training.engines.spark_score  # noqa: F401

if __name__ == "__main__":
    daemon.manager()
