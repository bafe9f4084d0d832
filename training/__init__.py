"""kizuna.training: experiment config, pipelines, evaluation, registry writes, batch jobs, the CLI.

``kizuna.training.__version__`` is the installed kizuna's version (as
``kizuna --version`` prints it), read from the package metadata when asked.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Looked up on first use, not at import: importing kizuna reads no metadata.
    if name == "__version__":
        from kizuna.serving.version import package_version

        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
