"""``kizuna score`` (the CRM export) and ``kizuna serve`` argument checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kizuna.features.errors import KizunaInputError
from kizuna.serving.event_checks import check_events
from kizuna.serving.event_store import EventStore
from kizuna.training.cli import app


def test_score_writes_every_customer_to_sqlite(model_set, tmp_path, monkeypatch):
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "none.sqlite"))
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--models",
            str(model_set.folder),
            "--out",
            url,
            "--k",
            "4",
            "--chunk-size",
            "64",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    engine = sa.create_engine(url)
    back = pd.read_sql_table("customer_scores", engine)
    engine.dispose()
    assert len(back) == summary["rows"] > 0
    assert summary["model_versions"] == {"recommender": 1, "churn": 1, "ltv": 1}
    assert back["recommendations"].str.count(r"\|").eq(3).all()


def test_score_includes_stored_events(model_set, tmp_path, monkeypatch):
    store_path = tmp_path / "events.sqlite"
    raw = pd.DataFrame(
        {
            "customer_id": ["BRAND-NEW"],
            "order_id": ["E1"],
            "item_id": ["I00001"],
            "timestamp": [pd.Timestamp("2024-06-30 12:00")],
            "quantity": [1.0],
            "unit_price": [3.0],
        }
    )
    EventStore(store_path).append(check_events(raw, now=pd.Timestamp("2024-07-01")))
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(store_path))
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["score", "--models", str(model_set.folder), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert "BRAND-NEW" in set(scores["customer_id"])


def test_serve_refuses_a_missing_model_folder(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--models", str(tmp_path / "nope")])
    assert isinstance(result.exception, KizunaInputError)
    assert "model folder" in str(result.exception)


@pytest.mark.parametrize("key", [None, "s3cret"])
def test_serve_without_an_api_key_says_who_can_reach_it(model_set, tmp_path, monkeypatch, key):
    import io

    from rich.console import Console

    from kizuna.training import cli_serve

    sink = io.StringIO()
    monkeypatch.setattr(cli_serve, "err_console", Console(file=sink, width=400))
    monkeypatch.setattr(cli_serve, "run_until_signalled", lambda *a, **k: 0)  # no server
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KIZUNA_API_KEY", raising=False)
    if key:
        monkeypatch.setenv("KIZUNA_API_KEY", key)
    result = CliRunner().invoke(app, ["serve", "--models", str(model_set.folder)])
    assert result.exit_code == 0, result.output
    warned = "warning: no KIZUNA_API_KEY: every endpoint answers anyone" in sink.getvalue()
    assert warned == (key is None)
    # Without a key only loopback names and the address are answered (serving.hosts).
    assert ("names it localhost, 127.0.0.1, ::1 or its address" in sink.getvalue()) == (key is None)


def test_score_refuses_an_unknown_output_type(model_set, tmp_path, monkeypatch):
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "none.sqlite"))
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--models",
            str(model_set.folder),
            "--out",
            str(tmp_path / "scores.xlsx"),
            "--json",
        ],
    )
    assert isinstance(result.exception, KizunaInputError)


@pytest.mark.parametrize("k", ["0", "101"])
def test_score_checks_k(model_set, k):
    result = CliRunner().invoke(app, ["score", "--models", str(model_set.folder), "--k", k])
    assert result.exit_code == 2


@pytest.mark.slow
def test_bentoml_build_makes_a_bento(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BENTOML_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    bentos = list((tmp_path / "bentos" / "kizuna").glob("*/src/serving/service.py"))
    assert len(bentos) == 1


@pytest.mark.integration
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_serve_stops_everything_it_started_on_a_signal(model_set, tmp_path, sig):
    """A signal to the `kizuna serve` process frees the port within 10 s (no orphan worker)."""
    import os
    import signal
    import socket
    import sys
    import time

    import psutil

    from tests.serving.loopback import start_on_free_port

    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp_path / "bentoml-home"),
        "KIZUNA_CONTACT_LOG": str(tmp_path / "contacts.sqlite"),
        "OMP_NUM_THREADS": "1",
    }

    def kizuna_serve(port: int) -> list[str]:
        return [sys.executable, "-m", "kizuna.training.launch", "serve", "--models",
                str(model_set.folder), "--port", str(port), "--event-store",
                str(tmp_path / "events.sqlite")]  # fmt: skip

    server = start_on_free_port(env, tmp_path / "serve.log", command=kizuna_serve, probe="/livez")
    cli, port = server.process, server.port
    family: list = []
    try:
        family = psutil.Process(cli.pid).children(recursive=True)
        assert family, "kizuna serve started no server"
        cli.send_signal(getattr(signal, sig))
        stopped = time.monotonic()
        while True:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                    break
                except OSError:
                    assert time.monotonic() - stopped < 10, "port still held 10 s after the signal"
                    time.sleep(0.2)
        assert cli.wait(timeout=10) == 0
        _, alive = psutil.wait_procs(family, timeout=5)
        assert not alive, f"left running: {alive}"
    finally:  # never leave a server behind, whatever failed
        for proc in [*family, psutil.Process(cli.pid)] if psutil.pid_exists(cli.pid) else family:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


def test_serve_without_a_registered_experiment_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    with pytest.raises(KizunaInputError, match="no experiment is registered"):
        CliRunner().invoke(app, ["serve"], catch_exceptions=False)
    with pytest.raises(KizunaInputError, match="'nope' has no registered snapshot"):
        CliRunner().invoke(app, ["serve", "--experiment", "nope"], catch_exceptions=False)


@pytest.mark.integration
def test_two_services_on_one_host_keep_their_own_metrics(model_set, tmp_path):
    """BentoML wipes and shares one Prometheus folder per home: kizuna serve gives each its own."""
    import os
    import sys

    import httpx

    from tests.serving.loopback import start_on_free_port

    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    servers = []

    def start(name: str) -> int:
        def command(port: int) -> list[str]:
            return [sys.executable, "-m", "kizuna.training.launch", "serve", "--models",
                    str(model_set.folder), "--port", str(port), "--event-store",
                    str(tmp_path / f"{name}.sqlite")]  # fmt: skip

        extra = {"KIZUNA_CONTACT_LOG": str(tmp_path / f"{name}-contacts.sqlite")}
        log = tmp_path / f"{name}.log"
        servers.append(start_on_free_port({**env, **extra}, log, command=command))
        return servers[-1].port

    def status_calls(port: int) -> float:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("bentoml_service_request_total") and 'endpoint="/status"' in line
        )

    try:
        a = start("a")
        for _ in range(5):
            assert httpx.post(f"http://127.0.0.1:{a}/status", timeout=10).status_code == 200
        b = start("b")  # before: wiped and shared a's counters
        assert status_calls(a) == 5
        assert status_calls(b) == 0
    finally:
        for server in servers:
            server.stop()
