"""The installed kizuna's version: one lookup for the CLI, the library and the OpenAPI document."""

from __future__ import annotations

from importlib import metadata


def package_version() -> str:
    """kizuna's version as installed (``pyproject.toml``'s ``version``).

    Returns
    -------
    str
        Such as ``"0.1.0"``; ``"0+unknown"`` when the folders run without
        being installed (no package metadata to read).
    """
    try:
        return metadata.version("kizuna")
    except metadata.PackageNotFoundError:
        return "0+unknown"
