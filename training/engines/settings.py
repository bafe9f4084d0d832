"""Which engine runs, and the Spark settings: from the experiment file and the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from kizuna.features.errors import KizunaInputError

Engine = Literal["pandas", "spark"]
ENGINES: tuple[str, ...] = ("pandas", "spark")


def resolve_engine(engine: str | None, config: Path | None) -> tuple[str, dict]:
    """The engine name and the ``spark:`` settings, command line over experiment file.

    Parameters
    ----------
    engine
        ``--engine`` as given (None: the experiment's ``engine:``, else pandas).
    config
        The experiment file, if any; its ``engine`` and ``spark`` keys are read.

    Returns
    -------
    (str, dict)
        ``"pandas"`` or ``"spark"``, and the ``spark:`` mapping (may be empty).
    """
    from kizuna.training.config import SparkConfig, parse_model, read_yaml

    raw = read_yaml(config) if config is not None else {}
    name = engine or raw.get("engine") or "pandas"
    if name not in ENGINES:
        raise KizunaInputError(f"unknown engine {name!r}; expected one of {ENGINES}")
    spark = parse_model(SparkConfig, raw.get("spark") or {}, source=f"{config} (spark)")
    return name, spark.model_dump(mode="json")
