"""Reading an offer catalogue file (YAML or CSV) for ``/next_best_offer`` and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kizuna.features.errors import KizunaInputError
from kizuna.models.offer_loading import load_offers
from kizuna.models.offers import OfferCatalogue


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


def read_offers(path: str | Path, *, margin: float | None = None) -> OfferCatalogue:
    """Read an offer catalogue file: YAML (mapping with ``offers:``) or CSV (one row per offer)."""
    path = Path(path)
    if not path.exists():
        raise KizunaInputError(f"no such offer catalogue: {path}")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return load_offers(read_yaml(path), margin=margin)
    if suffix == ".csv":
        rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        return load_offers(rows, margin=margin)
    raise KizunaInputError(f"offer catalogue {path}: use .yaml, .yml or .csv")
