"""Fixtures shared by the model tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.models.btyd_data import TRUE_BGNBD, simulate_bgnbd


@pytest.fixture(scope="module")
def simulated() -> dict:
    """20,000 BG/NBD customers drawn with ``TRUE_BGNBD``, followed 20 periods after T."""
    rng = np.random.default_rng(20050101)
    T = rng.uniform(10.0, 50.0, 20_000)
    return simulate_bgnbd(TRUE_BGNBD, T, horizon=20.0, rng=rng)
