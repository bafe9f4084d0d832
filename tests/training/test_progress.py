"""Progress: every step shows, a long step keeps beating, and quiet means silent."""

from __future__ import annotations

import io
import time

from rich.console import Console

from kizuna.training import progress


def capture(monkeypatch, *, terminal: bool) -> io.StringIO:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=120)
    monkeypatch.setattr(progress, "err_console", console)
    return buf


def test_off_a_terminal_a_long_step_prints_heartbeats(monkeypatch):
    buf = capture(monkeypatch, terminal=False)
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.05)
    with progress.step("logging to MLflow"):
        time.sleep(0.3)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "… logging to MLflow"
    assert sum("still logging to MLflow" in line for line in lines) >= 2
    assert lines[-1].startswith("✓ logging to MLflow")


def test_in_a_terminal_the_spinner_shows_elapsed_seconds(monkeypatch):
    buf = capture(monkeypatch, terminal=True)
    monkeypatch.setattr(progress, "REFRESH_S", 0.02)
    with progress.step("training churn"):
        time.sleep(0.2)
    out = buf.getvalue()
    assert "training churn…" in out and "✓" in out


def test_quiet_prints_nothing_and_errors_skip_the_tick(monkeypatch):
    buf = capture(monkeypatch, terminal=False)
    with progress.step("x", quiet=True):
        pass
    assert buf.getvalue() == ""
    try:
        with progress.step("failing"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert "✓" not in buf.getvalue()
