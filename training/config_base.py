"""The base of every experiment-settings model, and one readable error for invalid settings."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from kizuna.features.errors import KizunaInputError


class Frozen(BaseModel):
    """Immutable settings; an unknown key is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _date_not_a_number(value: Any) -> Any:
    # pydantic would read a number as Unix seconds (`as_of: 0` is 1970-01-01), and a date
    # written as a number (20240131) is not one.
    if isinstance(value, (bool, int, float)):
        raise ValueError(f"must be a date such as 2024-01-31, not the number {value!r}")
    return value


#: A date setting (``split.as_of``, ``data.data_end``): a date or ISO text, never a number.
IsoDate = Annotated[date, BeforeValidator(_date_not_a_number)]


def parse_model(model: type[Frozen], data: dict[str, Any], *, source: str) -> Any:
    """Build ``model`` from ``data``, turning pydantic's errors into one readable message.

    Parameters
    ----------
    model
        The pydantic model.
    data
        The parsed YAML.
    source
        The file, named in the message.

    Returns
    -------
    pydantic.BaseModel
        An instance of ``model``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, err['loc'])) or '(top level)'}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        ]
        # One line (the CLI prints errors on one), the problems numbered when there are several.
        listed = (
            problems[0]
            if len(problems) == 1
            else "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))
        )
        raise KizunaInputError(f"{source} has invalid settings: {listed}") from None
