"""One local SparkSession per test session, and the data both engines are compared on.

Skips with the reason when pyspark or Java 17+ is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
}


def java_major() -> int | None:
    """Major version of the ``java`` on PATH (or JAVA_HOME), None without one."""
    java = shutil.which("java")
    if os.environ.get("JAVA_HOME"):
        java = str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    if not java or not Path(java).exists():
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2)) if major == 1 else major


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'kizuna[spark]'")
    major = java_major()
    if major is None or major < 17:
        pytest.skip(f"the Spark engine needs Java 17+; found {major or 'no java'}")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from kizuna.training.engines.spark_session import spark_session

    # No class-data archive: a test run writes nothing under the home folder.
    session = spark_session({"master": "local[2]", "conf": TEST_CONF, "class_archive": False})
    yield session
    session.stop()
