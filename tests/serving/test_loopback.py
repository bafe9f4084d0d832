"""The loopback helper's port retry, with Python's own HTTP server standing in for bentoml.

``python -m http.server`` exits with "Address already in use" on a taken port, as
bentoml does, and starts in a fraction of a second, so no real service is needed.
"""

from __future__ import annotations

import socket
import sys

import pytest

from tests.serving import loopback


def http_server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]


@pytest.fixture
def taken_port():
    """A loopback port held (bound) for the whole test, as bentoml reserves its own ports.

    Not listening: a probe is refused at once instead of waiting for an answer.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def hand_out(monkeypatch, ports: list[int]) -> list[int]:
    """``free_port`` returns ``ports`` in turn; the returned list records what it handed out."""
    given: list[int] = []

    def fake() -> int:
        given.append(ports[len(given)])
        return given[-1]

    monkeypatch.setattr(loopback, "free_port", fake)
    return given


def test_a_port_taken_before_the_server_binds_it_is_retried_on_a_new_one(
    monkeypatch, tmp_path, taken_port
):
    spare = loopback.free_port()
    given = hand_out(monkeypatch, [taken_port, spare])
    log = tmp_path / "server.log"
    srv = loopback.start_on_free_port({}, log, command=http_server, cwd=tmp_path, probe="/")
    try:
        assert given == [taken_port, spare]
        assert srv.port == spare and srv.process.poll() is None
        assert loopback.PORT_TAKEN in log.read_text()  # the first attempt's, kept in the log
    finally:
        srv.stop()


def test_a_port_taken_on_every_attempt_gives_up_after_the_last(monkeypatch, tmp_path, taken_port):
    given = hand_out(monkeypatch, [taken_port] * 3)
    with pytest.raises(loopback.PortTaken, match=loopback.PORT_TAKEN):
        loopback.start_on_free_port(
            {}, tmp_path / "server.log", command=http_server, cwd=tmp_path, probe="/", attempts=2
        )
    assert given == [taken_port, taken_port]


def test_any_other_failure_is_raised_at_once_with_the_log(monkeypatch, tmp_path):
    given = hand_out(monkeypatch, [1, 2, 3])
    log = tmp_path / "server.log"
    # An earlier start's collision in the same log (as after a restart) does not count.
    log.write_text(f"OSError: [Errno 98] {loopback.PORT_TAKEN}\n")

    def broken(port: int) -> list[str]:
        return [sys.executable, "-c", "raise SystemExit('no model folder')"]

    with pytest.raises(RuntimeError, match="server exited with 1") as info:
        loopback.start_on_free_port({}, log, command=broken, cwd=tmp_path, probe="/")
    assert not isinstance(info.value, loopback.PortTaken)
    assert "no model folder" in str(info.value)
    assert given == [1]
