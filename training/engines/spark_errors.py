"""A user error raised inside a Spark shard, told as the pandas engine tells it.

A :class:`features.errors.KizunaInputError` raised by the pandas code a shard
runs (a validator, a column map) reaches the driver as Spark's report of a
failed task: a long ``PythonException`` (or a Py4J error around one) whose text
holds the worker's traceback. Its last line names the error type and its
message, which is how the error is recognised and given back its one line.
"""

from __future__ import annotations

from kizuna.features.errors import KizunaInputError

#: How a worker's traceback ends when a shard raised a KizunaInputError.
MARKER = f"{KizunaInputError.__module__}.{KizunaInputError.__qualname__}: "


def input_error_from_spark(exc: BaseException) -> KizunaInputError | None:
    """The user error a shard raised, if ``exc`` (or what caused it) is Spark's report of one.

    Returns a :class:`KizunaInputError` with the shard's message, or None when
    ``exc`` is not a Spark error or a shard failed for another reason.

    Parameters
    ----------
    exc
        The error Spark raised.

    Returns
    -------
    KizunaInputError or None
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__.startswith(("pyspark", "py4j")):
            text = str(current)
            at = text.rfind(MARKER)
            if at >= 0:
                message = text[at + len(MARKER) :].splitlines()[0].strip()
                return KizunaInputError(message)
            for condition, words in UNREADABLE_INPUT.items():
                if f"[{condition}" in text:
                    return KizunaInputError(f"{words}: {_condition_line(text, condition)}")
        current = current.__cause__ or current.__context__
    return None


#: Spark's error conditions that mean the input cannot be read as it is, in the user's words.
UNREADABLE_INPUT = {
    "FAILED_READ_FILE": "Spark cannot read the input",
    "PATH_NOT_FOUND": "no such input",
    "UNABLE_TO_INFER_SCHEMA": "Spark cannot read the input",
    "PARQUET_TYPE_ILLEGAL": "Spark cannot read a column type of the Parquet input (nanosecond "
    "timestamps, as pandas before 3.0 writes them, are one: write them in microseconds, "
    "df.to_parquet(path, coerce_timestamps='us'), or use --engine pandas)",
}


def _condition_line(text: str, condition: str) -> str:
    """The line of Spark's message that states ``condition`` (its first, not the stack)."""
    line = next(ln for ln in text.splitlines() if f"[{condition}" in ln)
    return " ".join(line[line.index(f"[{condition}") :].split())[:500]
