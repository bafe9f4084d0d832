"""kizuna's version: `kizuna --version`, kizuna.training.__version__ and the package metadata agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kizuna.training
from kizuna.serving import version as version_module
from kizuna.serving.version import package_version
from kizuna.training.cli import app

ROOT = Path(__file__).resolve().parents[2]
DECLARED = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_installed_version_is_the_one_pyproject_declares():
    assert package_version() == DECLARED
    assert kizuna.training.__version__ == DECLARED


def test_kizuna_version_prints_it_and_exits_zero():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"kizuna {DECLARED}\n"


def test_version_comes_before_any_command_and_runs_none():
    # Eager: printed even though `train` would need an experiment file.
    result = CliRunner().invoke(app, ["--version", "train"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"kizuna {DECLARED}"


def test_folders_run_uninstalled_report_an_unknown_version(monkeypatch):
    def missing(name: str) -> str:
        raise version_module.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version_module.metadata, "version", missing)
    assert package_version() == "0+unknown"


def test_other_attributes_of_kizuna_training_are_still_missing():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        kizuna.training.nothing_here  # noqa: B018
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", kizuna.training.__version__)
