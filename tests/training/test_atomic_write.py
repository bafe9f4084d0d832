"""Outputs are replaced whole or not at all: a failed or killed write keeps the old file."""

from __future__ import annotations

import errno
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kizuna.training.atomic_write import replacing
from kizuna.training.export_schema import conform
from kizuna.training.export_writers import write_chunks

NAMES = ["crm.csv", "crm.csv.gz", "crm.parquet"]


def disk_full_on(monkeypatch: pytest.MonkeyPatch, nth: int = 1) -> list[Path]:
    """From the ``nth`` file write on (``to_parquet``, ``to_csv``, ``Path.write_text``), the
    disk fills: a few bytes reach the file, then ``OSError(ENOSPC)``. Returns the paths."""
    seen: list[Path] = []

    def full(path: object) -> None:
        seen.append(Path(path))
        if len(seen) >= nth:
            Path(path).write_bytes(b"half a fi")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def frame_writer(original):
        def write(self, path=None, *args, **kwargs):
            if isinstance(path, str | Path):
                full(path)
            return original(self, path, *args, **kwargs)

        return write

    original_text = Path.write_text

    def write_text(self: Path, *args, **kwargs) -> int:
        full(self)
        return original_text(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", frame_writer(pd.DataFrame.to_parquet))
    monkeypatch.setattr(pd.DataFrame, "to_csv", frame_writer(pd.DataFrame.to_csv))
    monkeypatch.setattr(Path, "write_text", write_text)
    return seen


def chunk(ids: list[str]) -> pd.DataFrame:
    return conform(pd.DataFrame({"customer_id": ids, "churn_probability": 0.5}))


def failing(after: int, error: BaseException) -> Iterator[pd.DataFrame]:
    """Chunks of two customers, then ``error`` once ``after`` chunks are out."""
    for i in range(after):
        yield chunk([f"c{i}a", f"c{i}b"])
    raise error


def last_nights_file(folder: Path, name: str) -> bytes:
    path = folder / name
    write_chunks(iter([chunk(["old1", "old2", "old3"])]), str(path))
    return path.read_bytes()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("after", [0, 1])
@pytest.mark.parametrize(
    "error", [RuntimeError("scoring failed"), KeyboardInterrupt()], ids=["error", "interrupt"]
)
def test_a_failed_score_run_leaves_the_old_output_and_no_temporary(
    tmp_path: Path, name: str, after: int, error: BaseException
) -> None:
    before = last_nights_file(tmp_path, name)
    with pytest.raises(type(error)):
        write_chunks(failing(after, error), str(tmp_path / name))
    assert (tmp_path / name).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("name", NAMES)
def test_a_finished_run_replaces_the_file_and_keeps_its_mode(tmp_path: Path, name: str) -> None:
    path = tmp_path / "out" / name
    write_chunks(iter([chunk(["old"])]), str(path))
    path.chmod(0o640)
    assert write_chunks(iter([chunk(["a", "b"]), chunk(["c"])]), str(path)) == 3
    back = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
    assert back["customer_id"].tolist() == ["a", "b", "c"]
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == [name]


def test_a_folder_replaces_a_folder_only_once_complete(tmp_path: Path) -> None:
    target = tmp_path / "set"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(OSError, match="disk full"), replacing(target) as temp:
        temp.mkdir()
        (temp / "new.txt").write_text("half")
        raise OSError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["set"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with replacing(target) as temp:
        temp.mkdir()
        (temp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["set"]
    assert [p.name for p in target.iterdir()] == ["new.txt"]


def test_an_error_on_the_temporary_names_the_target(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()  # a folder in the way: a file never replaces it
    with pytest.raises(IsADirectoryError) as caught, replacing(tmp_path / "report.html") as temp:
        temp.write_text("<html>")
    assert caught.value.filename == str(tmp_path / "report.html")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


SIGTERM_DURING_A_WRITE = """
import os, signal, sys
import pandas as pd
import kizuna.training.cli as cli
from kizuna.training.export_writers import write_chunks
from kizuna.training.export_schema import conform

def chunks():
    yield conform(pd.DataFrame({"customer_id": ["new"]}))
    os.kill(os.getpid(), signal.SIGTERM)  # a scheduler stops the job after the first chunk
    yield conform(pd.DataFrame({"customer_id": ["never"]}))

cli.main = lambda: write_chunks(chunks(), sys.argv[1])
from kizuna.training.launch import main
main()
"""


def test_a_sigterm_during_a_write_keeps_the_old_file(tmp_path: Path) -> None:
    before = last_nights_file(tmp_path, "crm.parquet")
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_DURING_A_WRITE, str(tmp_path / "crm.parquet")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 143, done.stderr
    assert (tmp_path / "crm.parquet").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["crm.parquet"]


def test_the_temporary_is_hidden_and_ends_as_the_target_so_pandas_infers_the_same(
    tmp_path: Path,
) -> None:
    import gzip

    with replacing(tmp_path / "outcomes.csv.gz") as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".")
        assert temp.name.endswith(".outcomes.csv.gz")
        pd.DataFrame({"a": [1]}).to_csv(temp, index=False)  # compression from the name
    assert gzip.decompress((tmp_path / "outcomes.csv.gz").read_bytes()) == b"a\n1\n"
