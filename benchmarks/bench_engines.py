"""Benchmark: ``kizuna features`` and ``kizuna score`` on the pandas engine against Spark ``local[2]``.

For each size a synthetic shop (``simulators.synthetic.generate_shop``, about
10 lines per customer; ``engine_shops.py``) is generated once into ``--cache`` (under /tmp, never
the repository) with its customers and items tables; above 10M lines in chunks
of independent customers appended to one Parquet file (the generator holds a
whole shop in memory). Steps, each a fresh subprocess per run:

* ``features``: ``kizuna features -c shop.yaml --as-of 2024-10-01 --horizon 90
  --engine E``: read, validate (every row accounted for), behaviour vector,
  BTYD summary, RFM scores and segments, churn and value labels, Parquet out.
* ``score``: the CRM export of every customer of the shop (churn, LTV, BTYD
  outputs, top-10 items) with a model set trained once on a 20,000-customer
  shop of the same generator and catalogue. Spark: ``kizuna score --engine
  spark``. pandas: validate, build the shop's snapshot (``write_snapshot``, as
  ``kizuna snapshot`` does) and ``score_chunks``, since the pandas engine scores
  a snapshot.

Measured per run: wall time of the whole command (Spark: JVM start included),
peak memory of the whole process tree (sum of the RSS of the command and all
its descendants, JVM and Python workers included, sampled every 0.2 s with
psutil; a child the JVM is starting, which shares the JVM's pages until it
execs, is left out: :func:`holds_memory`), input rows per second per core (pandas: 1 core; Spark: the 2 cores of
``local[2]``), and the CPU seconds of the whole tree (the last sample of each
process), which a shared machine distorts less than wall time. ``pass``: the
command succeeded and, where both engines ran, their outputs agree (features:
reconciliation, feature frame within 1e-9, labels, set-aside rows; score: the
export within 1e-9). A run whose tree passes ``--max-gb`` is killed (NO).
The runs alternate between the engines (run 1 of each, then run 2, ...), and
the per-core ratio is given pair by pair (median and range) beside the ratio
of the two engines' medians. Spark's JVM maps the class-data archive of
``training.engines.spark_classes`` (the line before the table says whether one
existed; if not, the first Spark run makes it when its JVM exits, after the run
is timed); ``--no-class-archive`` turns it off.

Run::

    .venv/bin/python benchmarks/bench_engines.py                       # 1M x3, 10M x1
    .venv/bin/python benchmarks/bench_engines.py --sizes 30000000 100000000 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from engine_shops import AS_OF, K, ensure_models, ensure_shop, pandas_score

ROOT = Path(__file__).resolve().parents[1]
KIZUNA = str(Path(sys.executable).parent / "kizuna")
CORES = {"pandas": 1, "spark": 2}


def tree_rss(
    proc: psutil.Process, cpu: dict[int, float], kinds: dict[str, int] | None = None
) -> int:
    """RSS of ``proc`` and its descendants; records each one's CPU seconds in ``cpu``
    and, in ``kinds``, the largest RSS seen per kind of process (:func:`kind_of`)."""
    total = 0
    try:
        children = proc.children(recursive=True)
    except psutil.Error:  # a child ended while the tree was walked: sample again next time
        return 0
    for p in [proc, *children]:
        try:
            if not holds_memory(p, proc):
                continue
            with p.oneshot():
                rss = p.memory_info().rss
                total += rss
                times = p.cpu_times()
                cpu[p.pid] = times.user + times.system
                if kinds is not None:
                    kind = kind_of(p, proc)
                    kinds[kind] = max(kinds.get(kind, 0), rss)
        except psutil.Error:
            pass
    return total


def holds_memory(p: psutil.Process, root: psutil.Process) -> bool:
    """Whether ``p`` counts towards the tree's memory: the command, the JVM, Python workers.

    A process the JVM is starting shares the JVM's pages until it execs, so its RSS is the
    JVM's own and counting it would add the JVM twice. Such a child carries the name of the
    JVM thread that forked it (``Executor task l``) or ``java``: anything but the JVM itself
    and Python processes is left out.
    """
    if p.pid == root.pid:
        return True
    name = p.name()
    if name.startswith("java"):
        return not p.parent().name().startswith("java")
    return name.startswith("python")


def kind_of(p: psutil.Process, root: psutil.Process) -> str:
    """``driver`` (the command), ``jvm``, ``python worker`` (Spark's daemon and its forks)."""
    if p.pid == root.pid:
        return "driver"
    if p.name().startswith("java"):
        return "jvm"
    return "python worker" if "daemon" in " ".join(p.cmdline()) else "other"


def features_command(engine: str, config: Path, out: Path) -> list[str]:
    return [KIZUNA, "features", "-c", str(config), "--as-of", AS_OF, "--horizon", "90",
            "--out", str(out), "--engine", engine, "--json"]  # fmt: skip


def score_command(engine: str, config: Path, models: Path, out: Path) -> list[str]:
    if engine == "pandas":
        return [sys.executable, __file__, "--pandas-score", str(config), str(models), str(out)]
    return [KIZUNA, "score", "--models", str(models), "-c", str(config), "--engine", "spark",
            "--k", str(K), "--out", str(out), "--json"]  # fmt: skip


def run(command: list[str], max_gb: float) -> dict:
    """One command; wall time, peak tree RSS, the JSON it printed.

    The process tree is killed if its memory passes ``max_gb`` (then ``ok`` is False).
    """
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watched = psutil.Process(proc.pid)
    peak = [0]
    cpu_of: dict[int, float] = {}
    kinds: dict[str, int] = {}
    killed = [False]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(watched, cpu_of, kinds))
            if peak[0] > max_gb * 1e9 and not killed[0]:
                killed[0] = True
                for p in [*watched.children(recursive=True), watched]:
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - started
    # CPU seconds of the whole tree, as last sampled per process (a process that ends
    # between two samples loses at most 0.2 s): robust to a shared machine.
    cpu = sum(cpu_of.values())
    done.set()
    thread.join()
    ok = proc.returncode == 0 and not killed[0]
    largest = ", ".join(f"{k} {v / 1e9:.2f}" for k, v in sorted(kinds.items()))
    print(f"largest process RSS, GB: {largest}", file=sys.stderr)
    result = json.loads(stdout[stdout.index("{") :]) if ok else {}
    return {"ok": ok, "wall": wall, "cpu": cpu, "peak": peak[0], "result": result,
            "killed": killed[0]}  # fmt: skip


