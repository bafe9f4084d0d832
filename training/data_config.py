"""The ``data:`` section of an experiment: where the tables are and how to read them.

Relative paths are anchored at the experiment file's folder by
:meth:`DataConfig.resolved` (called by :func:`training.config.load_experiment`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationInfo, field_validator, model_validator

from kizuna.features.column_map import check_column_map
from kizuna.features.numbers import Decimal, NumberRule, Thousands
from kizuna.features.timestamps import TimestampRule
from kizuna.training.config_base import Frozen, IsoDate

FileFormat = Literal["csv", "tsv", "parquet", "jsonl"]


def check_encoding(encoding: str | None) -> None:
    """Refuse an encoding name Python does not know.

    Parameters
    ----------
    encoding
        The encoding name, or None.
    """
    if encoding is None:
        return
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(
            f"encoding {encoding!r} is not a known text encoding (e.g. utf-8, cp1252, latin-1)"
        ) from None


def check_read_settings(
    file_format: str | None, delimiter: str | None, header: bool, columns: list[str] | None
) -> None:
    """Raise ``ValueError`` on settings that cannot read a file together.

    Parameters
    ----------
    file_format
        The ``file_format`` setting, or None.
    delimiter
        The ``delimiter`` setting, or None.
    header
        The ``header`` setting.
    columns
        The ``columns`` setting, or None.
    """
    if not header and not columns:
        raise ValueError("header: false needs `columns: [...]`, the file's column names")
    if header and columns:
        raise ValueError("`columns` names a headerless file's columns; add `header: false`")
    if file_format == "parquet" and (delimiter or not header):
        raise ValueError("delimiter and header apply to text files, not parquet")
    if delimiter is not None and len(delimiter) != 1 and delimiter != r"\s+":
        raise ValueError("delimiter is one character (e.g. ';' or '\\t')")


class ReadSettings(Frozen):
    """How to read the items or customers file when its name does not say (see DataConfig)."""

    file_format: FileFormat | None = None
    delimiter: str | None = None
    header: bool = True
    columns: list[str] | None = None
    encoding: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ReadSettings:
        check_encoding(self.encoding)
        check_read_settings(self.file_format, self.delimiter, self.header, self.columns)
        return self


class DataConfig(Frozen):
    """Where the data is and how to read it.

    ``column_map`` builds each canonical column from a source column, a
    constant or an expression, e.g. ``{customer_id: CustNo, quantity: 1,
    order_id: "{CustNo}-{When}"}`` (see :mod:`features.column_map`);
    ``items_column_map`` and ``customers_column_map`` do the same for the
    other tables. ``file_format``, ``delimiter``, ``header`` and ``columns``
    say how to read the transactions file when its name does not
    (``items_reading`` and ``customers_reading`` hold the same for the other
    files); the timestamp settings say how its dates are written (ISO 8601
    text by default) and apply to ``signup_date`` too; ``decimal`` and
    ``thousands`` say how numbers are written (``1234.5`` by default; e.g.
    ``decimal: ","`` and ``thousands: "."`` for ``1.234,5``), in every file.
    """

    transactions: Path | None = None
    format: Literal["canonical", "online-retail", "cdnow"] = "canonical"
    column_map: dict[str, Any] = {}
    items: Path | None = None
    items_column_map: dict[str, Any] = {}
    customers: Path | None = None
    customers_column_map: dict[str, Any] = {}
    data_end: IsoDate | None = None
    # The service's purchase-event store; default: events/<experiment>.sqlite in the data folder.
    events: Path | None = None
    file_format: FileFormat | None = None
    delimiter: str | None = None
    header: bool = True
    columns: list[str] | None = None
    encoding: str | None = None  # of a text file: utf-8 unless said (cp1252, latin-1, ...)
    timestamp_format: str | None = None
    dayfirst: bool | None = None
    epoch: Literal["s", "ms"] | None = None
    decimal: Decimal = "."
    thousands: Thousands | None = None
    items_reading: ReadSettings | None = None
    customers_reading: ReadSettings | None = None

    @field_validator("column_map", "items_column_map", "customers_column_map")
    @classmethod
    def _check_map(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        table = {"column_map": "transactions", "items_column_map": "items"}.get(
            info.field_name or "", "customers"
        )
        return check_column_map(value, table=table)

    @model_validator(mode="after")
    def _check_reading(self) -> DataConfig:
        check_read_settings(self.file_format, self.delimiter, self.header, self.columns)
        check_encoding(self.encoding)
        if sum(x is not None for x in (self.timestamp_format, self.epoch)) > 1 or (
            self.dayfirst is not None and (self.timestamp_format or self.epoch)
        ):
            raise ValueError("give one of timestamp_format, dayfirst or epoch, not several")
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(
                f"decimal and thousands are both {self.decimal!r}: give two separators"
            )
        return self

    @property
    def timestamp_rule(self) -> TimestampRule:
        """How this source's timestamps are written.

        Returns
        -------
        TimestampRule
        """
        return TimestampRule(format=self.timestamp_format, dayfirst=self.dayfirst, epoch=self.epoch)

    @property
    def number_rule(self) -> NumberRule:
        """How this source's numbers are written when they are text.

        Returns
        -------
        NumberRule
        """
        return NumberRule(decimal=self.decimal, thousands=self.thousands)

    def resolved(self, base: Path) -> DataConfig:
        """Return a copy with relative paths anchored at ``base``.

        Parameters
        ----------
        base
            The experiment file's folder.

        Returns
        -------
        DataConfig
        """

        def anchor(p: Path | None) -> Path | None:
            return None if p is None or p.is_absolute() else (base / p).resolve()

        updates = {
            key: anchor(getattr(self, key))
            for key in ("transactions", "items", "customers", "events")
            if getattr(self, key) is not None and not getattr(self, key).is_absolute()
        }
        return self.model_copy(update=updates)
