"""Shared fixtures: where the real datasets are, and skipping when they are not."""

from __future__ import annotations

from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail_2010_2011.csv.gz"
CDNOW_MASTER = DATASETS / "cdnow" / "CDNOW_master.txt"
CDNOW_SAMPLE = DATASETS / "cdnow" / "CDNOW_sample.txt"


def require_dataset(path: Path) -> Path:
    """Return ``path``, or skip the test saying which file is missing."""
    if not path.exists():
        pytest.skip(
            f"real dataset not found at {path}: the shared datasets folder sits beside "
            "the project (../shared/datasets); tests that need it skip without it"
        )
    return path


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    return require_dataset(ONLINE_RETAIL)


@pytest.fixture(scope="session")
def cdnow_master_path() -> Path:
    return require_dataset(CDNOW_MASTER)


@pytest.fixture(scope="session")
def cdnow_sample_path() -> Path:
    return require_dataset(CDNOW_SAMPLE)
