"""Benchmark: ``kizuna features`` on the pandas engine against Spark ``local[2]``.

For each size a synthetic shop (``simulators.synthetic.generate_shop``, about
10 lines per customer) is generated once into ``--cache`` (under /tmp, never
the repository) with its customers and items tables. Each run is a fresh
``kizuna features -c shop.yaml --as-of 2024-10-01 --horizon 90 --engine E``
subprocess: read, validate (every row accounted for), behaviour vector, BTYD
summary, RFM scores and segments, churn and value labels, written as Parquet.

Measured per run: wall time of the whole command (Spark: JVM start included),
peak memory of the whole process tree (sum of the RSS of the command and all
its descendants, JVM and Python workers included, sampled every 0.2 s with
psutil), input rows per second per core (pandas: 1 core, as the pipeline is
single-threaded but for one 2-thread step; Spark: the 2 cores of ``local[2]``).
``pass``: the command succeeded and, where both engines ran at a size, the
reconciliation, feature frame (1e-9 relative for floats) and labels agree.

Run::

    .venv/bin/python benchmarks/bench_engines.py                       # 1M x3, 10M x1
    .venv/bin/python benchmarks/bench_engines.py --sizes 30000000 100000000 --runs 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
KIZUNA = str(Path(sys.executable).parent / "kizuna")
AS_OF = "2024-10-01"
CORES = {"pandas": 1, "spark": 2}


def ensure_shop(n_rows: int, cache: Path) -> Path:
    """Generate (once) a shop of about ``n_rows`` lines; return its experiment file."""
    folder = cache / f"shop_{n_rows}"
    config = folder / "shop.yaml"
    if config.exists():
        return config
    from kizuna.simulators.synthetic import ShopConfig, config_for_transactions, generate_shop
    from kizuna.training.shop_io import write_shop

    started = time.perf_counter()
    base = ShopConfig(rate_alpha=9.0, n_items=max(1_000, n_rows // 100), seed=1)
    shop = generate_shop(config_for_transactions(n_rows, base))
    paths = write_shop(shop, folder)
    lines = len(shop.transactions)
    del shop
    config.write_text(
        "name: bench-engines\n"
        f"data: {{transactions: {paths['transactions']}, customers: {paths['customers']}, "
        f"items: {paths['items']}}}\n"
        f"split: {{as_of: {AS_OF}}}\n"
        "spark: {master: 'local[2]', conf: {spark.driver.memory: 12g, spark.ui.enabled: 'false'}}\n"
    )
    print(f"generated {lines:,} lines in {time.perf_counter() - started:.0f} s -> {folder}",
          file=sys.stderr)  # fmt: skip
    return config


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(engine: str, config: Path, out: Path) -> dict:
    """One ``kizuna features`` run; wall time, peak tree RSS, the JSON it printed."""
    command = [KIZUNA, "features", "-c", str(config), "--as-of", AS_OF, "--horizon", "90",
               "--out", str(out), "--engine", engine, "--json"]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watched = psutil.Process(proc.pid)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(watched))
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    thread.join()
    ok = proc.returncode == 0
    result = json.loads(stdout[stdout.index("{") :]) if ok else {}
    return {"ok": ok, "wall": wall, "peak": peak[0], "result": result}


def agree(pandas_out: Path, spark_out: Path) -> bool:
    sys.path.insert(0, str(ROOT))
    from tests.training.engines.compare import assert_outputs_match

    try:
        assert_outputs_match(pandas_out, spark_out)
    except AssertionError as exc:
        print(f"engines disagree: {exc}", file=sys.stderr)
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=None, help="default: 3 at <=1M, else 1")
    parser.add_argument("--engines", nargs="+", default=["pandas", "spark"])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/kizuna-bench-engines"))
    args = parser.parse_args()

    header = (f"{'lines':>12} {'customers':>10} {'engine':>7} {'runs':>4} {'wall s':>8} "
              f"{'peak GB':>8} {'rows/s/core':>12} {'pass':>5}")  # fmt: skip
    rows = []
    for size in args.sizes:
        config = ensure_shop(size, args.cache)
        runs = args.runs or (3 if size <= 1_000_000 else 1)
        outcome = {}
        for engine in args.engines:
            out = args.cache / f"out_{size}_{engine}"
            results = [run(engine, config, out) for _ in range(runs)]
            outcome[engine] = (out, results)
        both = all(e in outcome and all(r["ok"] for r in outcome[e][1]) for e in CORES)
        same = agree(outcome["pandas"][0], outcome["spark"][0]) if both else None
        for engine, (_, results) in outcome.items():
            good = [r for r in results if r["ok"]]
            wall = statistics.median(r["wall"] for r in good) if good else float("nan")
            peak = max(r["peak"] for r in results) / 1e9
            first = good[0]["result"] if good else {}
            lines = first.get("report", {}).get("input_rows", 0)
            passed = bool(good) and len(good) == len(results) and same is not False
            rows.append(f"{lines:>12,} {first.get('customers', 0):>10,} {engine:>7} "
                        f"{len(results):>4} {wall:>8.1f} {peak:>8.2f} "
                        f"{lines / wall / CORES[engine] if good else 0:>12,.0f} "
                        f"{'yes' if passed else 'NO':>5}")  # fmt: skip
            print(rows[-1], file=sys.stderr)
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
