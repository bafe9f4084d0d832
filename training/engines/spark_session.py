"""The SparkSession kizuna runs on: an active one, or one built from standard settings.

Only this module and the other ``spark_*`` modules import pyspark, and only
inside functions, so that the pandas engine never needs Java.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
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
}
#: Tuning of the one JVM of local mode, which is driver and executor (and shares the
#: machine with the Python workers); a cluster keeps its own settings. Measured on
#: ``kizuna features`` of 10M lines on ``local[2]`` (BENCHMARKS.md, branch sparkratio2):
#: the JIT compiler threads took ~22 of ~105 CPU-seconds; compiling only methods four
#: times hotter than the default thresholds (``CompileThresholdScaling=4``) cut them to
#: ~15 without slowing the tasks (stopping at C1, ``TieredStopAtLevel=1``, made the
#: tasks 2x slower at 10M). A serial collector: GC work needs no coordination of
#: threads on a couple of cores (it replaces ParallelGC, itself chosen over G1 for
#: less CPU per GB collected).
LOCAL_JAVA_OPTIONS = "-XX:+UseSerialGC -XX:CompileThresholdScaling=4"
#: Spark's default logging, less the start-up lines nobody can act on in local mode.
LOCAL_LOG_CONFIG = Path(__file__).with_name("log4j2-local.properties")


#: Heap of the local-mode JVM, which is both driver and executor: a base, plus one
#: share per task slot. Spark spills shuffles and cached results to disk, so the
#: heap a run needs grows with the tasks in flight (each sorts and streams one
#: shard), not with the whole input; an input a few times smaller than this needs less.
LOCAL_HEAP_BASE_MB = 1024
LOCAL_HEAP_PER_CORE_MB = 1024
LOCAL_HEAP_PER_INPUT_BYTE = 4  # heap bytes per byte of input file, below the cap


def local_conf(
    master: str, input_bytes: int | None, class_archive: bool | str | Path = False
) -> dict[str, str]:
    """kizuna's defaults for a local-mode ``master`` (none for a cluster): the heap
    (:func:`local_driver_memory`), :data:`LOCAL_JAVA_OPTIONS` and :data:`LOCAL_LOG_CONFIG`, with the
    class-data archive's options (:mod:`training.engines.spark_classes`) unless
    ``class_archive`` is False (True: in its default folder; a path: there).

    Parameters
    ----------
    master
        The Spark master.
    input_bytes
        The transactions' size on disk, or None.
    class_archive
        False, True (the default folder) or the archive's folder.

    Returns
    -------
    dict of str -> str
        Spark configuration keys and values.
    """
    memory = local_driver_memory(master, input_bytes)
    if memory is None:
        return {}
    options = local_java_options()
    if class_archive is not False:
        from kizuna.training.engines.spark_classes import archive_options, default_folder

        folder = default_folder() if class_archive is True else Path(class_archive)
        options = f"{options} {archive_options(folder)}".strip()
    return {"spark.driver.memory": memory, "spark.driver.extraJavaOptions": options}


def local_java_options() -> str:
    """:data:`LOCAL_JAVA_OPTIONS` and the logging of :data:`LOCAL_LOG_CONFIG`.

    Returns
    -------
    str
    """
    return f"{LOCAL_JAVA_OPTIONS} -Dlog4j2.configurationFile={LOCAL_LOG_CONFIG.as_uri()}"


def local_cores(master: str) -> int | None:
    """Task slots of a local-mode ``master`` (``local``, ``local[N]``, ``local[*]``,
    ``local[N, retries]``); None for a cluster.

    Parameters
    ----------
    master
        The Spark master.

    Returns
    -------
    int or None
    """
    import re

    found = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if found is None:
        return None
    cores = found.group(1) or "1"
    return (os.cpu_count() or 1) if cores == "*" else int(cores)


def local_driver_memory(master: str, input_bytes: int | None) -> str | None:
    """``spark.driver.memory`` for ``master`` in local mode (None for a cluster).

    ``LOCAL_HEAP_BASE_MB`` plus ``LOCAL_HEAP_PER_CORE_MB`` per core of
    ``local[N]``, or :data:`LOCAL_HEAP_PER_INPUT_BYTE` times ``input_bytes`` (the
    transactions' size on disk) when that is less, never below the base.

    Parameters
    ----------
    master
        The Spark master.
    input_bytes
        The transactions' size on disk, or None.

    Returns
    -------
    str or None
    """
    n = local_cores(master)
    if n is None:
        return None
    cap = LOCAL_HEAP_BASE_MB + LOCAL_HEAP_PER_CORE_MB * n
    if input_bytes is not None:
        need = LOCAL_HEAP_PER_INPUT_BYTE * input_bytes // 2**20
        cap = max(LOCAL_HEAP_BASE_MB, min(cap, need))
    return f"{cap}m"


def input_bytes(path: Any) -> int | None:
    """Size on disk of a file or folder (None for a table name or a missing path).

    Parameters
    ----------
    path
        A file, a folder or a table name.

    Returns
    -------
    int or None
    """
    from pathlib import Path

    source = Path(str(path))
    if source.is_file():
        return source.stat().st_size
    if source.is_dir():
        return sum(f.stat().st_size for f in source.rglob("*") if f.is_file())
    return None


def require_pyspark() -> Any:
    """Import pyspark, or fail with one line saying how to get it and Java.

    Returns
    -------
    module
        ``pyspark``.
    """
    import warnings

    # pyspark 4 warns on every pandas conversion that it "does not yet fully support
    # pandas >= 3.0.0"; kizuna's Spark tests compare both engines under pandas 3.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    try:
        import pyspark
    except ImportError:
        raise KizunaInputError(
            "the Spark engine needs pyspark: pip install 'kizuna[spark]' (and Java 17+)"
        ) from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise KizunaInputError("the Spark engine needs Java 17+ (no java on PATH, no JAVA_HOME)")
    return pyspark


def spark_session(
    settings: dict | None = None, *, master: str | None = None, input_bytes: int | None = None
) -> Any:
    """The session to run on.

    An active session (kizuna called from a notebook or job) is used as it is,
    unless ``master`` asks for another; otherwise one is built from ``master``,
    else ``settings["master"]``, else ``local[*]``, with ``settings["conf"]``
    (any ``spark.*`` keys) on top of kizuna's defaults. In local mode the
    JVM's heap defaults to :func:`local_driver_memory` of ``input_bytes`` and its
    options to :data:`LOCAL_JAVA_OPTIONS` (:func:`local_conf`).

    Parameters
    ----------
    settings
        The experiment's ``spark:`` mapping (:class:`training.config.SparkConfig`).
    master
        ``--spark-master`` from the command line.
    input_bytes
        The transactions' size on disk, for the local heap; or None.

    Returns
    -------
    pyspark.sql.SparkSession
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    quiet_py4j_resends()
    settings = settings or {}
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        for key, value in REQUIRED_CONF.items():
            active.conf.set(key, value)
        return active
    # Python workers run the interpreter that runs kizuna, with kizuna installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = master or settings.get("master") or DEFAULT_MASTER
    builder = SparkSession.builder.appName("kizuna").master(master)
    archive = settings.get("class_archive", True)
    defaults = {**DEFAULT_CONF, **local_conf(master, input_bytes, archive)}
    for key, value in {**defaults, **(settings.get("conf") or {}), **REQUIRED_CONF}.items():
        builder = builder.config(key, str(value))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's refusal, in the user's terms
        conf = settings.get("conf") or {}
        raise KizunaInputError(
            f"Spark did not start (master {master}"
            + (f", spark.conf {conf}" if conf else "")
            + f"): {_first_cause(exc)}"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _first_cause(exc: BaseException) -> str:
    """The line of a Spark or Java error that says what is wrong (not its stack)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for line in lines:
        if line.startswith("[") or "Exception:" in line:
            return line[:400]
    return lines[0][:400] if lines else type(exc).__name__


_PY4J_RESEND = ("Exception while sending command", "KeyboardInterrupt while sending command")


class _Py4jResend(logging.Filter):
    """Drops py4j's "... while sending command" records: py4j logs them through the root
    logger (which prints them, traceback and all, on Ctrl-C) and then raises the same
    error to the caller, which reports it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_PY4J_RESEND)


def quiet_py4j_resends() -> None:
    """Install :class:`_Py4jResend` on the root logger, once per process."""
    root = logging.getLogger()
    if not any(isinstance(f, _Py4jResend) for f in root.filters):
        root.addFilter(_Py4jResend())


def arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text columns as Python objects, which pyspark's Arrow writer takes,
    and timestamps with nanoseconds cut to microseconds, which Spark keeps.

    pyspark 4 cannot convert pandas 3's Arrow-backed string columns directly,
    and Arrow refuses to drop a timestamp's nanoseconds (``...59.123456789``
    in an export) on its own.

    Parameters
    ----------
    frame
        The frame to hand to Spark, shape (n, k).

    Returns
    -------
    pandas.DataFrame
        Shape of ``frame``.
    """
    out = frame.copy(deep=False)
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.StringDtype) or isinstance(dtype, pd.CategoricalDtype):
            values = out[col].astype(object)
            out[col] = values.where(out[col].notna(), None)
        elif pd.api.types.is_datetime64_any_dtype(dtype) and out[col].dt.unit == "ns":
            stamps = out[col]
            ticks = stamps.array.asi8[stamps.notna().to_numpy()]
            if (ticks % 1000 != 0).any():
                out[col] = stamps.dt.floor("us")
    return out


#: Python's name of an encoding -> the charset Spark 4's readers accept for it.
# Not UTF-16 or UTF-32: Spark's line reader splits them on the byte of a newline, so a
# file read one extra line, with a replacement character at its end. Read on the driver.
_SPARK_CHARSETS = {
    "utf-8": "utf-8",
    "iso8859-1": "iso-8859-1",
    "ascii": "us-ascii",
}


def spark_charset(encoding: str) -> str | None:
    """The charset Spark reads ``encoding`` text with, or None when it cannot (cp1252).

    Parameters
    ----------
    encoding
        A Python codec name.

    Returns
    -------
    str or None
    """
    import codecs

    return _SPARK_CHARSETS.get(codecs.lookup(encoding).name)
