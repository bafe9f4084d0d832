"""Write and read a synthetic shop as Parquet files, one per table.

The generating :class:`~features.synthetic.ShopConfig` travels in the Parquet
schema metadata of ``truth.parquet``, so :func:`read_shop` returns the same
:class:`~features.synthetic.Shop` that was written.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.features.errors import KizunaInputError
from kizuna.simulators.synthetic import Shop, ShopConfig

TABLES: tuple[str, ...] = ("transactions", "items", "customers", "truth", "item_truth")
_CONFIG_KEY = b"kizuna.shop_config"


def write_shop(shop: Shop, out_dir: str | Path) -> dict[str, Path]:
    """Write every table of ``shop`` to ``out_dir/<table>.parquet``.

    Parameters
    ----------
    shop
        A generated shop.
    out_dir
        Folder to write into; created if missing. Existing files are replaced.

    Returns
    -------
    dict[str, Path]
        Table name -> file written: transactions, items, customers, truth,
        item_truth.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    config_json = json.dumps(dataclasses.asdict(shop.config)).encode()
    for name in TABLES:
        table = pa.Table.from_pandas(getattr(shop, name), preserve_index=False)
        if name == "truth":
            meta = dict(table.schema.metadata or {})
            meta[_CONFIG_KEY] = config_json
            table = table.replace_schema_metadata(meta)
        path = out / f"{name}.parquet"
        pq.write_table(table, path)
        paths[name] = path
    return paths


def read_shop(out_dir: str | Path) -> Shop:
    """Read a shop written by :func:`write_shop`.

    Parameters
    ----------
    out_dir
        The folder :func:`write_shop` wrote.

    Returns
    -------
    Shop

    Raises
    ------
    KizunaInputError
        If a table file is missing or ``truth.parquet`` carries no shop config.
    """
    folder = Path(out_dir)
    missing = [f"{name}.parquet" for name in TABLES if not (folder / f"{name}.parquet").exists()]
    if missing:
        raise KizunaInputError(
            f"not a shop folder written by `kizuna generate`: {folder} lacks these files",
            values=missing,
        )
    frames = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    meta = pq.read_schema(folder / "truth.parquet").metadata or {}
    if _CONFIG_KEY not in meta:
        raise KizunaInputError(f"{folder / 'truth.parquet'} carries no shop config")
    raw = json.loads(meta[_CONFIG_KEY])
    # JSON turns tuples into lists; the config is frozen and hashable with tuples.
    known = {f.name for f in dataclasses.fields(ShopConfig)}
    config = ShopConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
    )
    return Shop(**frames, config=config)
