"""The writer thread that holds a training's MLflow run: where calls run and how the run ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.serving.model_store import DATA_DIR_ENV
from kizuna.training import run_notes
from kizuna.training.run_writer import RunWriter


@pytest.fixture()
def store(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    return tmp_path


def _status(run_id: str) -> str:
    import mlflow

    return mlflow.get_run(run_id).info.status


def test_the_run_is_active_on_the_writer_thread_only_and_ends_finished(store):
    import mlflow

    writer = RunWriter("kizuna-writer", "first")
    try:
        writer.describe_run(tags={"kizuna_experiment": "w"}, params={"a.b": "1"}, files={})
        run_id = writer.run_id()
        assert writer.call(lambda: mlflow.active_run().info.run_id) == run_id
        assert mlflow.active_run() is None  # this thread never started it
        writer.log_metrics({"m": 2.0})
        writer.wait()
        writer.finish()
    finally:
        writer.close()
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "first"
    assert run.data.metrics == {"m": 2.0} and run.data.params == {"a.b": "1"}
    assert run.data.tags["kizuna_experiment"] == "w" and run.data.tags["git_commit"]


def test_a_failure_is_recorded_and_ends_the_run_failed(store):
    writer = RunWriter("kizuna-writer", "failing")
    try:
        run_id = writer.run_id()
        writer.fail(ValueError("churn.params.num_leaves must be positive"))
    finally:
        writer.close()
    import mlflow

    run = mlflow.get_run(run_id)
    assert run.info.status == "FAILED"
    assert (
        run.data.tags[run_notes.ERROR_TAG] == "ValueError: churn.params.num_leaves must be positive"
    )


def test_a_run_left_open_by_an_interrupt_ends_killed(store):
    writer = RunWriter("kizuna-writer", "interrupted")
    try:
        run_id = writer.run_id()
    finally:
        writer.close()  # as after Ctrl-C: neither finished nor failed
    assert _status(run_id) == "KILLED"


def test_a_store_that_cannot_open_raises_its_own_error(tmp_path: Path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    writer = RunWriter("kizuna-writer", "nowhere")
    try:
        with pytest.raises(OSError, match="a-file"):
            writer.run_id()
        writer.fail(RuntimeError("training failed"))  # nothing to record it in: no error here
    finally:
        writer.close()
