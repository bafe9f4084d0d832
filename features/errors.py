"""The one error type that input problems raise, with the column and examples."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class KizunaInputError(ValueError):
    """Input data that kizuna cannot use, explained in the user's terms.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    column
        The column (or argument) at fault, if one is.
    values
        Some offending values; at most ``max_values`` are shown.
    """

    max_values = 5

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        values: Iterable[Any] | None = None,
    ) -> None:
        self.column = column
        self.values = [] if values is None else list(_take(values, self.max_values))
        text = message
        if column is not None:
            text = f"column {column!r}: {text}"
        if self.values:
            text += f" (e.g. {', '.join(repr(v) for v in self.values)})"
        super().__init__(text)


def _take(values: Iterable[Any], n: int) -> Iterable[Any]:
    for i, value in enumerate(values):
        if i >= n:
            return
        yield value.item() if hasattr(value, "item") else value
