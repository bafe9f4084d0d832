"""Which data a command reads: the CLI's source file and flags, or an experiment's ``data:``.

An experiment file is checked whole (every section, as ``kizuna train`` will) before its
``data:`` section is used; reading the tables it names is :mod:`training.data`'s job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kizuna.features.errors import KizunaInputError
from kizuna.training.config import (
    DataConfig,
    ExperimentConfig,
    offers_file,
    parse_model,
    read_yaml,
)


def config_experiment(config: Path | None) -> str | None:
    """The ``name`` of an experiment file (None without one): whose stored events to read.

    Parameters
    ----------
    config
        The experiment file, or None.

    Returns
    -------
    str or None
    """
    if config is None:
        return None
    name = read_yaml(config).get("name")
    return str(name) if name else None


def resolve_source(
    source: Path | None,
    *,
    format: str = "canonical",
    column_map: Path | None = None,
    config: Path | None = None,
) -> DataConfig:
    """Turn CLI arguments (a file, or an experiment's ``data:`` section) into a DataConfig.

    Parameters
    ----------
    source
        A transactions file, or None to read the experiment's.
    format
        The file's format (``canonical``, ``online_retail``...).
    column_map
        A column map file, or None.
    config
        The experiment file, or None.

    Returns
    -------
    DataConfig
    """
    if config is not None:
        if source is not None:
            raise KizunaInputError("give either a source file or --config, not both")
        raw = read_yaml(config)
        if "data" not in raw:
            raise KizunaInputError(f"{config} has no `data:` section")
        unknown = sorted(set(raw) - set(ExperimentConfig.model_fields))
        if unknown:  # a typo in a section this command does not read is still a typo
            raise KizunaInputError(
                f"{config} has unknown setting(s) {unknown}; an experiment's settings are "
                f"{sorted(ExperimentConfig.model_fields)}"
            )
        _check_sections(raw, config)
        data = parse_model(DataConfig, raw["data"], source=f"{config} (data)")
        return data.resolved(Path(config).resolve().parent)
    if source is None:
        raise KizunaInputError("give a transactions file, or an experiment with --config")
    mapping = {} if column_map is None else read_yaml(column_map)
    return parse_model(
        DataConfig,
        {"transactions": source, "format": format, "column_map": mapping},
        source="the command line",
    )


def _check_sections(raw: dict[str, Any], config: Path) -> None:
    """The experiment's other sections, each checked as `kizuna train` will (before training:
    the README's loop is to rerun `kizuna validate --config` until the file is right)."""
    from pydantic import BaseModel

    for name, info in ExperimentConfig.model_fields.items():
        kind = info.annotation
        if (
            name in raw
            and name != "data"
            and isinstance(kind, type)
            and issubclass(kind, BaseModel)
        ):
            parse_model(kind, raw[name] or {}, source=f"{config} ({name})")
    offers_file(raw.get("offers"), config)
