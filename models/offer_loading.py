"""Parse an offer catalogue from what training read (a YAML mapping or CSV rows),
and write one back as flat rows. The models themselves are in :mod:`models.offers`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import Offer, OfferCatalogue

#: Flat CSV columns, in the order :func:`offers_to_rows` writes them.
CSV_COLUMNS: tuple[str, ...] = (
    "offer_id", "type", "description", "fixed_cost", "discount_share", "save_rate",
    "incremental_share", "max_items", "segments", "churn_min", "churn_max", "min_ltv",
    "days_min", "days_max", "channels", "cooldown_days", "max_contacts", "period_days",
)  # fmt: skip
LIST_SEP = "|"


def load_offers(
    source: Mapping[str, Any] | Sequence[Mapping[str, Any]] | OfferCatalogue,
    *,
    margin: float | None = None,
    contact_policy: Mapping[str, Any] | None = None,
    ltv_basis: str | None = None,
) -> OfferCatalogue:
    """Parse an already-read catalogue: a YAML mapping, or CSV rows.

    Parameters
    ----------
    source
        A mapping with an ``offers`` list (YAML), or a sequence of flat rows with
        the columns of :data:`CSV_COLUMNS` (``csv.DictReader`` rows or
        ``DataFrame.to_dict("records")``); an :class:`OfferCatalogue` passes through.
    margin, contact_policy, ltv_basis
        Override (YAML) or supply (CSV) the catalogue-level settings.

    Returns
    -------
    OfferCatalogue

    Raises
    ------
    KizunaInputError
        Naming the offer and the field at fault.
    """
    if isinstance(source, OfferCatalogue):
        data: dict[str, Any] = source.model_dump()
    elif isinstance(source, Mapping):
        data = dict(source)
        if "offers" not in data:
            raise KizunaInputError("an offer catalogue needs an `offers:` list", column="offers")
    elif isinstance(source, Sequence) and not isinstance(source, str | bytes):
        data = {"offers": [_from_row(row, i) for i, row in enumerate(source)]}
    else:
        raise KizunaInputError(
            f"expected a mapping with `offers:` or a list of CSV rows, got {type(source).__name__}"
        )
    if margin is not None:
        data["margin"] = margin
    if contact_policy is not None:
        data["contact_policy"] = dict(contact_policy)
    if ltv_basis is not None:
        data["ltv_basis"] = ltv_basis
    offers = data.get("offers")
    if not isinstance(offers, list | tuple) or not offers:
        raise KizunaInputError("`offers` must be a non-empty list", column="offers")
    parsed = [_parse_offer(raw, i) for i, raw in enumerate(offers)]
    try:
        return OfferCatalogue.model_validate({**data, "offers": parsed})
    except ValidationError as exc:
        raise _error(exc, where="offer catalogue") from None


def _parse_offer(raw: Any, position: int) -> Offer:
    if isinstance(raw, Offer):
        return raw
    if not isinstance(raw, Mapping):
        raise KizunaInputError(
            f"offer #{position + 1} must be a mapping, got {type(raw).__name__}", column="offers"
        )
    name = raw.get("offer_id")
    where = f"offer {name!r}" if name else f"offer #{position + 1}"
    try:
        return Offer.model_validate(dict(raw))
    except ValidationError as exc:
        raise _error(exc, where=where) from None


def _error(exc: ValidationError, *, where: str) -> KizunaInputError:
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, Mapping) else f" (got {value!r})"
        problems.append(f"field {field}: {err['msg']}{shown}")
    first = exc.errors()[0]["loc"] if exc.errors() else ()
    return KizunaInputError(
        f"{where}: " + "; ".join(problems),
        column=".".join(str(p) for p in first) or None,
    )


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _from_row(row: Mapping[str, Any], position: int) -> dict[str, Any]:
    """A flat CSV row -> the nested mapping :class:`Offer` reads; unknown columns fail."""
    if not isinstance(row, Mapping):
        raise KizunaInputError(f"CSV row {position + 1} is not a mapping", column="offers")
    unknown = [c for c in row if c not in CSV_COLUMNS]
    name = row.get("offer_id")
    if unknown:
        raise KizunaInputError(
            f"offer {name!r}: unknown column(s) {unknown}; known: {list(CSV_COLUMNS)}",
            column=str(unknown[0]),
        )
    v = {k: (None if _blank(val) else val) for k, val in row.items()}

    def listed(key: str) -> list[str] | None:
        if v.get(key) is None:
            return None
        return [p.strip() for p in str(v[key]).split(LIST_SEP) if p.strip()]

    def put(target: dict[str, Any], key: str, value: Any) -> None:
        if value is not None:
            target[key] = value

    out: dict[str, Any] = {}
    for key in ("offer_id", "type", "description", "save_rate", "incremental_share", "max_items"):
        put(out, key, v.get(key))
    cost: dict[str, Any] = {}
    put(cost, "fixed", v.get("fixed_cost"))
    put(cost, "discount_share", v.get("discount_share"))
    elig: dict[str, Any] = {}
    put(elig, "segments", listed("segments"))
    put(elig, "channels", listed("channels"))
    put(elig, "min_ltv", v.get("min_ltv"))

    def bounds(low: str, high: str) -> dict[str, Any]:
        return {k: v[c] for k, c in (("min", low), ("max", high)) if v.get(c) is not None}

    churn, days = bounds("churn_min", "churn_max"), bounds("days_min", "days_max")
    if churn:
        elig["churn_probability"] = churn
    if days:
        elig["days_since_last_purchase"] = days
    caps: dict[str, Any] = {}
    for key in ("cooldown_days", "max_contacts", "period_days"):
        put(caps, key, v.get(key))
    for key, part in (("cost", cost), ("eligibility", elig), ("caps", caps)):
        if part:
            out[key] = part
    return out


def offers_to_rows(catalogue: OfferCatalogue) -> list[dict[str, Any]]:
    """The flat CSV rows of a catalogue (inverse of the CSV path of :func:`load_offers`).

    Parameters
    ----------
    catalogue
        The offers.

    Returns
    -------
    list of dict
        One flat row per offer.
    """
    rows = []
    for o in catalogue.offers:
        e, c = o.eligibility, o.caps
        rows.append({
            "offer_id": o.offer_id, "type": o.type, "description": o.description,
            "fixed_cost": o.cost.fixed, "discount_share": o.cost.discount_share,
            "save_rate": o.save_rate, "incremental_share": o.incremental_share,
            "max_items": o.max_items, "segments": LIST_SEP.join(e.segments) or None,
            "churn_min": e.churn_probability.min, "churn_max": e.churn_probability.max,
            "min_ltv": e.min_ltv, "days_min": e.days_since_last_purchase.min,
            "days_max": e.days_since_last_purchase.max,
            "channels": LIST_SEP.join(e.channels) or None, "cooldown_days": c.cooldown_days,
            "max_contacts": c.max_contacts, "period_days": c.period_days,
        })  # fmt: skip
    return rows
