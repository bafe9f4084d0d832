"""SIGTERM ends a command as Ctrl-C does: its clean-up runs, exit status 143, no traceback."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os, signal, sys, time
import kizuna.training.cli as cli

def command():
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
    finally:
        open(sys.argv[1], "w").write("cleaned up")  # a child stopped, a run marked killed

cli.main = command
from kizuna.training.launch import main
main()
"""


def test_sigterm_runs_the_clean_up_and_exits_143_without_a_traceback(tmp_path):
    marker = tmp_path / "cleanup"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(marker)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 143, done.stderr
    assert marker.read_text() == "cleaned up"
    assert "Traceback" not in done.stderr
