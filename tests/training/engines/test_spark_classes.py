"""The local-mode JVM's class-data archive: made once, checked, then mapped."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kizuna.training.engines import spark_classes
from kizuna.training.engines.spark_classes import ARCHIVE_MAGIC, archive_key, archive_options
from kizuna.training.engines.spark_session import local_conf, local_java_options
from tests.training.engines.conftest import java_major

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def java() -> Path:
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'kizuna[spark]'")
    major = java_major()
    if major is None or major < 17:
        pytest.skip(f"class-data archives need Java 17+; found {major or 'no java'}")
    found = spark_classes.java_binary()
    assert found is not None
    return found


@pytest.fixture(scope="module")
def small_archive(java: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real dynamic archive: the classes ``java -version`` loads."""
    path = tmp_path_factory.mktemp("jsa") / "small.jsa"
    subprocess.run([str(java), f"-XX:ArchiveClassesAtExit={path}", "-version"], check=True,
                   capture_output=True)  # fmt: skip
    assert path.read_bytes()[:4] == ARCHIVE_MAGIC
    return path


def key_now(java: Path) -> str:
    import pyspark

    return archive_key(java, Path(pyspark.__file__).parent / "jars")


def dump(folder: Path, key: str, content: bytes, name: str = "a", *, age: float = 60.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"spark-{key}.{name}.part"
    part.write_bytes(content)
    old = part.stat().st_mtime - age
    os.utime(part, (old, old))
    return part


def test_no_archive_yet_dumps_into_a_file_of_its_own(java, tmp_path):
    first, second = archive_options(tmp_path / "c"), archive_options(tmp_path / "c")
    assert first.startswith(f"-XX:ArchiveClassesAtExit={tmp_path / 'c'}/spark-{key_now(java)}.")
    assert first.split()[0].endswith(".part") and first.split()[0] != second.split()[0]
    assert "-Xlog:disable" in first


def test_a_finished_dump_is_checked_then_mapped(java, small_archive, tmp_path):
    key = key_now(java)
    part = dump(tmp_path, key, small_archive.read_bytes())
    options = archive_options(tmp_path)
    final = tmp_path / f"spark-{key}.jsa"
    assert options.split()[0] == f"-XX:SharedArchiveFile={final}"
    assert final.read_bytes() == small_archive.read_bytes() and not part.exists()
    assert archive_options(tmp_path) == options  # mapped from now on


def test_broken_dumps_are_deleted_and_a_fresh_one_left_alone(java, small_archive, tmp_path):
    key = key_now(java)
    whole = small_archive.read_bytes()
    cut = dump(tmp_path, key, whole[: len(whole) // 2], "cut")  # header, half the regions
    blank = dump(tmp_path, key, bytes(len(whole)), "blank")  # cut short before the header
    fresh = dump(tmp_path, key, whole, "fresh", age=0.0)  # perhaps still being written
    options = archive_options(tmp_path)
    assert not cut.exists() and not blank.exists() and fresh.exists()
    assert options.startswith("-XX:ArchiveClassesAtExit=")
    assert not (tmp_path / f"spark-{key}.jsa").exists()


def test_the_key_follows_the_jars(tmp_path):
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_bytes(b"java")
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "a.jar").write_bytes(b"a")
    before = archive_key(java, jars)
    assert archive_key(java, jars) == before
    (jars / "b.jar").write_bytes(b"b")
    assert archive_key(java, jars) != before


def test_local_conf_adds_the_archive_unless_told_not_to(java, tmp_path):
    options = local_conf("local[2]", None, tmp_path)["spark.driver.extraJavaOptions"]
    assert options.startswith(local_java_options() + " -XX:ArchiveClassesAtExit=" + str(tmp_path))
    off = local_conf("local[2]", None, False)["spark.driver.extraJavaOptions"]
    assert off == local_java_options()
    assert local_conf("spark://cluster:7077", None, tmp_path) == {}  # a cluster's own settings


def test_mapping_marks_the_archive_used_and_deletes_dumps_it_makes_useless(
    java, small_archive, tmp_path
):
    key = key_now(java)
    final = tmp_path / f"spark-{key}.jsa"
    final.write_bytes(small_archive.read_bytes())
    long_ago = final.stat().st_mtime - 2 * spark_classes.STALE_SECONDS
    os.utime(final, (long_ago, long_ago))
    stale = dump(tmp_path, "0" * 16, b"old", age=2 * spark_classes.STALE_SECONDS)
    stale_archive = stale.with_name(f"spark-{'0' * 16}.jsa")
    stale.rename(stale_archive)
    in_use = dump(tmp_path, "1" * 16, b"another venv's", age=60.0)
    second = dump(tmp_path, key, small_archive.read_bytes(), "second")  # a useless twin
    writing = dump(tmp_path, key, small_archive.read_bytes(), "writing", age=0.0)
    assert archive_options(tmp_path).startswith(f"-XX:SharedArchiveFile={final}")
    assert final.stat().st_mtime > long_ago + spark_classes.STALE_SECONDS  # used just now
    assert not stale_archive.exists() and in_use.exists()
    assert not second.exists() and writing.exists()
