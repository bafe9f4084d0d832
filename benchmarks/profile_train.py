"""Profile: CPU seconds of ``kizuna train`` by phase, over every thread.

py-spy is not in the venv and a plain stack sampler misleads here: a thread
waiting for the GIL shows the same Python frame as one computing. So this
reads each thread's own CPU time (``/proc/self/task/<tid>/stat``) every
0.25 s and shares it among the phases its stack was in during that interval
(stacks sampled every 10 ms with ``sys._current_frames``). Run in-process,
into a throwaway MLflow store, BLAS pinned as in ``bench_train.py``::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/profile_train.py \\
        experiments/online_retail.yaml [--timeline]

``--timeline`` adds a table of each second: every busy thread's CPU seconds and the phase
it was seen in most, and their sum (2.00 = both cores busy).

Churn, LTV and uplift train in a child process (``training/tabular_process.py``): their CPU
is not in these tables, which cover this process's threads only.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

# The innermost of these on a thread's stack names its phase (functions of the pipeline).
PHASES = (
    "load_transactions_and_events", "time_or_random_splits", "reranker_windows", "tune_blend",
    "fit_mode", "_collect", "_fit_at", "score_split", "evaluate_recommenders",
    "select_on_validation", "refit_for_serving", "recall_curves", "purchase_rate_by_rank",
    "build_snapshot", "choose_prior_gaps", "evaluate_next_order", "train_churn", "train_ltv",
    "train_uplift", "setup_mlflow", "_open_and_start", "evaluate_audiences", "log_model", "register", "log_outcome",
    "log_snapshot_for_run",
)  # fmt: skip
_TICKS = os.sysconf("SC_CLK_TCK")


def phase_of(names: list[str], files: list[str]) -> str:
    """The innermost known phase of a stack (function names outermost first)."""
    depth = {name: i for i, name in enumerate(names) if name in PHASES}
    if not depth:
        return "imports" if any("importlib" in f for f in files) else "other"
    phase = max(depth, key=depth.get)
    if phase == "evaluate_recommenders" and "implicit_models.py" in " ".join(files):
        return "evaluate_recommenders (implicit fits)"
    return phase


def _thread_cpu() -> dict[int, float]:
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / _TICKS
    return out


class Sampler(threading.Thread):
    """Stacks every 10 ms and per-thread CPU every 0.25 s, until :meth:`stop`."""

    def __init__(self) -> None:
        super().__init__(name="profile-sampler", daemon=True)
        self.phases: list[tuple[float, int, str]] = []  # (time, native thread id, phase)
        self.cpu: list[tuple[float, dict[int, float]]] = []
        self._done = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self._done.is_set():
            now = time.perf_counter()
            ids = {t.ident: t.native_id for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == self.ident:
                    continue
                names, files = [], []
                while frame is not None:
                    names.append(frame.f_code.co_name)
                    files.append(frame.f_code.co_filename)
                    frame = frame.f_back
                self.phases.append((now, ids.get(ident, 0), phase_of(names[::-1], files)))
            if tick % 25 == 0:
                self.cpu.append((now, _thread_cpu()))
            tick += 1
            time.sleep(0.01)
        self.cpu.append((time.perf_counter(), _thread_cpu()))

    def stop(self) -> None:
        self._done.set()
        self.join()

    def by_phase(self) -> collections.Counter[str]:
        """CPU seconds per phase: each thread's CPU in an interval, shared by its samples."""
        samples = collections.defaultdict(list)
        for t, tid, phase in self.phases:
            samples[tid].append((t, phase))
        out: collections.Counter[str] = collections.Counter()
        for (t0, before), (t1, after) in zip(self.cpu, self.cpu[1:], strict=False):
            for tid, cpu in after.items():
                spent = cpu - before.get(tid, cpu)
                if spent <= 0:
                    continue
                seen = collections.Counter(p for t, p in samples.get(tid, []) if t0 <= t < t1)
                if not seen:
                    out["unattributed"] += spent
                for phase, n in seen.items():
                    out[phase] += spent * n / seen.total()
        return out

    def timeline(self, start: float) -> list[str]:
        """Lines of a table: each second, each busy thread's CPU and its most sampled phase."""
        phases = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
        for t, tid, phase in self.phases:
            phases[tid][int(t - start)][phase] += 1
        cpu: dict[int, dict[int, float]] = collections.defaultdict(dict)
        for (t0, before), (_, after) in zip(self.cpu, self.cpu[1:], strict=False):
            for tid, spent in after.items():
                second = int(t0 - start)
                cpu[tid][second] = cpu[tid].get(second, 0.0) + spent - before.get(tid, spent)
        tids = sorted(tid for tid, seconds in cpu.items() if sum(seconds.values()) > 0.5)
        end = max((s for seconds in cpu.values() for s in seconds), default=-1) + 1
        lines = ["| s | " + " | ".join(f"thread {i}" for i in range(len(tids))) + " | all |",
                 "|---:|" + "---|" * len(tids) + "---:|"]  # fmt: skip
        for second in range(end):
            cells = []
            for tid in tids:
                top = phases[tid][second].most_common(1)
                cells.append(f"{cpu[tid].get(second, 0.0):.2f} {top[0][0] if top else ''}")
            busy = sum(cpu[tid].get(second, 0.0) for tid in tids)
            lines.append(f"| {second} | " + " | ".join(cells) + f" | {busy:.2f} |")
        return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument(
        "--timeline", action="store_true", help="also each second's CPU per thread, and its phase"
    )
    args = parser.parse_args()
    from kizuna.training.launch import pin_cpu_kernels

    pin_cpu_kernels()  # as `kizuna train` does (NumPy is not imported yet)
    from kizuna.training.config import load_experiment
    from kizuna.training.pipeline import run_experiment

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["KIZUNA_DATA_DIR"] = tmp
        sampler = Sampler()
        start, cpu0 = time.perf_counter(), time.process_time()
        sampler.start()
        try:
            run_experiment(load_experiment(args.experiment), quiet=True)
        finally:
            sampler.stop()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    phases = sampler.by_phase()
    total = sum(phases.values())
    print(f"wall {wall:.1f} s, process CPU {cpu:.1f} s (attributed {total:.1f} s), "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after\n")  # fmt: skip
    print("| phase | CPU s | share |\n|---|---:|---:|")
    for phase, seconds in phases.most_common():
        if seconds >= 0.05:
            print(f"| {phase} | {seconds:.1f} | {seconds / total:.1%} |")
    if args.timeline:
        print("\n" + "\n".join(sampler.timeline(start)))


if __name__ == "__main__":
    main()
