"""What every ``kizuna`` process starts with, and how it ends: the one place for process-wide setup.

:func:`main` (the console script) pins the CPU kernels (below), turns MLflow's
usage telemetry off (no network at run time) and ends the process once its
exit handlers have run.

The same CPU kernels on every x86-64 machine:

NumPy chooses its SIMD loops (AVX-512 or AVX2), OpenBLAS its kernels (SkylakeX,
Haswell, ...) and Arrow its SIMD level from the CPU when they load, and the
choices round differently. The same code, config, seed and package versions
trained on Online Retail gave NDCG@10 (``new``) 0.1312 with OpenBLAS's SkylakeX
kernels (an AVX-512 Intel machine) and 0.1331 with its Haswell ones (an AMD
machine), because ALS's conjugate-gradient steps call BLAS; NumPy's AVX-512
loops moved the LTV metrics in their eighth digit. Pinning all three to the
AVX2 + FMA level, which every x86-64 server CPU since 2013 has, makes results
bit-identical across such machines whatever their vendor.

The libraries read these settings once, when they load, so
:func:`pin_cpu_kernels` must run before NumPy is imported: the console script's
entry point is :func:`main`, which pins and only then imports the CLI (and with
it NumPy); every process kizuna starts (Spark's Python workers, the serving
workers) inherits the environment. A value the user has set is kept: set
``OPENBLAS_CORETYPE``, ``NPY_DISABLE_CPU_FEATURES`` (empty for none) or
``ARROW_USER_SIMD_LEVEL`` to choose other kernels, at the cost of results that
differ between machines.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import signal
import sys
from collections.abc import MutableMapping
from pathlib import Path

# NumPy's names for the AVX-512 groups, in every NumPy 1.26-2.x (a name the
# installed version does not know is ignored, a name it does is switched off).
NUMPY_AVX512 = (
    "X86_V4 AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL "
    "AVX512_ICL AVX512_SPR AVX512FP16"
)
PINNED_KERNELS = {
    "OPENBLAS_CORETYPE": "Haswell",  # OpenBLAS's AVX2 + FMA kernels
    "NPY_DISABLE_CPU_FEATURES": NUMPY_AVX512,
    "ARROW_USER_SIMD_LEVEL": "AVX2",
}


def cpu_kernel_env(machine: str, cpu_flags: set[str]) -> dict[str, str]:
    """The environment that pins the kernels on this CPU; empty where there is nothing to pin.

    Parameters
    ----------
    machine
        ``platform.machine()``.
    cpu_flags
        The CPU's feature flags (``/proc/cpuinfo``'s ``flags``).

    Returns
    -------
    dict
        :data:`PINNED_KERNELS` on an x86-64 CPU with AVX2 and FMA, else ``{}``:
        an older x86 CPU cannot run the Haswell kernels, and other architectures
        have no such choice to pin here.
    """
    if machine.lower() not in ("x86_64", "amd64") or not {"avx2", "fma"} <= cpu_flags:
        return {}
    return dict(PINNED_KERNELS)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as Linux reports them (empty where it does not).

    Parameters
    ----------
    cpuinfo
        Linux's CPU description.

    Returns
    -------
    set of str
    """
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return set(value.split())
    return set()


def pin_cpu_kernels(environ: MutableMapping[str, str] | None = None) -> bool:
    """Set :data:`PINNED_KERNELS` in ``environ`` (default ``os.environ``) where not already set.

    Parameters
    ----------
    environ
        The environment to set, or None for ``os.environ``.

    Returns
    -------
    bool
        False when NumPy is already imported in this process, so the pin can no
        longer take effect here (it still does in the processes started after).
    """
    environ = os.environ if environ is None else environ
    for name, value in cpu_kernel_env(platform.machine(), cpu_flags()).items():
        environ.setdefault(name, value)
    return "numpy" not in sys.modules


def main() -> None:
    """The ``kizuna`` console script: pin the CPU kernels, then run the command line.

    MLflow's telemetry is off (it would reach the network, and flush at exit),
    unless the user set ``MLFLOW_DISABLE_TELEMETRY`` themselves, and so are its
    download progress bars (``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``: in a log
    they are a line per update), for this command and the servers it starts. When the command
    is done and every exit handler has run (logging flushed, MLflow's queues
    drained, Spark stopped), the process ends without tearing its interpreter
    down: that frees every model, frame and module one by one, 1.7 s after a
    ``kizuna train``, to no one's benefit.
    """
    pin_cpu_kernels()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    status = [1]  # an exception that escapes: the interpreter prints it, then exits with 1
    atexit.register(_end_process, status)  # registered first, so it runs last
    # SIGTERM (a scheduler, `kill`) ends a command the way Ctrl-C does: the training
    # child stopped, the MLflow run marked killed; exit status 143, no traceback.
    signal.signal(signal.SIGTERM, _terminated)
    from kizuna.training.cli import main as cli_main

    try:
        cli_main()
        status[0] = 0
    except SystemExit as exc:
        status[0] = exit_status(exc.code)
        if status[0] == 130 and _TERMINATED:  # the command line reports any interrupt as 130
            status[0] = 143
        raise
    except KeyboardInterrupt:
        status[0] = 143 if _TERMINATED else 130
        sys.exit(status[0])  # the interrupted work has cleaned up; no traceback to show


_TERMINATED: list[int] = []


def _terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    _TERMINATED.append(signum)
    raise KeyboardInterrupt  # where the main thread is, as Ctrl-C's: the same clean-up


def exit_status(code: object) -> int:
    """The process's exit status for ``SystemExit(code)``, as Python computes it.

    Parameters
    ----------
    code
        The ``SystemExit`` code.

    Returns
    -------
    int
    """
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _end_process(status: list[int]) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe has nothing to flush
            stream.flush()
    os._exit(status[0])


if __name__ == "__main__":  # python -m kizuna.training.launch, as the console script
    main()
