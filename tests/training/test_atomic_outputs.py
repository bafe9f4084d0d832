"""The commands' file outputs are replaced whole or not at all, and hold no stale part."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.training.test_atomic_write import disk_full_on
from tests.training.test_cli_user_errors import TRANSACTIONS, assert_one_line_error, run_cli


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def tx_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tx.csv"
    TRANSACTIONS.to_csv(path, index=False)
    return path


def features(monkeypatch, capsys, tx_csv: Path, out: Path, *extra: str) -> tuple[int, str]:
    code, _, err = run_cli(
        monkeypatch, capsys, "features", str(tx_csv), "--as-of", "2021-03-01", "--out", str(out),
        *extra,
    )  # fmt: skip
    return code, err


def test_features_without_a_horizon_remove_the_labels_of_an_earlier_run(
    monkeypatch, capsys, tmp_path, tx_csv
) -> None:
    out = tmp_path / "f"
    assert features(monkeypatch, capsys, tx_csv, out, "--horizon", "90")[0] == 0
    assert (out / "labels.parquet").exists()
    code, err = features(monkeypatch, capsys, tx_csv, out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "features.parquet", "reconciliation.json", "set_aside.parquet"
    ]  # fmt: skip
    assert "removed" in err and "labels.parquet" in err
    assert "label_window_end" not in json.loads((out / "reconciliation.json").read_text())


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_features_that_fill_the_disk_leave_the_earlier_folder_as_it_was(
    monkeypatch, capsys, tmp_path, tx_csv, nth
) -> None:
    out = tmp_path / "f"
    assert features(monkeypatch, capsys, tx_csv, out, "--horizon", "90")[0] == 0
    before = snapshot(out)
    with pytest.MonkeyPatch.context() as patch:
        disk_full_on(patch, nth)  # the first, second or third file of four
        code, err = features(monkeypatch, capsys, tx_csv, out, "--horizon", "60")
    assert_one_line_error(code, err, "No space left on device", str(out))
    assert snapshot(out) == before  # no file replaced, none half-written, no temporary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "tx.csv"]


def test_a_report_that_fills_the_disk_keeps_the_served_page(monkeypatch, capsys, tmp_path):
    from kizuna.training import report

    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path / "data"))
    built = ("<!DOCTYPE html>new", {"sections": [], "plots": [], "notes": []})
    monkeypatch.setattr(report, "build_report", lambda *a, **k: built)
    experiment = tmp_path / "exp.yaml"
    experiment.write_text("name: shop\nsplit: {as_of: 2021-03-01}\ndata: {transactions: tx.csv}\n")
    page = tmp_path / "site" / "report.html"
    page.parent.mkdir()
    page.write_text("<!DOCTYPE html>last night's")
    args = ["report", str(experiment), "--out", str(page), "--models", "none", "--json"]
    with pytest.MonkeyPatch.context() as patch:
        disk_full_on(patch)
        code, _, err = run_cli(monkeypatch, capsys, *args)
    assert_one_line_error(code, err, "No space left on device", str(page))
    assert page.read_text() == "<!DOCTYPE html>last night's"
    assert [p.name for p in page.parent.iterdir()] == ["report.html"]
    assert run_cli(monkeypatch, capsys, *args)[0] == 0
    assert page.read_text() == "<!DOCTYPE html>new"


@pytest.mark.parametrize("name", ["audience.csv", "audience.parquet"])
def test_an_audience_that_fills_the_disk_keeps_the_earlier_file(
    monkeypatch, capsys, tmp_path, name
) -> None:
    from kizuna.models import audience as model_audience
    from kizuna.serving import audience, live

    served = SimpleNamespace(
        state=SimpleNamespace(catalogue=SimpleNamespace(n_items=3)), versions={}
    )
    frame = pd.DataFrame({"customer_id": ["a", "b"], "bought_before": [False, True]})
    from kizuna.serving import model_registry
    from kizuna.training import stored_events

    monkeypatch.setattr(live, "load_served", lambda *a, **k: served)
    monkeypatch.setattr(model_registry, "served_experiment", lambda source, name: "x")
    monkeypatch.setattr(stored_events, "served_event_store", lambda *a, **k: None)
    monkeypatch.setattr(audience, "audience_frame", lambda *a, **k: (frame.copy(), 0, None))
    monkeypatch.setattr(model_audience, "reasons", lambda *a, **k: ["likely"])
    out = tmp_path / name
    args = ["score", "audience", "--item", "x", "--models", str(tmp_path), "--out", str(out)]
    assert run_cli(monkeypatch, capsys, *args, "--json")[0] == 0
    before = out.read_bytes()
    with pytest.MonkeyPatch.context() as patch:
        disk_full_on(patch)
        code, _, err = run_cli(monkeypatch, capsys, *args, "--json")
    assert_one_line_error(code, err, "No space left on device", str(out))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
