"""The CPU kernels every kizuna process pins before NumPy loads, so results match across machines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kizuna.training.launch import (
    PINNED_KERNELS,
    cpu_flags,
    cpu_kernel_env,
    exit_status,
    pin_cpu_kernels,
)

AVX2 = {"sse4_2", "avx", "avx2", "fma"}


def test_an_avx2_x86_cpu_gets_the_haswell_kernels_whatever_its_vendor():
    assert cpu_kernel_env("x86_64", AVX2) == PINNED_KERNELS
    assert cpu_kernel_env("x86_64", AVX2 | {"avx512f", "avx512bw"}) == PINNED_KERNELS
    assert cpu_kernel_env("AMD64", AVX2)["OPENBLAS_CORETYPE"] == "Haswell"


def test_nothing_is_pinned_where_the_cpu_cannot_run_those_kernels():
    assert cpu_kernel_env("x86_64", {"sse4_2", "avx"}) == {}  # no AVX2: Haswell kernels fault
    assert cpu_kernel_env("x86_64", {"avx2"}) == {}  # AVX2 without FMA
    assert cpu_kernel_env("aarch64", {"asimd", "sve"}) == {}


def test_the_flags_come_from_cpuinfo(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma\nbugs\t\t: spectre\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx2", "fma"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_a_value_the_user_set_is_kept():
    environ = {"OPENBLAS_CORETYPE": "SkylakeX", "NPY_DISABLE_CPU_FEATURES": ""}
    pin_cpu_kernels(environ)
    assert environ["OPENBLAS_CORETYPE"] == "SkylakeX"
    assert environ["NPY_DISABLE_CPU_FEATURES"] == ""


def test_pinning_after_numpy_is_imported_says_it_is_too_late():
    import numpy  # noqa: F401  (this test process has it already)

    assert pin_cpu_kernels({}) is False


PROBE = """
import json, os
for name in ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES", "ARROW_USER_SIMD_LEVEL"):
    os.environ.pop(name, None)
from kizuna.training.launch import pin_cpu_kernels
before = pin_cpu_kernels()
import numpy, scipy.linalg
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
from threadpoolctl import threadpool_info
print(json.dumps({
    "before_numpy": before,
    "blas": sorted({i.get("architecture") for i in threadpool_info() if i["user_api"] == "blas"}),
    "loops": sorted(k for k in __cpu_dispatch__ if __cpu_features__.get(k)),
}))
"""


@pytest.mark.skipif(
    not cpu_kernel_env(__import__("platform").machine(), cpu_flags()),
    reason="this CPU has no kernels to pin (not x86-64 with AVX2 and FMA)",
)
def test_a_fresh_process_runs_numpy_and_both_openblas_copies_on_the_pinned_kernels():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    seen = json.loads(out)
    assert seen["before_numpy"] is True
    assert seen["blas"] == ["Haswell"]  # numpy's and scipy's OpenBLAS alike
    # NumPy dispatches to no AVX-512 loop (its names: X86_V4, AVX512_*).
    assert not [loop for loop in seen["loops"] if "512" in loop or loop == "X86_V4"]


def test_exit_status_follows_python_rules():
    assert exit_status(None) == 0
    assert exit_status(2) == 2
    assert exit_status("error: bad file") == 1  # sys.exit("...") prints and exits with 1


def run_kizuna(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kizuna.training.launch", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_ends_with_its_status_and_all_its_output(tmp_path: Path):
    done = run_kizuna("--help")
    assert done.returncode == 0
    assert "relationship-marketing" in done.stdout  # piped output is flushed before the end
    missing = run_kizuna("train", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2
    assert "error:" in missing.stderr and "Traceback" not in missing.stderr


def test_the_command_turns_mlflow_progress_bars_off_for_itself_and_its_servers():
    import os

    code = (
        "import os, kizuna.training.cli as c;"
        "c.main = lambda: print(os.environ['MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR']);"
        "from kizuna.training.launch import main; main()"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "false"
