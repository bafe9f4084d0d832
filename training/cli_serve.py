"""``kizuna serve``: the BentoML service in a child process that stops cleanly on a signal.

The CRM export, ``kizuna score``, is in :mod:`training.cli_score`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from kizuna.training.cli_common import AliasOpt, EventStoreOpt, ExperimentOpt, ModelsOpt, emit_json
from kizuna.training.progress import err_console

SERVICE = "kizuna.serving.service:KizunaService"
#: Seconds the server gets to shut down cleanly after SIGTERM/SIGINT before it is killed.
STOP_TIMEOUT = 6.0


def serve(
    models: ModelsOpt = "registry",
    alias: AliasOpt = "champion",
    experiment: ExperimentOpt = None,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 3000,
    event_store: EventStoreOpt = None,
    reload_poll: Annotated[
        float,
        typer.Option("--reload-poll", help="Check for new champions every N seconds (0 = off)."),
    ] = 0.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print where the service listens as JSON on stdout.")
    ] = False,
) -> None:
    """Start the BentoML service (recommendations, churn, LTV, profiles, events).

    The API key, body and batch limits come from KIZUNA_API_KEY,
    KIZUNA_MAX_BODY_BYTES, KIZUNA_MAX_BATCH and KIZUNA_MAX_EVENTS.
    """
    from kizuna.features.errors import KizunaInputError
    from kizuna.serving.config import Settings

    if models != "registry" and not Path(models).is_dir():
        raise KizunaInputError(
            f"--models must be 'registry' or a model folder; {models} is neither"
        )
    check_port_free(host, port)
    env = dict(os.environ)
    env["KIZUNA_MODEL_SOURCE"] = models if models == "registry" else str(Path(models).resolve())
    env["KIZUNA_MODEL_ALIAS"] = alias
    if models == "registry":
        from kizuna.serving.model_registry import resolve_experiment

        env.setdefault("MLFLOW_TRACKING_URI", _tracking_uri())
        os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
        # Fail here, in one line, rather than in a server that never turns ready.
        env["KIZUNA_EXPERIMENT"] = resolve_experiment(experiment)
    else:
        from kizuna.serving.model_registry import served_experiment

        env["KIZUNA_EXPERIMENT"] = served_experiment(env["KIZUNA_MODEL_SOURCE"], experiment)
    env["KIZUNA_RELOAD_POLL_SECONDS"] = str(reload_poll)
    # Absolute paths: the server resolves nothing against a working directory.
    settings = Settings.from_env().for_experiment(env["KIZUNA_EXPERIMENT"])
    env["KIZUNA_EVENT_STORE"] = str((event_store or settings.event_store).resolve())
    from kizuna.training.stored_events import warn_legacy_store

    if event_store is None and not os.environ.get("KIZUNA_EVENT_STORE"):
        warn_legacy_store(settings.data_dir, settings.event_store)
    if not os.environ.get("KIZUNA_CONTACT_LOG"):  # caps and cooldowns would forget contacts
        warn_legacy_store(settings.data_dir, settings.contact_log, kind="contact log")
    env["KIZUNA_CONTACT_LOG"] = str(Path(settings.contact_log).resolve())
    env.setdefault("MLFLOW_TRACKING_URI", _tracking_uri())
    if as_json:
        base = f"http://{host}:{port}"
        emit_json(
            {
                "url": base,
                "models": models,
                "alias": alias,
                "docs": f"{base}/docs.json",
                "ready": f"{base}/readyz",
                "event_store": env["KIZUNA_EVENT_STORE"],
            }
        )
        sys.stdout.flush()
    err_console.print(
        f"serving {models} ({alias}) on http://{host}:{port}  "
        f"[dim]API docs: http://{host}:{port}/ (OpenAPI: /docs.json), "
        f"ready: /readyz[/dim]"
    )
    if not (settings.api_key or "").strip():
        from kizuna.serving.hosts import allowed_hosts

        hosts = allowed_hosts(settings)
        named = (
            "whatever Host it names: a web page on this machine too (DNS rebinding)"
            if hosts is None
            else f"and names it {', '.join(hosts)}"
            f"{' or its address' if settings.allowed_hosts is None else ''} in the Host header "
            "(KIZUNA_ALLOWED_HOSTS)"
        )
        err_console.print(
            f"warning: no KIZUNA_API_KEY: every endpoint answers anyone who reaches this port "
            f"{named}; set a key outside a test",
            highlight=False,
            soft_wrap=True,
        )
    env["BENTOML_HOME"] = str(server_home(env.get("BENTOML_HOME"), port))
    command = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--host",
        host,
        "--port",
        str(port),
        # An idle keep-alive connection is closed after this many seconds.
        "--timeout-keep-alive",
        str(max(1, round(settings.header_timeout))),
    ]
    # With --json, stdout holds the JSON object alone; the server logs go to stderr.
    raise typer.Exit(run_until_signalled(command, env=env, logs_to_stderr=as_json))


def server_home(home: str | None, port: int) -> Path:
    """A BentoML home of this server's own, under the user's (``$BENTOML_HOME`` or
    ``~/bentoml``): BentoML keeps its Prometheus counters in a folder of its home
    and wipes it when a server starts, so two services on one host would reset and
    mix each other's ``/metrics``.

    Parameters
    ----------
    home
        The user's BentoML home, or None for the default.
    port
        The server's port.

    Returns
    -------
    pathlib.Path
    """
    base = Path(home).expanduser() if home else Path.home() / "bentoml"
    return base / "kizuna-servers" / f"port-{port}"


def check_port_free(host: str, port: int) -> None:
    """Fail in one line when ``host:port`` cannot be listened on (another server has it).

    The server would find out only after starting its workers, in a long traceback.

    Parameters
    ----------
    host
        The interface.
    port
        The port.
    """
    import socket

    from kizuna.features.errors import KizunaInputError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise KizunaInputError(f"--host {host}: not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise KizunaInputError(
                f"cannot listen on {host}:{port}: {exc.strerror} (another server has the "
                "port?): stop it, or choose another with --port"
            ) from None


def _die_with_parent() -> None:
    """In the server process (Linux): SIGTERM when `kizuna serve` dies, even by SIGKILL,
    so the server and, through its own shutdown, its workers do not outlive it."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def run_until_signalled(
    command: list[str],
    *,
    env: dict[str, str],
    stop_timeout: float = STOP_TIMEOUT,
    logs_to_stderr: bool = False,
) -> int:
    """Run the server; on SIGTERM or SIGINT stop it and every process it started.

    The server runs in a process group of its own, so a terminal's Ctrl-C
    reaches it only through here, once. On a signal the group gets the same
    signal, then ``stop_timeout`` seconds to exit, then SIGKILL, and so does
    every descendant (BentoML puts its workers in sessions of their own), so
    the port is free when this returns. ``logs_to_stderr`` sends the server's
    standard output (BentoML logs there) to this process's standard error.

    Parameters
    ----------
    command
        The server's command line.
    env
        Its environment.
    stop_timeout
        Seconds between the signal and SIGKILL.
    logs_to_stderr
        Whether the server's output goes to standard error.

    Returns
    -------
    int
        The server's exit code; 0 after a stop requested by a signal.
    """
    import psutil

    stdout = sys.__stderr__.fileno() if logs_to_stderr and sys.__stderr__ else None
    linux = sys.platform.startswith("linux")
    proc = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=stdout,
        preexec_fn=_die_with_parent if linux else None,  # noqa: PLW1509 - prctl only
    )
    stop_requested: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stop_requested.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while proc.poll() is None and not stop_requested:
            time.sleep(0.1)
        if not stop_requested:
            return proc.returncode
        try:
            family = [*psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        try:
            os.killpg(proc.pid, stop_requested[0])
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + stop_timeout
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            pass
        _, alive = psutil.wait_procs(family, timeout=max(0.5, deadline - time.monotonic()))
        for leftover in [*alive, *([proc] if proc.poll() is None else [])]:
            try:
                leftover.kill()
            except (psutil.NoSuchProcess, ProcessLookupError):
                pass
        proc.wait()
        psutil.wait_procs(alive, timeout=2)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _tracking_uri() -> str:
    from kizuna.serving.model_store import tracking_uri

    return tracking_uri()
