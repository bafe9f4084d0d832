"""The local-mode JVM heap kizuna asks for: a base plus a share per core, less for small inputs."""

from __future__ import annotations

from kizuna.training.engines.spark_session import (
    LOCAL_LOG_CONFIG,
    input_bytes,
    local_conf,
    local_driver_memory,
    local_java_options,
)

GB = 2**30


def test_heap_grows_with_the_cores_not_the_input():
    assert local_driver_memory("local[2]", None) == "3072m"  # 1 GB + 2 x 1 GB
    assert local_driver_memory("local[2]", 10 * GB) == "3072m"  # a big input: still the cap
    assert local_driver_memory("local[4, 3]", None) == "5120m"  # local[N, retries]
    assert local_driver_memory("local", None) == "2048m"  # one core


def test_a_small_input_gets_less_but_never_below_the_base():
    assert local_driver_memory("local[2]", 600 * 2**20) == "2400m"  # 4 bytes a byte of input
    assert local_driver_memory("local[2]", 10_000) == "1024m"


def test_a_cluster_master_is_left_to_its_own_settings():
    for master in ("yarn", "spark://host:7077", "k8s://https://api:6443"):
        assert local_driver_memory(master, None) is None


def test_jvm_tuning_is_for_local_mode_only():
    conf = local_conf("local[2]", None)
    assert conf == {
        "spark.driver.memory": "3072m",
        "spark.driver.extraJavaOptions": local_java_options(),
    }
    assert LOCAL_LOG_CONFIG.is_file()
    for master in ("yarn", "spark://host:7077", "k8s://https://api:6443"):
        assert local_conf(master, None) == {}


def test_input_bytes_of_a_file_a_folder_and_a_table_name(tmp_path):
    (tmp_path / "part-0.parquet").write_bytes(b"x" * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "part-1.parquet").write_bytes(b"y" * 50)
    assert input_bytes(tmp_path / "part-0.parquet") == 100
    assert input_bytes(tmp_path) == 150
    assert input_bytes("lake.orders") is None
