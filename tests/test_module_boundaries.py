"""Package modules use each other's public names only, and every imported name exists.

A helper shared by two modules is public (named, documented) in one of them; an
underscored name stays inside its module. Imports inside functions are checked
too: they run only when the function does, so a moved name would fail late.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "models", "serving", "training", "simulators")


def package_files() -> list[Path]:
    return sorted(p for name in PACKAGES for p in (ROOT / name).rglob("*.py"))


def own_module(path: Path, root: Path = ROOT) -> str:
    """``kizuna.training.engines.spark_io`` for ``training/engines/spark_io.py``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(("kizuna", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def kizuna_imports(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, module, name) of every ``from kizuna.x import name`` in ``tree``."""
    return [
        (node.lineno, node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kizuna.")
        for alias in node.names
    ]


def private_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Underscored names this module takes from another kizuna module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = own_module(path, root)
    found = []
    modules: dict[str, str] = {}  # local name -> kizuna module it is bound to
    for line, module, name in kizuna_imports(tree):
        if name.startswith("_") and module != me:
            found.append(f"{path.relative_to(root)}:{line}: from {module} import {name}")
        modules[name] = f"{module}.{name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kizuna.") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and modules[node.value.id] != me
        ):
            target = modules[node.value.id]
            found.append(f"{path.relative_to(root)}:{node.lineno}: {target}.{node.attr}")
    return found


def test_own_module_names_the_installed_path():
    assert own_module(ROOT / "training/engines/spark_io.py") == "kizuna.training.engines.spark_io"
    assert own_module(ROOT / "features/__init__.py") == "kizuna.features"


def test_private_uses_finds_an_import_and_an_attribute(tmp_path):
    module = tmp_path / "models" / "x.py"
    module.parent.mkdir()
    module.write_text(
        "from kizuna.models.bgnbd import _helper, public\n"
        "from kizuna.models.x import _mine\n"  # its own module: allowed
        "import kizuna.models.ease as ease\n"
        "ease._binary(1)\n"
    )
    assert private_uses(module, tmp_path) == [
        "models/x.py:1: from kizuna.models.bgnbd import _helper",
        "models/x.py:4: kizuna.models.ease._binary",
    ]


def test_no_module_uses_another_modules_private_names():
    found = [use for path in package_files() for use in private_uses(path)]
    assert found == []


# Importing every module imports bentoml, mlflow, ...: their deprecation notices are not ours.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_name_imported_from_kizuna_exists():
    missing = []
    for path in package_files():
        for line, module, name in kizuna_imports(ast.parse(path.read_text(encoding="utf-8"))):
            try:
                target = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.split(".")[0] == "pyspark":
                    continue  # the spark extra is optional; its modules import it at the top
                raise
            if not hasattr(target, name):
                try:
                    importlib.import_module(f"{module}.{name}")  # a submodule
                except ModuleNotFoundError:
                    missing.append(f"{path.relative_to(ROOT)}:{line}: {module}.{name}")
    assert missing == []


def test_every_package_is_scanned():
    folders = {p.relative_to(ROOT).parts[0] for p in package_files()}
    assert folders == set(PACKAGES)
