"""``kizuna export --out DIR``: swapped in once complete, never over a folder of other files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.serving import model_registry, model_store
from tests.training.test_atomic_outputs import snapshot
from tests.training.test_cli_user_errors import assert_one_line_error, run_cli


def fake_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tag: str) -> None:
    """``fetch_from_registry`` as the registry answers: experiment ``shop``, models ``tag``.

    ``typo`` is not registered; ``broken`` fails half-way through the copy.
    """
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv(model_store.DATA_DIR_ENV, str(tmp_path / "data"))

    def fetch(experiment, dst, *, alias="champion", with_snapshot=True):
        if experiment == "typo":
            raise KizunaInputError("no experiment 'typo' is registered; registered: shop")
        dst = Path(dst)
        (dst / "churn").mkdir(parents=True)
        (dst / "churn" / model_store.BUNDLE_FILE).write_text(tag)
        if experiment == "broken":
            raise OSError(28, "No space left on device")
        (dst / "snapshot").mkdir()
        (dst / "snapshot" / "manifest.json").write_text(tag)
        (dst / model_store.VERSIONS_FILE).write_text(json.dumps({"churn": 1, "snapshot": 1}))
        return dst, experiment

    monkeypatch.setattr(model_registry, "fetch_from_registry", fetch)


def export(monkeypatch, capsys, out: Path, experiment: str = "shop") -> tuple[int, str]:
    code, _, err = run_cli(
        monkeypatch, capsys, "export", "--experiment", experiment, "--out", str(out), "--json"
    )
    return code, err


@pytest.fixture
def earlier(monkeypatch, capsys, tmp_path: Path) -> Path:
    """An export made last week (models "v1") in ``tmp_path/models``."""
    fake_registry(monkeypatch, tmp_path, "v1")
    out = tmp_path / "models"
    assert export(monkeypatch, capsys, out)[0] == 0
    return out


@pytest.mark.parametrize("experiment", ["typo", "broken"])
def test_a_failed_export_leaves_the_earlier_one_as_it_was(
    monkeypatch, capsys, tmp_path, earlier, experiment
) -> None:
    before = snapshot(earlier)
    code, err = export(monkeypatch, capsys, earlier, experiment)
    assert_one_line_error(code, err, "typo" if experiment == "typo" else "No space left")
    assert snapshot(earlier) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no temporary left


def test_a_re_export_over_an_earlier_one_replaces_it_whole(
    monkeypatch, capsys, tmp_path, earlier
) -> None:
    (earlier / "ltv").mkdir()  # a kind the new champions no longer have
    fake_registry(monkeypatch, tmp_path, "v2")
    assert export(monkeypatch, capsys, earlier) == (0, "")
    assert snapshot(earlier) == {
        "churn/bundle.joblib": b"v2",
        "snapshot/manifest.json": b"v2",
        "versions.json": b'{"churn": 1, "snapshot": 1}',
    }
    assert not (earlier / "ltv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_a_new_or_empty_folder_is_exported_into(monkeypatch, capsys, tmp_path) -> None:
    fake_registry(monkeypatch, tmp_path, "v1")
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "models"):
        assert export(monkeypatch, capsys, out)[0] == 0
        assert (out / "churn" / "bundle.joblib").read_text() == "v1"


@pytest.mark.parametrize(
    "files, words",
    [
        ({"notes.txt": "mine", "versions.json": "{}"}, "holds files no export made"),
        ({"churn/bundle.joblib": "x"}, "has no versions.json"),
        ({"mlflow.db": "the registry", "contacts/x.sqlite": "log"}, "['contacts', 'mlflow.db']"),
    ],
)
def test_a_folder_that_is_not_an_earlier_export_is_refused_and_untouched(
    monkeypatch, capsys, tmp_path, files, words
) -> None:
    fake_registry(monkeypatch, tmp_path, "v1")
    out = tmp_path / "mine"
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    before = snapshot(out)
    code, err = export(monkeypatch, capsys, out)
    assert_one_line_error(code, err, "is not an earlier kizuna export", words)
    assert snapshot(out) == before


def test_the_current_folder_and_a_file_are_refused(monkeypatch, capsys, tmp_path) -> None:
    fake_registry(monkeypatch, tmp_path, "v1")
    (tmp_path / "README.md").write_text("my project")
    monkeypatch.chdir(tmp_path)
    code, err = export(monkeypatch, capsys, Path("."))
    assert_one_line_error(code, err, "not an earlier kizuna export", "README.md")
    code, err = export(monkeypatch, capsys, Path("README.md"))
    assert_one_line_error(code, err, "README.md is a file")
    assert (tmp_path / "README.md").read_text() == "my project"
