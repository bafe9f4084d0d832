"""A store URL whose database driver is not installed: one line naming the extra, not a traceback.

SQLAlchemy imports a URL's driver only when an engine is made: deep inside
MLflow for ``MLFLOW_TRACKING_URI=postgresql://...``, or in the CRM export for
``kizuna score --out postgresql://...``. Without the driver that is a
``ModuleNotFoundError`` from wherever it happened; :func:`missing_driver` turns
it into a :class:`KizunaInputError` saying what to install.
"""

from __future__ import annotations

from kizuna.features.errors import KizunaInputError
from kizuna.serving.redact import hide_passwords

#: Python modules SQLAlchemy's PostgreSQL dialects import; ``kizuna[postgres]`` brings psycopg.
POSTGRES_DRIVERS = frozenset({"psycopg", "psycopg2", "psycopg2cffi", "pg8000", "asyncpg"})
EXTRA = "postgres"


def _missing_module(exc: BaseException) -> str | None:
    """The top-level module an ImportError in ``exc`` or its causes could not find."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ImportError) and current.name:
            return current.name.split(".")[0]
        current = current.__cause__ or current.__context__
    return None


def missing_driver(exc: BaseException, url: str | None = None) -> KizunaInputError | None:
    """One line for a PostgreSQL driver that is not installed; None for any other error.

    Parameters
    ----------
    exc
        The error raised while opening a store (an ``ImportError``, or one caused by one).
    url
        The store URL, when known (its password is hidden).

    Returns
    -------
    KizunaInputError or None
        The error to raise instead, saying what to install.
    """
    module = _missing_module(exc)
    if module not in POSTGRES_DRIVERS:
        return None
    where = f"{hide_passwords(url)} needs" if url else "a postgresql:// store URL needs"
    hint = (
        ", and write the URL as postgresql+psycopg://... (this SQLAlchemy reads postgresql:// "
        "as psycopg2)"
        if module == "psycopg2"
        else ""
    )
    return KizunaInputError(
        f"{where} the PostgreSQL driver {module}, which is not installed: "
        f"pip install 'kizuna[{EXTRA}]'{hint}"
    )
