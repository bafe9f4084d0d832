"""What every request and response model of the service shares: strictness and ids.

See :mod:`serving.schemas` for the models and their limits.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from kizuna.serving.config import MAX_ID_LENGTH

#: Non-empty text (never a number: ``NaN``, ``1e309`` or ``12`` are refused), at most 200 chars.
Id = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH),
]
Versions = dict[str, int | str | None]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")
