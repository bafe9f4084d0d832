"""Control groups by hash: stable everywhere, the right size, nested, independent."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kizuna.features.control_groups import CONTROL, TREATED, assign_groups, hash_units, in_control
from kizuna.features.errors import KizunaInputError

IDS = [f"C{i:07d}" for i in range(20_000)]


def test_hash_unit_is_blake2b_of_campaign_and_customer() -> None:
    digest = hashlib.blake2b(b"spring-24\x1fC0000042", digest_size=8).digest()
    expected = (int.from_bytes(digest, "big") >> 11) / 2**53
    assert hash_units(["C0000042"], "spring-24")[0] == expected


def test_same_answer_in_another_process_with_another_hash_seed() -> None:
    code = (
        "from features.control_groups import hash_units;"
        "print(repr(hash_units(['C0000001', 'abc', '42'], 'camp').tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert eval(out.stdout) == hash_units(["C0000001", "abc", "42"], "camp").tolist()


def test_ids_are_compared_as_text() -> None:
    assert hash_units([42], "c")[0] == hash_units(["42"], "c")[0]


def test_control_share_is_respected() -> None:
    control = in_control(IDS, "summer", 0.2)
    # Binomial(20000, 0.2): sd 57; 4 sd either side.
    assert abs(control.sum() - 4000) < 4 * 57
    assert not in_control(IDS, "summer", 0.0).any()
    assert in_control(IDS, "summer", 1.0).all()


def test_raising_the_share_only_adds_controls() -> None:
    small = in_control(IDS, "summer", 0.1)
    large = in_control(IDS, "summer", 0.3)
    assert (large | ~small).all()  # every small-share control stays control


def test_campaigns_draw_independently() -> None:
    a = in_control(IDS, "spring", 0.5)
    b = in_control(IDS, "autumn", 0.5)
    # Independent halves overlap on a quarter: sd sqrt(20000 * .25 * .75) = 61.
    assert abs((a & b).sum() - 5000) < 4 * 61


def test_assign_groups_frame() -> None:
    frame = assign_groups(pd.Series(["x", "y", "z"]), "c1", 0.5)
    assert list(frame.columns) == ["customer_id", "campaign_id", "group", "hash_unit"]
    assert set(frame["group"]) <= {TREATED, CONTROL}
    np.testing.assert_array_equal(frame["group"] == CONTROL, frame["hash_unit"] < 0.5)
    assert (frame["campaign_id"] == "c1").all()


def test_bad_inputs_fail_loudly() -> None:
    with pytest.raises(KizunaInputError, match="control share"):
        in_control(IDS[:3], "c", 1.5)
    with pytest.raises(KizunaInputError, match="campaign id"):
        hash_units(IDS[:3], "")
    with pytest.raises(KizunaInputError, match="missing"):
        hash_units(pd.Series(["a", None]), "c")
