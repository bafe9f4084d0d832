"""``kizuna serve``'s signal forwarding, on a stand-in server: every process it started ends.

The stand-in is a Python process that starts two workers, one in its process
group and one in a session of its own that ignores SIGTERM and SIGINT (as a
stuck BentoML worker would), then sleeps. ``run_until_signalled`` runs it in a
subprocess that the test signals; afterwards none of the three may be left.
The real server is covered by ``test_cli_serve.py::test_serve_stops_everything_it_started_on_a_signal``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

#: A worker that ignores SIGTERM and SIGINT, and says when its handlers are set.
STUBBORN = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); open(sys.argv[1], 'w').close(); time.sleep(600)"
)
#: The stand-in server: argv[1] the file for the pids, argv[2] the stubborn worker's flag.
SERVER = f"""
import json, os, subprocess, sys, time
group = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
alone = subprocess.Popen([sys.executable, "-c", {STUBBORN!r}, sys.argv[2]], start_new_session=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
with open(sys.argv[1] + ".tmp", "w") as out:
    json.dump({{"server": os.getpid(), "group": group.pid, "alone": alone.pid}}, out)
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""

RUNNER = """
import os, sys
from kizuna.training.cli_serve import run_until_signalled
command = [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]]
sys.exit(run_until_signalled(command, env=dict(os.environ), stop_timeout=1.0))
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_server_its_group_and_workers_in_other_sessions(
    tmp_path: Path, sig: str
) -> None:
    pids_file, ready_file = tmp_path / "pids.json", tmp_path / "stubborn-ready"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, SERVER, str(pids_file), str(ready_file)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    pids: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 60
        while not pids_file.exists():
            assert runner.poll() is None, f"runner exited with {runner.returncode}"
            assert time.monotonic() < deadline, "the stand-in server never started"
            time.sleep(0.05)
        pids = json.loads(pids_file.read_text())
        assert all(not gone(pid) for pid in pids.values())
        # the stubborn worker is in a session of its own: a group signal misses it
        assert os.getsid(pids["alone"]) != os.getsid(pids["server"])
        runner.send_signal(getattr(signal, sig))
        assert runner.wait(timeout=15) == 0
        # SIGKILL after the 1 s stop timeout reaches the worker that ignores the signal
        deadline = time.monotonic() + 5
        while not all(gone(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = {name: pid for name, pid in pids.items() if not gone(pid)}
        assert not left, f"left running: {left}"
    finally:  # never leave a process behind, whatever failed
        for pid in [runner.pid, *pids.values()]:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        runner.wait(timeout=10)


def test_with_json_the_servers_logs_go_to_stderr_and_stdout_stays_json():
    """``kizuna serve --json``: stdout holds the JSON object only (BentoML logs to stdout)."""
    runner = (
        "import os, sys\n"
        "from kizuna.training.cli_serve import run_until_signalled\n"
        'print(\'{"url": "x"}\', flush=True)\n'
        "command = [sys.executable, '-c', 'print(\"INFO server log\")']\n"
        "sys.exit(run_until_signalled(command, env=dict(os.environ), logs_to_stderr=True))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == {"url": "x"}
    assert "INFO server log" in done.stderr


def test_the_server_ends_when_kizuna_serve_is_killed_outright(tmp_path: Path):
    """SIGKILL cannot be forwarded: the server learns of its parent's death from the kernel."""
    pids = tmp_path / "pids.json"
    flag = tmp_path / "stubborn-ready"
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, SERVER, str(pids), str(flag)])
    try:
        deadline = time.monotonic() + 60
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        server = json.loads(pids.read_text())["server"]
        runner.kill()
        runner.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not gone(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(server)
    finally:
        for pid in json.loads(pids.read_text()).values() if pids.exists() else ():
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()


def test_a_port_in_use_is_one_line_before_anything_starts():
    import socket

    from kizuna.features.errors import KizunaInputError
    from kizuna.training.cli_serve import check_port_free

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(KizunaInputError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # free again
