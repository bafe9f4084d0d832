"""README, "Using kizuna as a library": its code block runs as written, on public names only.

The block is read from the README and executed in a fresh folder, so it cannot
go stale; the package-level exports it uses are checked to stay lazy.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kizuna.features
import kizuna.models

README = Path(__file__).resolve().parents[1] / "README.md"
PUBLIC = {
    "kizuna.features",
    "kizuna.models",
    "kizuna.models.recommenders",
    "kizuna.simulators.synthetic",
}


def library_block() -> str:
    section = README.read_text(encoding="utf-8").split("## Using kizuna as a library\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section has one python block"
    return blocks[0]


def test_the_block_imports_only_public_package_names():
    modules = re.findall(r"^from (\S+) import", library_block(), flags=re.M)
    kizuna_modules = {m for m in modules if m.startswith("kizuna")}
    assert kizuna_modules == PUBLIC
    assert not re.search(r"\b_[a-z]", library_block().replace("__", ""))  # no private names


def test_the_readme_block_runs_and_gives_sane_scores_and_recommendations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "readme"}
    exec(compile(library_block(), str(README), "exec"), ns)  # noqa: S102 - the README's own code

    shop, report = ns["shop"], ns["validated"].report
    assert report.input_rows == len(shop.transactions)
    assert report.kept_rows + sum(report.set_aside.values()) == report.input_rows
    # Training rows are the labelled population of 2024-04-01 only.
    assert list(ns["X_train"].index) == list(ns["y_train"].index)
    assert set(ns["y_train"].unique()) == {0, 1}

    scores = ns["scores"]
    orders = ns["orders"]
    before = orders[orders["timestamp"] < pd.Timestamp("2024-10-01")]
    assert set(scores.index) == set(before["customer_id"][~before["is_return"]])
    assert scores["churn_risk"].between(0, 1).all()
    assert scores["churn_risk"].is_monotonic_decreasing
    assert scores["why"].str.len().gt(0).all()

    bought, top = ns["bought"], ns["top"]
    assert top.shape == (3, 5)
    for customer, codes in zip(scores.index[:3], top, strict=True):
        items = set(bought.item_ids[codes])
        assert len(items) == 5 and items <= set(shop.items["item_id"])
        already = set(before.loc[before["customer_id"] == customer, "item_id"])
        assert not items & already  # exclude_seen: new items only
    assert np.isfinite(ns["risk"]).all()


@pytest.mark.parametrize("package", [kizuna.features, kizuna.models])
def test_every_exported_name_resolves_and_is_listed(package):
    assert sorted(package._EXPORTS) == package.__all__
    for name in package.__all__:
        value = getattr(package, name)
        assert value.__name__ == name
        assert name in dir(package)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        package.not_a_name  # noqa: B018


def test_importing_the_packages_loads_neither_pandas_nor_lightgbm():
    code = (
        "import sys, kizuna.features, kizuna.models, kizuna.features.schema;"
        "print(sorted({'pandas', 'numpy', 'lightgbm', 'implicit'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
