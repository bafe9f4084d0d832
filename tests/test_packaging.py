"""The wheel installs one ``kizuna`` package and nothing generic beside it."""

from __future__ import annotations

import subprocess
import sys


def _imports(module: str, tmp_path) -> bool:
    """Whether ``module`` imports in a fresh interpreter started outside the project."""
    code = f"import importlib, sys; sys.path = [p for p in sys.path if p]; import {module}"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True)
    return done.returncode == 0


def test_kizuna_subpackages_import_outside_the_project(tmp_path):
    for name in ("features", "models", "serving", "training", "simulators"):
        assert _imports(f"kizuna.{name}", tmp_path), name


def test_no_generic_top_level_packages_are_installed(tmp_path):
    for name in ("features", "models", "serving", "training", "simulators"):
        assert not _imports(name, tmp_path), f"`import {name}` works outside the project"
