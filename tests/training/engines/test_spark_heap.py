"""The local-mode JVM heap kizuna asks for: a base plus a share per core, less for small inputs."""

from __future__ import annotations

from kizuna.training.engines.spark_session import (
    LOCAL_JAVA_OPTIONS,
    input_bytes,
    jvm_size,
    local_conf,
    local_driver_memory,
)

GB = 2**30


def test_heap_grows_with_the_cores_not_the_input():
    assert local_driver_memory("local[2]", None) == "3072m"  # 1 GB + 2 x 1 GB
    assert local_driver_memory("local[2]", 10 * GB) == "3072m"  # a big input: still the cap
    assert local_driver_memory("local[4, 3]", None) == "5120m"  # local[N, retries]
    assert local_driver_memory("local", None) == "2048m"  # one core


def test_a_small_input_gets_less_but_never_below_the_base():
    assert local_driver_memory("local[2]", 150 * 2**20) == "1800m"  # 12 bytes a byte of input
    assert local_driver_memory("local[2]", 10_000) == "1024m"


def test_a_cluster_master_is_left_to_its_own_settings():
    for master in ("yarn", "spark://host:7077", "k8s://https://api:6443"):
        assert local_driver_memory(master, None) is None


def test_jvm_tuning_is_for_local_mode_only():
    conf = local_conf("local[2]", None)
    assert conf == {
        "spark.driver.memory": "3072m",
        "spark.driver.extraJavaOptions": f"{LOCAL_JAVA_OPTIONS} -Xms3072m",
    }
    for master in ("yarn", "spark://host:7077", "k8s://https://api:6443"):
        assert local_conf(master, None) == {}
        assert local_conf(master, None, memory="8g") == {}


def test_the_heap_is_committed_from_the_start_at_the_size_in_force():
    ours = local_conf("local[2]", 150 * 2**20)["spark.driver.extraJavaOptions"]
    assert ours.endswith(" -Xms1800m")
    # The user's spark.driver.memory is the maximum, so it is the start too (never above it).
    theirs = local_conf("local[2]", 150 * 2**20, memory="512m")
    assert theirs["spark.driver.extraJavaOptions"].endswith(" -Xms512m")
    assert theirs["spark.driver.memory"] == "512m"
    unknown = local_conf("local[2]", None, memory="lots")["spark.driver.extraJavaOptions"]
    assert unknown == LOCAL_JAVA_OPTIONS  # left for Spark to reject


def test_spark_memory_settings_as_jvm_sizes():
    assert jvm_size("2g") == jvm_size("2GB") == jvm_size(" 2048m ") == "2048m"
    assert jvm_size("1536") == "1536m"  # Spark reads a bare number as MiB
    assert jvm_size("1t") == "1048576m"
    assert jvm_size("4096k") == "4m"
    for bad in ("lots", "1.5g", "-1g", ""):
        assert jvm_size(bad) is None


def test_input_bytes_of_a_file_a_folder_and_a_table_name(tmp_path):
    (tmp_path / "part-0.parquet").write_bytes(b"x" * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "part-1.parquet").write_bytes(b"y" * 50)
    assert input_bytes(tmp_path / "part-0.parquet") == 100
    assert input_bytes(tmp_path) == 150
    assert input_bytes("lake.orders") is None
