"""The Bento installs what the package installs: one list of dependencies, kept equal."""

from __future__ import annotations

import tomllib

import yaml

from tests.serving.model_set import ROOT


def test_the_bento_lists_every_dependency_of_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bento = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    # A package the service imports but the Bento leaves out fails only in a container.
    assert sorted(bento) == sorted(project)
