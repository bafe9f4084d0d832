"""Reading an offer catalogue file (YAML or CSV) for ``/next_best_offer`` and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kizuna.features.errors import KizunaInputError
from kizuna.models.offer_loading import load_offers
from kizuna.models.offers import OfferCatalogue


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (the last would win
    silently: a second ``split:`` block drops the first) and names where an impossible date
    (``2024-13-01``) is."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a date: {exc}", node.start_mark
            ) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)
_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_yaml_map
)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, failing with the file name on a bad file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    dict
    """
    path = Path(path)
    if not path.exists():
        raise KizunaInputError(f"no such file: {path}")
    try:
        loaded = yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise KizunaInputError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise KizunaInputError(f"{path} must hold a mapping at the top level")
    return loaded


def read_offers(path: str | Path, *, margin: float | None = None) -> OfferCatalogue:
    """Read an offer catalogue file: YAML (mapping with ``offers:``) or CSV (one row per offer).

    Parameters
    ----------
    path
        The catalogue file.
    margin
        The shop's margin, overriding the file's; or None.

    Returns
    -------
    OfferCatalogue
    """
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
