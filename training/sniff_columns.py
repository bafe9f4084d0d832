"""Which role each column of an export plays: its kind from its values, its role from its name.

:func:`guess_column` says what one column holds (ids, numbers, dates and how
they are written); :func:`propose_map` assigns the transactions contract's
columns by name hints, then by type, and notes what ``kizuna init`` marks CHECK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.numbers import NUMBER_STYLES, NumberRule, parse_numbers
from kizuna.features.timestamps import TimestampRule, epoch_unit, parse_timestamps

# Name hints per role, matched against lower-cased names without separators.
_HINTS: dict[str, tuple[str, ...]] = {
    s.CUSTOMER_ID: (
        *("customer", "cust", "user", "client", "member", "buyer", "account", "shopper"),
        *("kunde", "klant", "cliente"),  # de, nl, es/it/pt ("client": fr)
    ),
    s.ORDER_ID: (
        *("invoice", "order", "transaction", "receipt", "basket", "txn", "ticket", "sale"),
        *("rechnung", "bestell", "auftrag", "beleg", "commande", "facture", "pedido"),
        *("factura", "fattura", "ordine", "bon"),
    ),
    s.ITEM_ID: (
        *("item", "product", "sku", "stock", "article", "movie", "isbn", "asin", "track"),
        *("artikel", "produkt", "produit", "producto", "articulo", "prodotto", "produto"),
    ),
    s.TIMESTAMP: (
        *("timestamp", "datetime", "date", "time", "when", "ts", "created", "purchased"),
        *("datum", "zeit", "fecha", "heure"),
    ),
    s.QUANTITY: (
        *("quantity", "qty", "units", "count", "numberof", "amountof", "pieces"),
        *("menge", "anzahl", "quantit", "cantidad", "aantal", "stck", "qte"),
    ),
    s.UNIT_PRICE: (
        *("unitprice", "price", "dollar", "amount", "value", "revenue", "cost", "spend"),
        *("preis", "prix", "precio", "prijs", "prezzo", "preco", "betrag", "montant", "importe"),
    ),
}
ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
#: Share of numbers that makes a named text column a quantity or price with bad cells.
MOSTLY_NUMBERS = 0.8
DAY_MONTH = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")


@dataclass
class ColumnGuess:
    """What one column looks like: ``kind`` is id, number, integer, time or text."""

    name: str
    kind: str
    distinct: int
    examples: list[str]
    rule: TimestampRule | None = None
    #: Share of the present values that read as numbers, and a few of those that do not.
    numeric_share: float = 0.0
    not_numbers: list[str] = field(default_factory=list)
    #: For text numbers in another locale's style (``1.234,5``): the rules that read them all.
    number_rules: list[NumberRule] = field(default_factory=list)


def guess_column(values: pd.Series) -> ColumnGuess:
    text = values.astype("string").str.strip()
    present = text[text.notna() & (text != "")]
    distinct = int(present.nunique())
    examples = present.drop_duplicates().head(3).tolist()
    name = str(values.name)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return ColumnGuess(name, "time", distinct, examples, TimestampRule())
    if present.empty:
        return ColumnGuess(name, "text", 0, [])
    numbers = pd.to_numeric(present, errors="coerce")
    share = float(numbers.notna().mean())
    if share > 0.99:
        whole = bool((numbers.dropna() % 1 == 0).all())
        first = present.iloc[0].lstrip("+-").split(".")[0]
        if whole and len(first) == 8 and first[:2] in ("19", "20"):
            rule = TimestampRule(format="%Y%m%d")
            if parse_timestamps(present.head(200), rule).notna().all():
                return ColumnGuess(name, "time", distinct, examples, rule)
        unit = epoch_unit(numbers.to_numpy(dtype=float)) if whole else None
        if unit is not None and distinct > 1 and _time_name(name):
            return ColumnGuess(name, "time", distinct, examples, TimestampRule(epoch=unit))
        if unit is not None and numbers.min() > 1e8:
            return ColumnGuess(name, "time", distinct, examples, TimestampRule(epoch=unit))
        return ColumnGuess(name, "integer" if whole else "number", distinct, examples)
    rule = _date_rule(present.head(2000))
    if rule is not None:
        return ColumnGuess(name, "time", distinct, examples, rule)
    styles = [r for r in NUMBER_STYLES if parse_numbers(present, r).notna().mean() > 0.99]
    if styles:
        values = parse_numbers(present, styles[0]).dropna()
        kind = "integer" if bool((values % 1 == 0).all()) else "number"
        return ColumnGuess(name, kind, distinct, examples, numeric_share=1.0, number_rules=styles)
    bad = present[numbers.isna()].drop_duplicates().head(3).tolist()
    return ColumnGuess(name, "text", distinct, examples, numeric_share=share, not_numbers=bad)


def number_rule_of(guesses: list[ColumnGuess]) -> tuple[NumberRule | None, str | None]:
    """The file's way of writing numbers, from the columns read as numbers only under
    another style (None: pandas reads them), and a note when the data cannot settle it.

    ``1,234`` alone fits a decimal comma and a thousands comma: the first style that
    fits every such column is proposed, marked for checking.

    Parameters
    ----------
    guesses
        One guess per column.

    Returns
    -------
    rule : NumberRule or None
    note : str or None
    """
    styled = [g for g in guesses if g.number_rules]
    if not styled:
        return None, None
    common = [r for r in styled[0].number_rules if all(r in g.number_rules for g in styled)]
    if not common:
        names = ", ".join(g.name for g in styled)
        return None, f"{names} write numbers in different styles; set decimal and thousands"
    rule, note = common[0], None
    if len({r.decimal for r in common}) > 1:
        # Groups of three digits after every comma: more often thousands than decimals.
        rule = next(r for r in common if r.decimal == ".")
        example = next(e for g in styled for e in g.examples)
        note = f"{example!r} could be read either way: is {rule.decimal!r} the decimal mark?"
    return rule, note


def _total_name(name: str) -> bool:
    """A money column named like a total (amount, value, revenue, ...), not a unit price."""
    key = re.sub(r"[^a-z]", "", name.lower())
    unit = any(h in key for h in ("price", "unit", "each", "per"))
    return not unit and any(
        h in key for h in ("total", "dollar", "amount", "value", "revenue", "spend", "sales", "sum")
    )


def _time_name(name: str) -> bool:
    key = re.sub(r"[^a-z]", "", name.lower())
    return any(h in key for h in _HINTS[s.TIMESTAMP])


def _date_rule(text: pd.Series) -> TimestampRule | None:
    """ISO text, or day/month text with the order the values show (None: not dates)."""
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)  # mixed offsets
    if iso.notna().mean() > 0.95 and not text.str.fullmatch(r"\d+").all():
        return TimestampRule()
    parts = text.str.extract(DAY_MONTH).dropna()
    if len(parts) < 0.95 * len(text):
        return None
    first, second = parts[0].astype(int), parts[1].astype(int)
    if (first > 12).any() and not (second > 12).any():
        return TimestampRule(dayfirst=True)
    if (second > 12).any() and not (first > 12).any():
        return TimestampRule(dayfirst=False)
    return TimestampRule(dayfirst=None)  # undecidable: validation will say which setting to add


def propose_map(
    guesses: list[ColumnGuess], *, n_rows: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """Assign each canonical role a column by name hints, then by type; fill gaps with constants.

    Parameters
    ----------
    guesses
        One guess per column.
    n_rows
        Rows sampled.

    Returns
    -------
    column_map : dict
        Canonical column -> entry.
    notes : dict of str -> str
        Canonical column -> how it was chosen.
    """
    notes: dict[str, str] = {}
    taken: set[str] = set()
    out: dict[str, Any] = {}

    def score(role: str, g: ColumnGuess) -> int:
        key = re.sub(r"[^a-z]", "", g.name.lower())
        hits = [h for h in _HINTS[role] if h in key]
        if not hits:
            return 0
        # A named quantity or price with a few unreadable cells is still that column:
        # validation sets those lines aside, by name, instead of every line counting 1.
        numeric = g.kind in ("integer", "number") or g.numeric_share >= MOSTLY_NUMBERS
        fits = {
            s.TIMESTAMP: g.kind == "time",
            s.QUANTITY: numeric,
            s.UNIT_PRICE: numeric,
        }.get(role, g.kind in ("integer", "text", "number"))
        return (2 if fits else 0) + (1 if key.endswith(("id", "no", "code")) else 0) + len(hits)

    for role in (s.TIMESTAMP, s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.QUANTITY, s.UNIT_PRICE):
        ranked = sorted(
            (g for g in guesses if g.name not in taken and score(role, g) >= 2),
            key=lambda g: -score(role, g),
        )
        if ranked:
            out[role] = ranked[0].name
            taken.add(ranked[0].name)
    if s.TIMESTAMP not in out:
        times = [g for g in guesses if g.kind == "time" and g.name not in taken]
        if not times:
            raise KizunaInputError(
                "found no column of dates or Unix times; kizuna needs when each purchase "
                f"happened{_excel_hint(guesses)}"
            )
        # Written dates before large whole numbers, which may be ids rather than Unix times.
        chosen = min(times, key=lambda g: g.rule is not None and g.rule.epoch is not None)
        out[s.TIMESTAMP] = chosen.name
        taken.add(chosen.name)
        notes[s.TIMESTAMP] = f"{chosen.name} chosen by type: no column is named as a time"
    # Unnamed ids: the many-valued integer or text columns, in file order.
    for role in (s.CUSTOMER_ID, s.ITEM_ID):
        if role in out:
            continue
        ids = [
            g
            for g in guesses
            if g.name not in taken and g.kind in ("integer", "text") and g.distinct > 20
        ]
        if not ids and role == s.ITEM_ID:
            out[role] = {"value": "item"}  # a purchase log without products (CDNOW)
            notes[role] = "no item column: every line is one item 'item'; no recommender"
            continue
        if not ids:
            raise KizunaInputError(f"found no column that could be the {role}")
        out[role] = ids[0].name
        taken.add(ids[0].name)
        notes[role] = f"{ids[0].name} chosen by position and type"
    if s.ORDER_ID not in out:
        out[s.ORDER_ID] = f"{{{out[s.CUSTOMER_ID]}}}-{{{out[s.TIMESTAMP]}}}"
        notes[s.ORDER_ID] = "no order id: one order per customer and timestamp"
    if s.QUANTITY not in out:
        out[s.QUANTITY] = 1
        notes[s.QUANTITY] = "no quantity: every line counts as one unit"
    if s.UNIT_PRICE not in out:
        out[s.UNIT_PRICE] = 1
        notes[s.UNIT_PRICE] = "no price: every unit is worth 1 (value models count purchases)"
    elif _total_name(out[s.UNIT_PRICE]) and isinstance(out[s.QUANTITY], str):
        notes[s.UNIT_PRICE] = (
            f"{out[s.UNIT_PRICE]} may be the line's total, not a unit price: if so, set "
            "`quantity: 1`, or revenue counts it once per unit"
        )
    for role in (s.QUANTITY, s.UNIT_PRICE):
        g = next((g for g in guesses if g.name == out[role]), None)
        if g is not None and g.kind == "text":
            notes[role] = (
                f"{g.numeric_share:.0%} of {g.name}'s values are numbers; lines with others "
                f"(e.g. {', '.join(map(repr, g.not_numbers))}) will be set aside"
            )
    order = (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.TIMESTAMP, s.QUANTITY, s.UNIT_PRICE)
    return {k: out[k] for k in order}, notes


def _excel_hint(guesses: list[ColumnGuess]) -> str:
    """A clause naming a time-named column of Excel serial day numbers, if there is one."""
    from kizuna.features.timestamps import EXCEL_DAYS

    for g in guesses:
        numbers = pd.to_numeric(pd.Series(g.examples, dtype="string"), errors="coerce")
        if _time_name(g.name) and len(numbers) and numbers.between(*EXCEL_DAYS).all():
            return (
                f"; {g.name} holds numbers like {g.examples[0]}, Excel's serial dates: format "
                "the column as dates in Excel (e.g. yyyy-mm-dd hh:mm) before saving the CSV"
            )
    return ""
