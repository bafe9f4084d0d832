"""Entry point of a built Bento: the Bento's own source, importable as ``kizuna.*``.

A Bento carries the project's folders (``features/``, ``models/``, ``serving/`` ...)
under its ``src/``, where they are bare packages, while kizuna's code imports
``kizuna.features`` and so on. Importing this module maps the ``kizuna``
namespace onto those folders, ahead of any installed kizuna, so a Bento starts
on its own code where kizuna is not installed (a container made by
``bentoml containerize``) and is never run against another version of it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("features", "models", "serving", "training", "simulators")


class BentoSourceFinder(importlib.abc.MetaPathFinder):
    """Finds ``kizuna`` and ``kizuna.<subpackage>`` in the folders beside this one."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path=None, target=None):  # noqa: ANN001 - importlib API
        if fullname == "kizuna":
            spec = importlib.machinery.ModuleSpec("kizuna", None, is_package=True)
            spec.submodule_search_locations = []
            return spec
        head, _, sub = fullname.partition(".")
        if head != "kizuna" or sub not in SUBPACKAGES:
            return None  # deeper modules are found through the subpackage's __path__
        folder = self.root / sub
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )


def install(root: Path = SRC) -> None:
    """Put the finder first on ``sys.meta_path`` (once).

    Parameters
    ----------
    root
        The folder the ``kizuna`` packages are found in.
    """
    if not any(isinstance(f, BentoSourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, BentoSourceFinder(root))


install()

from kizuna.serving.service import KizunaService  # noqa: E402 - needs the finder above

__all__ = ["KizunaService", "install"]