def agree(step: str, pandas_out: Path, spark_out: Path) -> bool:
    """Both engines wrote the same results (features: everything ``kizuna features``
    writes; score: the export, 1e-9 relative for floats)."""
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    from tests.training.engines.compare import assert_frames_match, assert_outputs_match

    try:
        if step == "features":
            assert_outputs_match(pandas_out, spark_out)
        else:
            expected = pd.read_parquet(pandas_out).set_index("customer_id")
            got = pd.read_parquet(spark_out).set_index("customer_id")[expected.columns]
            got["segment"] = got["segment"].astype("string")
            assert_frames_match(expected, got)
    except AssertionError as exc:
        print(f"engines disagree on {step}: {str(exc)[:2000]}", file=sys.stderr)
        return False
    return True


def per_core_ratios(lines: int, pandas_runs: list[dict], spark_runs: list[dict]) -> str:
    """How many times below the pandas engine Spark is per core, by wall and CPU time.

    Pair by pair (run i of each engine, run one after the other, so a drift in
    the machine's speed falls on both): the median and range of the pairs'
    ratios; and the ratio of the two engines' medians. By wall time each
    engine is charged its cores (1 and 2), by CPU time the CPU seconds its
    process tree used.
    """
    pairs = list(zip(pandas_runs, spark_runs, strict=False))
    charge = CORES["spark"] / CORES["pandas"]
    wall = sorted(charge * b["wall"] / a["wall"] for a, b in pairs)
    cpu = sorted(b["cpu"] / a["cpu"] for a, b in pairs)
    of_medians = (
        charge
        * statistics.median(r["wall"] for r in spark_runs)
        / statistics.median(r["wall"] for r in pandas_runs)
    )
    return (f"{lines:>12,}: per core Spark is {statistics.median(wall):.2f}x below pandas "
            f"by wall time (pairs {wall[0]:.2f}-{wall[-1]:.2f}; ratio of the medians "
            f"{of_medians:.2f}x), {statistics.median(cpu):.2f}x by CPU time "
            f"(pairs {cpu[0]:.2f}-{cpu[-1]:.2f})")  # fmt: skip


