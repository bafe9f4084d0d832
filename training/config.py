"""Experiment configuration: YAML in, frozen pydantic models out.

Relative paths in an experiment file are resolved against the file's own
folder, so an experiment runs the same from any working directory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from features.errors import KizunaInputError


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(Frozen):
    """Where the data is and how to read it.

    ``column_map`` maps canonical names to the export's names, e.g.
    ``{customer_id: CustNo, timestamp: OrderDate}``.
    """

    transactions: Path
    format: Literal["canonical", "online-retail", "cdnow"] = "canonical"
    column_map: dict[str, str] = {}
    items: Path | None = None
    items_column_map: dict[str, str] = {}
    customers: Path | None = None
    customers_column_map: dict[str, str] = {}
    data_end: date | None = None

    def resolved(self, base: Path) -> DataConfig:
        """Return a copy with relative paths anchored at ``base``."""
        def anchor(p: Path | None) -> Path | None:
            return None if p is None or p.is_absolute() else (base / p).resolve()

        updates = {
            key: anchor(getattr(self, key))
            for key in ("transactions", "items", "customers")
            if getattr(self, key) is not None and not getattr(self, key).is_absolute()
        }
        return self.model_copy(update=updates)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, failing with the file name on a bad file."""
    path = Path(path)
    if not path.exists():
        raise KizunaInputError(f"no such file: {path}")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise KizunaInputError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise KizunaInputError(f"{path} must hold a mapping at the top level")
    return loaded


def parse_model(model: type[Frozen], data: dict[str, Any], *, source: str) -> Any:
    """Build ``model`` from ``data``, turning pydantic's errors into one readable message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, err['loc'])) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise KizunaInputError(f"{source} has invalid settings:\n" + "\n".join(lines)) from None
