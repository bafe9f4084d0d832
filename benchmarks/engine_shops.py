"""Shops and model sets for ``bench_engines.py``, and the pandas engine's scoring run.

Shops are generated once into the benchmark's ``--cache`` (under /tmp, never
the repository); above :data:`CHUNK_ROWS` lines in chunks of independent
customers appended to one Parquet file.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2024-10-01"
K = 10
CHUNK_ROWS = 10_000_000  # the generator holds a whole shop in memory: ~2.6 GB per 10M lines
# The JVM's heap is kizuna's local-mode default (spark_session.local_driver_memory).
SPARK_CONF = "{spark.ui.enabled: 'false'}"


def ensure_shop(
    n_rows: int, cache: Path, candidate_pool: int | None = None, class_archive: bool = True
) -> Path:
    """Generate (once) a shop of about ``n_rows`` lines; return its experiment file.

    Above :data:`CHUNK_ROWS` the shop is generated in chunks of independent
    customers (seeds 1, 2, ...; ids prefixed by the chunk number, one catalogue),
    appended to one Parquet file, so that memory stays that of one chunk.
    ``class_archive``: Spark's ``spark.class_archive`` (False: the JVM loads its
    classes from the jars on every run).
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
        f"spark: {{master: 'local[2]', conf: {SPARK_CONF}"
        + ("" if class_archive else ", class_archive: false")
        + "}\n"
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
