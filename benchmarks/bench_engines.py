"""Benchmark: ``kizuna features`` and ``kizuna score`` on the pandas engine against Spark ``local[2]``.

For each size a synthetic shop (``simulators.synthetic.generate_shop``, about
10 lines per customer) is generated once into ``--cache`` (under /tmp, never
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
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
KIZUNA = str(Path(sys.executable).parent / "kizuna")
AS_OF = "2024-10-01"
CORES = {"pandas": 1, "spark": 2}
K = 10


CHUNK_ROWS = 10_000_000  # the generator holds a whole shop in memory: ~2.6 GB per 10M lines
# The JVM's heap is kizuna's local-mode default (spark_session.local_driver_memory).
SPARK_CONF = "{spark.ui.enabled: 'false'}"


def ensure_shop(n_rows: int, cache: Path, candidate_pool: int | None = None) -> Path:
    """Generate (once) a shop of about ``n_rows`` lines; return its experiment file.

    Above :data:`CHUNK_ROWS` the shop is generated in chunks of independent
    customers (seeds 1, 2, ...; ids prefixed by the chunk number, one catalogue),
    appended to one Parquet file, so that memory stays that of one chunk.
    """
    folder = cache / f"shop_{n_rows}"
    config = folder / "shop.yaml"
    paths = {t: folder / f"{t}.parquet" for t in ("transactions", "customers", "items")}
    if not paths["transactions"].exists():
        started = time.perf_counter()
        lines = write_chunked_shop(n_rows, folder)
        print(f"generated {lines:,} lines in {time.perf_counter() - started:.0f} s -> {folder}",
              file=sys.stderr)  # fmt: skip
    config.write_text(
        "name: bench-engines\n"
        f"data: {{transactions: {paths['transactions']}, customers: {paths['customers']}, "
        f"items: {paths['items']}}}\n"
        f"split: {{as_of: {AS_OF}}}\n"
        f"spark: {{master: 'local[2]', conf: {SPARK_CONF}}}\n"
        + (f"scoring: {{candidate_pool: {candidate_pool}}}\n" if candidate_pool else "")
    )
    return config


def shop_config(n_rows: int, seed: int = 1) -> Any:
    """The generator's settings for about ``n_rows`` lines (one catalogue per size)."""
    from kizuna.simulators.synthetic import ShopConfig, config_for_transactions

    base = ShopConfig(rate_alpha=9.0, n_items=max(1_000, n_rows // 100), seed=seed)
    return config_for_transactions(n_rows, base)


def write_chunked_shop(n_rows: int, folder: Path) -> int:
    """Write transactions, customers and items of about ``n_rows`` lines; return the lines."""
    import dataclasses

    import pyarrow as pa
    import pyarrow.parquet as pq

    from kizuna.simulators.synthetic import generate_shop

    folder.mkdir(parents=True, exist_ok=True)
    chunks = max(1, -(-n_rows // CHUNK_ROWS))
    whole = shop_config(n_rows)
    writers: dict[str, Any] = {}
    lines = 0
    for i in range(chunks):
        cfg = dataclasses.replace(
            whole,
            n_customers=whole.n_customers // chunks,
            n_cold_start_customers=whole.n_cold_start_customers // chunks,
            seed=whole.seed + i,
        )
        shop = generate_shop(cfg)
        tables = {"transactions": shop.transactions, "customers": shop.customers}
        if i == 0:
            pq.write_table(pa.Table.from_pandas(shop.items, preserve_index=False),
                           folder / "items.parquet")  # fmt: skip
        for name, frame in tables.items():
            if chunks > 1:
                frame = frame.assign(customer_id=f"{i:03d}" + frame["customer_id"])
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if name not in writers:
                writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
            writers[name].write_table(table.cast(writers[name].schema))
        lines += len(shop.transactions)
        del shop, tables, frame, table
    for writer in writers.values():
        writer.close()
    return lines


def ensure_models(n_rows: int, cache: Path) -> Path:
    """A model set (recommender, churn, LTV) trained once on a small shop of the same
    generator and catalogue (20,000 customers), to score the big one with."""
    import dataclasses

    sys.path.insert(0, str(ROOT))
    from kizuna.simulators.synthetic import generate_shop
    from kizuna.training.shop_io import write_shop
    from tests.serving.conftest import build_model_set

    folder = cache / f"models_{n_rows}"
    if (folder / "snapshot").exists():
        return folder
    cfg = dataclasses.replace(shop_config(n_rows), n_customers=20_000, n_cold_start_customers=0)
    write_shop(generate_shop(cfg), cache / f"models_{n_rows}-shop")
    build_model_set(folder, shop_dir=cache / f"models_{n_rows}-shop")
    return folder


def pandas_score(config: Path, models: Path, out: Path) -> dict:
    """The pandas engine's export of the shop of ``config``: validate, snapshot, score.

    The pandas engine scores a model folder's snapshot, so the snapshot of the
    big shop is built first (features as of the day after the last line, the
    BTYD outputs, the recommender's rows), as ``kizuna snapshot`` does.
    """
    import shutil

    import pandas as pd

    from kizuna.serving.live import load_models, load_served
    from kizuna.training.batch_score import score_chunks
    from kizuna.training.config import load_experiment
    from kizuna.training.data import load_tables, load_transactions
    from kizuna.training.snapshot_build import write_snapshot

    experiment = load_experiment(config)
    data = experiment.data
    work = out.parent / f"{out.name}-models"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(models, work, ignore=shutil.ignore_patterns("snapshot"))
    kept = load_transactions(data, quiet=True, with_events=False).kept
    items, customers = load_tables(data)
    champions = load_models(str(work))
    write_snapshot(work / "snapshot", champions, kept, items=items, customers=customers)
    del kept
    served = load_served(str(work), live=False)
    pool = experiment.scoring.candidate_pool
    export = pd.concat(score_chunks(served, k=K, candidate_pool=pool))
    export.to_parquet(out)
    shutil.rmtree(work)
    return {"rows": len(export)}


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
    parser.add_argument("--pandas-score", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pandas_score:
        print(json.dumps(pandas_score(*args.pandas_score)))
        return

    import pyarrow.parquet as pq

    header = (f"{'lines':>12} {'step':>8} {'engine':>7} {'runs':>4} {'wall s':>8} "
              f"{'peak GB':>8} {'rows/s/core':>12} {'cpu s':>8} {'rows/cpu-s':>11} {'pass':>5}")  # fmt: skip
    rows = []
    for size in args.sizes:
        config = ensure_shop(size, args.cache, args.candidate_pool)
        lines = pq.ParquetFile(
            args.cache / f"shop_{size}" / "transactions.parquet"
        ).metadata.num_rows
        models = ensure_models(size, args.cache) if "score" in args.steps else None
        runs = args.runs or (3 if size <= 1_000_000 else 1)
        for step in args.steps:
            outcome = {}
            for engine in args.engines:
                out = args.cache / f"{step}_{size}_{engine}"
                command = (features_command(engine, config, out) if step == "features"
                           else score_command(engine, config, models, out))  # fmt: skip
                outcome[engine] = (out, [run(command, args.max_gb) for _ in range(runs)])
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
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
