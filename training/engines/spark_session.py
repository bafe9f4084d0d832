"""The SparkSession kizuna runs on: an active one, or one built from standard settings.

Only this module and the other ``spark_*`` modules import pyspark, and only
inside functions, so that the pandas engine never needs Java.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import pandas as pd

from kizuna.features.errors import KizunaInputError

DEFAULT_MASTER = "local[*]"
#: Settings kizuna relies on: one clock (UTC) for naive timestamps, Arrow for pandas UDFs.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
DEFAULT_CONF = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    # Workers forked with kizuna already imported (training.engines.spark_daemon).
    "spark.python.daemon.module": "kizuna.training.engines.spark_daemon",
    # The throughput collector: less CPU per GB collected than G1 (local mode: the
    # executor runs in the driver's JVM).
    "spark.driver.extraJavaOptions": "-XX:+UseParallelGC",
}


def require_pyspark() -> Any:
    """Import pyspark, or fail with one line saying how to get it and Java."""
    try:
        import pyspark
    except ImportError:
        raise KizunaInputError(
            "the Spark engine needs pyspark: pip install 'kizuna[spark]' (and Java 17+)"
        ) from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise KizunaInputError("the Spark engine needs Java 17+ (no java on PATH, no JAVA_HOME)")
    return pyspark


def spark_session(settings: dict | None = None, *, master: str | None = None) -> Any:
    """The session to run on.

    An active session (kizuna called from a notebook or job) is used as it is,
    unless ``master`` asks for another; otherwise one is built from ``master``,
    else ``settings["master"]``, else ``local[*]``, with ``settings["conf"]``
    (any ``spark.*`` keys) on top of kizuna's defaults.

    Parameters
    ----------
    settings
        The experiment's ``spark:`` mapping (:class:`training.config.SparkConfig`).
    master
        ``--spark-master`` from the command line.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    settings = settings or {}
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        for key, value in REQUIRED_CONF.items():
            active.conf.set(key, value)
        return active
    # Python workers run the interpreter that runs kizuna, with kizuna installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("kizuna").master(
        master or settings.get("master") or DEFAULT_MASTER
    )
    for key, value in {**DEFAULT_CONF, **(settings.get("conf") or {}), **REQUIRED_CONF}.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text columns as Python objects, which pyspark's Arrow writer takes.

    pyspark 4 cannot convert pandas 3's Arrow-backed string columns directly.
    """
    out = frame.copy(deep=False)
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.StringDtype) or isinstance(dtype, pd.CategoricalDtype):
            values = out[col].astype(object)
            out[col] = values.where(out[col].notna(), None)
    return out