def class_archive_state(wanted: bool) -> str:
    """Whether the Spark runs map a class-data archive, or the first one makes it."""
    if not wanted:
        return "class-data archive: off"
    from kizuna.training.engines.spark_classes import archive_options, default_folder

    if archive_options(default_folder()).startswith("-XX:SharedArchiveFile="):
        return "class-data archive: mapped (made by an earlier run)"
    return "class-data archive: none yet; the first Spark run makes it when its JVM exits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=None, help="default: 3 at <=1M, else 1")
    parser.add_argument("--engines", nargs="+", default=["pandas", "spark"])
    parser.add_argument("--steps", nargs="+", default=["features", "score"])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/kizuna-bench-engines"))
    parser.add_argument(
        "--max-gb",
        type=float,
        default=20.0,
        help="kill a run whose process tree passes this (NO in the table)",
    )
    parser.add_argument(
        "--candidate-pool",
        type=int,
        default=None,
        help="score: the hybrid's candidate pool (default: exact top-k)",
    )
    parser.add_argument(
        "--no-class-archive",
        action="store_true",
        help="Spark: no class-data archive (spark.class_archive: false)",
    )
    parser.add_argument("--pandas-score", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pandas_score:
        print(json.dumps(pandas_score(*args.pandas_score)))
        return

    import pyarrow.parquet as pq

    header = (f"{'lines':>12} {'step':>8} {'engine':>7} {'runs':>4} {'wall s':>8} "
              f"{'peak GB':>8} {'rows/s/core':>12} {'cpu s':>8} {'rows/cpu-s':>11} {'pass':>5}")  # fmt: skip
    rows, ratios = [], []
    if "spark" in args.engines:
        print(class_archive_state(not args.no_class_archive), file=sys.stderr)
    for size in args.sizes:
        config = ensure_shop(size, args.cache, args.candidate_pool, not args.no_class_archive)
        lines = pq.ParquetFile(
            args.cache / f"shop_{size}" / "transactions.parquet"
        ).metadata.num_rows
        models = ensure_models(size, args.cache) if "score" in args.steps else None
        runs = args.runs or (3 if size <= 1_000_000 else 1)
        for step in args.steps:
            outcome = {}
            # Runs alternate between the engines, so that a drift in the machine's speed
            # falls on both alike rather than on whichever engine ran last.
            for index in range(runs):
                for engine in args.engines:
                    out = args.cache / f"{step}_{size}_{engine}"
                    command = (features_command(engine, config, out) if step == "features"
                               else score_command(engine, config, models, out))  # fmt: skip
                    result = run(command, args.max_gb)
                    outcome.setdefault(engine, (out, []))[1].append(result)
                    print(f"run {index + 1} {engine}: {result['wall']:.1f} s, "
                          f"{result['cpu']:.1f} CPU-s", file=sys.stderr)  # fmt: skip
            both = all(e in outcome and all(r["ok"] for r in outcome[e][1]) for e in CORES)
            same = agree(step, outcome["pandas"][0], outcome["spark"][0]) if both else None
            for engine, (_, results) in outcome.items():
                good = [r for r in results if r["ok"]]
                wall = statistics.median(r["wall"] for r in good) if good else float("nan")
                cpu = statistics.median(r["cpu"] for r in good) if good else float("nan")
                peak = max(r["peak"] for r in results) / 1e9
                passed = bool(good) and len(good) == len(results) and same is not False
                note = " (killed)" if any(r["killed"] for r in results) else ""
                rows.append(f"{lines:>12,} {step:>8} {engine:>7} {len(results):>4} {wall:>8.1f} "
                            f"{peak:>8.2f} {lines / wall / CORES[engine] if good else 0:>12,.0f} "
                            f"{cpu:>8.1f} {lines / cpu if good else 0:>11,.0f} "
                            f"{'yes' if passed else 'NO':>5}{note}")  # fmt: skip
                print(rows[-1], f"(load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
            if both:
                ratios.append(per_core_ratios(lines, outcome["pandas"][1], outcome["spark"][1]))
                print(ratios[-1], file=sys.stderr)
    print(header)
    print("\n".join([*rows, *ratios]))


if __name__ == "__main__":
    main()
