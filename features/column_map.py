"""Column maps: each canonical column from a source column, a constant or an expression.

A map is written ``{canonical_name: source}`` where the source is

- a column name (``customer_id: CustNo``); one column may feed several targets;
- a number or boolean constant (``quantity: 1``), or ``{value: "CD"}`` for text;
- an expression over columns (``order_id: "{customer}-{ts}"``): text with
  ``{column}`` placeholders, each filled with that column as text.

The long forms ``{column: X}`` and ``{expr: "..."}`` say the same explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.contract import ids_to_str
from kizuna.features.errors import KizunaInputError

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "transactions": (*s.TRANSACTION_REQUIRED, *s.TRANSACTION_OPTIONAL, s.IS_RETURN),
    "items": (*s.ITEM_REQUIRED, *s.ITEM_OPTIONAL),
    "customers": (*s.CUSTOMER_REQUIRED, *s.CUSTOMER_OPTIONAL),
}
ID_COLUMNS = (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID)


@dataclass(frozen=True)
class Source:
    """Where one canonical column comes from.

    ``kind`` is ``column`` (``value`` names it), ``value`` (a constant) or
    ``expr`` (``value`` is the template; ``refs`` the columns it reads).
    """

    kind: Literal["column", "value", "expr"]
    value: Any
    refs: tuple[str, ...] = ()


def parse_source(spec: Any, *, target: str) -> Source:
    """Read one map entry; raises ``ValueError`` naming the target on a bad entry.

    Parameters
    ----------
    spec
        The entry: a column name, ``{"value": ...}`` or ``{"expr": "..."}``.
    target
        The canonical column it fills, named in errors.

    Returns
    -------
    Source
        Where the target comes from: a column, a constant or a template.
    """
    if isinstance(spec, Mapping):
        if len(spec) != 1 or next(iter(spec)) not in ("column", "value", "expr"):
            raise ValueError(
                f"{target}: a long-form entry is one of {{column: X}}, {{value: X}}, "
                f"{{expr: '...'}}; got {dict(spec)}"
            )
        kind, value = next(iter(spec.items()))
        if kind == "value":
            return Source("value", value)
        spec = value if kind == "column" else str(value)
        if kind == "expr":
            return _expr(spec, target)
        return Source("column", str(spec))
    if isinstance(spec, bool | int | float):
        return Source("value", spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"{target}: expected a column name, a constant or an expression")
    if "{" in spec:
        return _expr(spec, target)
    return Source("column", spec)


def template_parts(template: str) -> list[tuple[str, str | None]]:
    """``"{a}-{b:c}"`` as ``[("", "a"), ("-", "b:c")]``: literal text, then a column name.

    A name is everything between the braces, ``:`` and ``!`` included (column
    names have them; Python's format mini-language would cut them off);
    ``{{`` and ``}}`` are literal braces.

    Parameters
    ----------
    template
        The ``expr`` template.

    Returns
    -------
    list of (str, str or None)
        Literal text before each column name; a last pair with None holds trailing text.

    Raises
    ------
    ValueError
        On a brace that opens or closes nothing.
    """
    parts: list[tuple[str, str | None]] = []
    literal, pos = "", 0
    for m in _TOKEN.finditer(template):
        between = template[pos : m.start()]
        if "{" in between or "}" in between:
            raise ValueError(f"unmatched brace in {template!r}")
        literal += between
        if m.group(0) in ("{{", "}}"):
            literal += m.group(0)[0]
        else:
            parts.append((literal, m.group(1)))
            literal = ""
        pos = m.end()
    rest = template[pos:]
    if "{" in rest or "}" in rest:
        raise ValueError(f"unmatched brace in {template!r}")
    if literal or rest:
        parts.append((literal + rest, None))
    return parts


_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def _expr(template: str, target: str) -> Source:
    try:
        refs = tuple(f for _, f in template_parts(template) if f is not None)
    except ValueError as exc:
        raise ValueError(f"{target}: cannot read the expression {template!r}: {exc}") from None
    if not refs or any(not r for r in refs):
        raise ValueError(f"{target}: an expression names columns in braces, e.g. '{{customer}}'")
    return Source("expr", template, refs)


def check_column_map(column_map: Mapping[str, Any], *, table: str) -> dict[str, Any]:
    """Check a map's keys and entries when the config loads; return it unchanged.

    Parameters
    ----------
    column_map
        Canonical column -> entry (see :func:`parse_source`).
    table
        The table the map is for (``transactions``, ``customers``...), named in errors.

    Returns
    -------
    dict
        ``column_map`` itself.

    Raises
    ------
    ValueError
        Listing the valid keys for an unknown one, or saying the map is reversed.
    """
    valid = TABLE_COLUMNS[table]
    unknown = [k for k in column_map if k not in valid]
    if unknown:
        reversed_targets = [
            v for k, v in column_map.items() if k in unknown and isinstance(v, str) and v in valid
        ]
        if reversed_targets and len(reversed_targets) == len(unknown):
            k = unknown[0]
            raise ValueError(
                f"the {table} map looks reversed ({k}: {column_map[k]}): write it as "
                f"canonical name: your column, e.g. {column_map[k]}: {k}"
            )
        raise ValueError(
            f"unknown {table} column(s) {unknown}; the map's keys are the canonical "
            f"names {list(valid)}"
        )
    for target, spec in column_map.items():
        parse_source(spec, target=target)
    return dict(column_map)


def source_columns(column_map: Mapping[str, Any] | None, targets: Iterable[str]) -> set[str]:
    """The source columns that feed ``targets`` (to read them as text, for instance).

    Parameters
    ----------
    column_map
        Canonical column -> entry, or None (no map: every target is its own source).
    targets
        The canonical columns of interest.

    Returns
    -------
    set of str
        Source column names.
    """
    out: set[str] = set()
    column_map = column_map or {}
    for target in targets:
        if target not in column_map:
            out.add(target)
            continue
        src = parse_source(column_map[target], target=target)
        if src.kind == "column":
            out.add(src.value)
        elif src.kind == "expr":
            out.update(src.refs)
    return out


def apply_column_map(
    df: pd.DataFrame, column_map: Mapping[str, Any] | None, *, table: str = "transactions"
) -> pd.DataFrame:
    """Build the canonical columns from a user's table.

    Parameters
    ----------
    df
        The user's table, shape (n_rows, n_columns).
    column_map
        ``{canonical_name: source}`` (see the module docstring).
    table
        Table name, used in error messages.

    Returns
    -------
    pandas.DataFrame
        Shape (n_rows, k): the mapped columns first, then the input's other
        columns untouched. A column used only as a source is dropped (it was
        renamed); an input column named like a target is replaced by the map.
    """
    if not column_map:
        return df
    try:
        sources = {t: parse_source(v, target=t) for t, v in column_map.items()}
    except ValueError as exc:
        raise KizunaInputError(f"the column map for {table}: {exc}") from None
    needed = [
        c for src in sources.values() if src.kind != "value" for c in _columns_of(src)
    ]  # in map order, for the message
    missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
    if missing:
        raise KizunaInputError(
            f"the column map for {table} names columns that the input does not have; "
            f"available columns are {list(map(str, df.columns))}",
            column=missing[0],
            values=missing,
        )
    out = {target: _build(df, src) for target, src in sources.items()}
    used = {c for src in sources.values() if src.kind == "column" for c in _columns_of(src)}
    for col in df.columns:
        if col not in out and col not in used:
            out[col] = df[col]
    return pd.DataFrame(out, index=df.index)


def _columns_of(src: Source) -> tuple[str, ...]:
    return (src.value,) if src.kind == "column" else src.refs


def _build(df: pd.DataFrame, src: Source) -> pd.Series:
    if src.kind == "column":
        return df[src.value]
    if src.kind == "value":
        return pd.Series([src.value] * len(df), index=df.index)
    texts = {ref: ids_to_str(df[ref]).fillna("") for ref in src.refs}
    out = pd.Series("", index=df.index, dtype="string")
    for literal, field in template_parts(src.value):
        out = out + literal
        if field is not None:
            out = out + texts[field]
    blank = pd.concat([t == "" for t in texts.values()], axis=1).any(axis=1)
    # A line missing any part has no complete id: leave it missing, so validation counts it.
    return out.mask(blank)
