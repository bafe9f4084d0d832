"""A real ``bentoml serve`` of the kizuna service on loopback, for HTTP tests and benchmarks.

:func:`start_server` starts it in a subprocess on a free loopback port and
returns once it is ready; :class:`Server` stops (or crashes) and restarts it.
:func:`start_on_free_port` does the same for any server command (``kizuna serve``,
a built Bento), so every test that starts a server gets the port-collision retry.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.serving.model_set import ROOT

API_KEY = "test-key-0123456789abcdef"
AUTH = {"X-API-Key": API_KEY}
MARKER = "Z\u00fcrich-\u6771\u4eac-SECRET-4711"  # must never reach the log


def serve_command(port: int) -> list[str]:
    """``bentoml serve`` of the kizuna service on loopback at ``port``."""
    from kizuna.training.cli_serve import SERVICE

    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip


def stop_tree(pid: int, *, timeout: float = 20) -> None:
    """Terminate a process and every descendant; kill what is left after ``timeout`` s.

    BentoML starts each worker in a session of its own, so the workers are
    found as the main process's descendants and signalled by pid.
    """
    import psutil

    try:
        main = psutil.Process(pid)
        procs = [*main.children(recursive=True), main]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=10)


def wait_until_ready(url: str, process: subprocess.Popen, *, timeout: float = 120) -> None:
    """Return once ``url`` answers 200; raise if ``process`` exits or ``timeout`` passes."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready after {timeout} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: What a server's log says when its port was taken (bentoml's bind, `kizuna serve`'s check).
PORT_TAKEN = "Address already in use"


class PortTaken(RuntimeError):
    """The server could not bind its port: another process took it after :func:`free_port`."""


@dataclass
class Server:
    """A server subprocess on loopback; ``restart`` keeps its port and settings.

    ``command`` builds its command line for a port (``bentoml serve`` of the
    kizuna service by default); it runs in ``cwd`` with its output in ``log``.
    """

    port: int
    env: dict[str, str]
    log: Path
    command: Callable[[int], list[str]] = serve_command
    cwd: Path = ROOT
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 120, probe: str = "/readyz") -> Server:
        """Start and wait until ``probe`` answers 200.

        Raises :class:`PortTaken` when this start's log shows the port was taken,
        a RuntimeError with the log's tail on any other failure.
        """
        with self.log.open("ab") as out:
            # Only this start's lines decide PortTaken: a restart appends to the same log.
            begin = out.tell()
            self.process = subprocess.Popen(
                self.command(self.port),
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_ready(self.url + probe, self.process, timeout=timeout)
        except RuntimeError as exc:
            if self.process.poll() is None:
                self.stop()
            text = self.log.read_bytes()
            failure = PortTaken if PORT_TAKEN.encode() in text[begin:] else RuntimeError
            tail = text[-3000:].decode(errors="replace")
            raise failure(f"{exc}:\n{tail}") from None
        return self

    def stop(self, *, crash: bool = False) -> None:
        """Stop the server and its workers (SIGKILL with ``crash``: no clean shutdown).

        BentoML starts each worker in a session of its own, so the workers are
        found as the main process's descendants and signalled by pid.
        """
        import psutil

        if self.process is None or self.process.poll() is not None:
            return
        main = psutil.Process(self.process.pid)
        procs = [*main.children(recursive=True), main]
        for proc in procs if crash else [main]:
            try:
                proc.kill() if crash else proc.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(procs, timeout=20)
        for proc in alive:
            proc.kill()
        psutil.wait_procs(alive, timeout=10)

    def restart(self, *, crash: bool = False) -> Server:
        self.stop(crash=crash)
        return self.start()


def start_on_free_port(
    env: dict[str, str],
    log: Path,
    *,
    command: Callable[[int], list[str]] = serve_command,
    cwd: Path = ROOT,
    probe: str = "/readyz",
    timeout: float = 120,
    attempts: int = 3,
) -> Server:
    """Start ``command(port)`` on a free loopback port; return once ``probe`` is green.

    free_port() hands the port back before the server binds it, and bentoml reserves its
    own control ports from the same ephemeral range: on a rare collision the server exits
    with "Address already in use" (CI saw it once), and a new port is tried.

    Parameters
    ----------
    env
        The server's whole environment.
    log
        File the server's output is appended to (every attempt's).
    command
        The command line for a port; ``bentoml serve`` of the kizuna service by default.
    cwd
        Folder the server runs in.
    probe
        Path that answers 200 once the server is up.
    timeout
        Seconds each attempt may take to turn green.
    attempts
        Ports tried before a collision is raised as :class:`PortTaken`.

    Returns
    -------
    Server
        The running server; its ``port`` is the one that worked.
    """
    for attempt in range(attempts):
        try:
            return Server(free_port(), env, log, command, cwd).start(timeout=timeout, probe=probe)
        except PortTaken:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def start_server(env_overrides: dict[str, str], log: Path, *, probe: str = "/readyz") -> Server:
    """``bentoml serve`` of the kizuna service on a free loopback port; returns once
    ``probe`` is green (see :func:`start_on_free_port`)."""
    env = {
        **os.environ,
        "BENTOML_HOME": str(log.parent / "bentoml-home"),
        "OMP_NUM_THREADS": "1",
        **env_overrides,
    }
    return start_on_free_port(env, log, probe=probe)
