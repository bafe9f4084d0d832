"""Where the Spark engine may write: checked before Spark starts, never a folder of other files.

Spark's overwrite mode deletes the whole target folder first; a user's
``--out data`` would take the data folder (and its MLflow store) with it.
"""

from __future__ import annotations

from pathlib import Path

from kizuna.features.errors import KizunaInputError

#: Suffixes of single files, which the Spark engine does not write (it writes Parquet folders).
FILE_SUFFIXES = (".csv", ".gz", ".tsv", ".txt", ".json", ".jsonl", ".xlsx", ".sqlite", ".db")
#: What a folder written by Spark holds: the marker, parts, checksums and partitions.
_SPARK_ENTRIES = ("_SUCCESS", "part-", ".part-", "._SUCCESS", "segment=")


def check_spark_target(out: str, *, option: str = "--out", jdbc: bool = True) -> None:
    """Refuse a target the Spark engine would misuse, before any work.

    Parameters
    ----------
    out
        A folder path, or (``jdbc``) a ``jdbc:`` URL.
    option
        The option that named it, for the message.
    jdbc
        Whether a ``jdbc:`` URL is a valid target here.

    Raises
    ------
    KizunaInputError
        A URL Spark cannot write, a single-file name, an existing file, or a
        folder holding files that no Spark write made.
    """
    if jdbc and out.startswith("jdbc:"):
        return
    kinds = "a Parquet folder or a jdbc: URL" if jdbc else "a Parquet folder"
    if "://" in out or out.split(":", 1)[0] in ("sqlite", "postgresql", "mysql"):
        raise KizunaInputError(
            f"{option} {out}: the Spark engine writes {kinds} (SQLAlchemy URLs such as "
            "sqlite:///... are the pandas engine's)"
        )
    path = Path(out)
    if path.suffix.lower() in FILE_SUFFIXES:
        raise KizunaInputError(
            f"{option} {out}: the Spark engine writes {kinds}, not a {path.suffix} file; "
            "name a folder (e.g. crm/ or crm.parquet), or use the pandas engine for a file"
        )
    if path.is_file():
        raise KizunaInputError(f"{option} {out} is a file: the Spark engine writes a folder there")
    if path.is_dir():
        others = sorted(p.name for p in path.iterdir() if not p.name.startswith(_SPARK_ENTRIES))
        if others:
            raise KizunaInputError(
                f"{option} {out} holds files that no Spark output made (e.g. {others[:3]}): "
                "Spark replaces the whole folder; name a new or empty one"
            )
