"""Package-level names imported on first use (PEP 562), so importing a package stays cheap."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module ``__getattr__`` and ``__dir__`` for names defined in its submodules.

    Parameters
    ----------
    package
        The package's ``__name__``, e.g. ``"kizuna.features"``.
    exports
        Public name -> the submodule (relative to ``package``) that defines it.

    Returns
    -------
    (__getattr__, __dir__)
        To assign at the package's top level. The first look-up of a name
        imports its submodule and stores the name in the package, so later
        look-ups are plain attribute reads.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
