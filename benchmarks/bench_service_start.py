"""Benchmark: service start time (to ``/readyz`` 200) and peak RSS, before and after the snapshot.

"Before" is the service of an older kizuna checkout (``--old-root``, e.g. a
worktree of commit a313530 with ``--old-python``), which rebuilt the customer
state from the raw order log at every start. "After" is this checkout, which
reads the models and the customer snapshot only.

For each ``--customers`` size, one synthetic shop and one model set are built
with the old code (``tests.serving.conftest.build_model_set``), and the same
kinds of model are fitted on the same shop by this checkout's code, with a
snapshot of the same lines, so both services serve the same customers. Each
server is started ``--runs`` times on loopback; the table shows the median
start time and the peak RSS of the server's whole process tree (sampled
every 0.1 s). ``--lines-factor`` adds an "after" row whose snapshot holds
every customer's lines that many times (new order ids): the same customers
and items with more lines per customer.

    git worktree add --detach /tmp/old a313530
    python -m venv /tmp/old/.venv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/old/.venv/lib/python3.11/site-packages/deps.pth
    .venv/bin/python benchmarks/bench_service_start.py --old-root /tmp/old \\
        --old-python /tmp/old/.venv/bin/python --customers 200000 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_old(args: argparse.Namespace, folder: Path, n: int) -> None:
    code = (
        "import sys, warnings; warnings.simplefilter('ignore'); "
        f"sys.path.insert(0, {str(args.old_root)!r}); "
        "from pathlib import Path; from tests.serving.conftest import build_model_set; "
        f"build_model_set(Path({str(folder)!r}), n_customers={n}, n_items={args.items})"
    )
    subprocess.run([args.old_python, "-c", code], check=True, cwd=args.old_root)


def convert(old: Path, new: Path, *, lines_factor: int = 1) -> None:
    """This checkout's model set, fitted on the old set's shop, with a snapshot of its lines.

    Both services then serve the same customers, items and kinds of model; the
    models are refitted by this checkout's code (the old pickles name classes
    that no longer exist). With ``lines_factor`` > 1 the ``x1`` set's models
    get a snapshot holding every customer's lines that many times.
    """
    import pandas as pd

    from kizuna.features import schema as s
    from kizuna.features.tables import validate_customers, validate_items
    from kizuna.features.validate import validate_transactions
    from kizuna.serving.model_store import load_champions_from_folder
    from kizuna.training.artifacts import save_champions
    from kizuna.training.snapshot_build import write_snapshot
    from tests.serving.conftest import build_model_set

    shop = old.parent / f"{old.name}-shop"
    if lines_factor == 1:
        build_model_set(new, shop_dir=shop)
        return
    models = load_champions_from_folder(new.parent / new.name.replace(f"-x{lines_factor}", "-x1"))
    save_champions(models, new)
    raw = pd.read_parquet(shop / "transactions.parquet")
    raw = pd.concat(
        [raw.assign(**{s.ORDER_ID: raw[s.ORDER_ID] + f"-{i}"}) for i in range(lines_factor)],
        ignore_index=True,
    )
    write_snapshot(
        new / "snapshot",
        models,
        validate_transactions(raw).kept,
        items=validate_items(pd.read_parquet(shop / "items.parquet")),
        customers=validate_customers(pd.read_parquet(shop / "customers.parquet")),
    )


def measure(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[float, float]:
    """Seconds to /readyz 200 and peak RSS (GB) of the process tree."""
    import httpx
    import psutil

    from tests.serving.conftest import free_port, stop_tree

    port = free_port()
    start = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    main = psutil.Process(proc.pid)
    peak = 0
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
            rss = 0
            for p in [main, *main.children(recursive=True)]:
                try:
                    rss += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak = max(peak, rss)
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if r.status_code == 200:
                    return time.perf_counter() - start, peak / 1e9
            except httpx.HTTPError:
                pass
            if time.perf_counter() - start > 3600:
                raise RuntimeError("not ready after an hour")
            time.sleep(0.1)
    finally:
        stop_tree(proc.pid, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-root", type=Path, required=True)
    parser.add_argument("--old-python", default=sys.executable)
    parser.add_argument("--customers", type=int, nargs="+", default=[200_000])
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines-factor", type=int, default=4)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = args.work or Path(tempfile.mkdtemp(prefix="kizuna-bench-start-"))
    base_env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "BENTOML_HOME": str(work / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    rows = []
    for n in args.customers:
        old = work / f"old-{n}"
        if not (old / "versions.json").exists():
            print(f"building the old model set for {n:,} customers ...", file=sys.stderr)
            build_old(args, old, n)
        variants = [("before (order log)", old, args.old_python, args.old_root, 1)]
        for factor in sorted({1, args.lines_factor}):
            new = work / f"new-{n}-x{factor}"
            if not (new / "snapshot" / "manifest.json").exists():
                print(f"writing the snapshot ({factor}x lines) ...", file=sys.stderr)
                convert(old, new, lines_factor=factor)
            label = "after (snapshot)" + (f", {factor}x lines" if factor > 1 else "")
            variants.append((label, new, sys.executable, ROOT, factor))
        for label, folder, python, cwd, factor in variants:
            service = (
                "serving.service:KizunaService"
                if cwd == args.old_root
                else "kizuna.serving.service:KizunaService"
            )
            env = {
                **base_env,
                "KIZUNA_MODEL_SOURCE": str(folder),
                "KIZUNA_EVENT_STORE": str(work / f"events-{label[:6]}-{n}-{factor}.sqlite"),
                "KIZUNA_CONTACT_LOG": str(work / "contacts.sqlite"),
            }
            command = [python, "-m", "bentoml", "serve", service]
            results = []
            for run in range(args.runs):
                results.append(measure(command, env, cwd, work / f"{label[:6]}-{n}.log"))
                print(f"{label} {n:,} run {run}: {results[-1]}", file=sys.stderr)
            lines = _lines(folder)
            rows.append(
                (
                    n,
                    lines,
                    label,
                    statistics.median(r[0] for r in results),
                    max(r[1] for r in results),
                    len(results),
                )
            )
    print("\n| customers | lines | service | start s (median) | peak RSS GB | runs |")
    print("|---|---|---|---|---|---|")
    for n, lines, label, secs, rss, runs in rows:
        print(f"| {n:,} | {lines:,} | {label} | {secs:.1f} | {rss:.2f} | {runs} |")


def _lines(folder: Path) -> int:
    import json

    manifest = folder / "snapshot" / "manifest.json"
    if manifest.exists():
        return int(json.loads(manifest.read_text())["lines"])
    import pyarrow.parquet as pq

    shop = folder.parent / f"{folder.name}-shop"
    return pq.ParquetFile(shop / "transactions.parquet").metadata.num_rows


if __name__ == "__main__":
    main()
