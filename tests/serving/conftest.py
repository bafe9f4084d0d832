"""The serving tests' fixtures: a small model set, a real server on loopback, loaded snapshots.

The model set is built by :func:`tests.serving.model_set.build_model_set`; the
server (``bentoml serve`` in a subprocess on a free loopback port, once per
session) by :func:`tests.serving.loopback.start_server`. Their helpers are
imported from those modules; the names below stay importable from here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.loopback import API_KEY as API_KEY
from tests.serving.loopback import AUTH as AUTH
from tests.serving.loopback import MARKER as MARKER
from tests.serving.loopback import Server as Server
from tests.serving.loopback import free_port as free_port
from tests.serving.loopback import serve_command as serve_command
from tests.serving.loopback import start_server as start_server
from tests.serving.loopback import stop_tree as stop_tree
from tests.serving.model_set import ROOT as ROOT
from tests.serving.model_set import ModelSet as ModelSet
from tests.serving.model_set import build_model_set as build_model_set
from tests.serving.model_set import purchase as purchase


@pytest.fixture(scope="session")
def model_set(tmp_path_factory: pytest.TempPathFactory) -> ModelSet:
    return build_model_set(tmp_path_factory.mktemp("serving") / "models")


@pytest.fixture(scope="session")
def server(model_set: ModelSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server serves a copy of the model set, which the reload tests change."""
    import shutil

    folder = tmp_path_factory.mktemp("server")
    shutil.copytree(model_set.folder, folder / "models")
    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder / "models"),
            "KIZUNA_EVENT_STORE": str(folder / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(folder / "contacts.sqlite"),
            "KIZUNA_REPORT": str(folder / "report.html"),
            "KIZUNA_API_KEY": API_KEY,
            "KIZUNA_MAX_BATCH": "2000",
            "KIZUNA_MAX_BODY_BYTES": "200000",
        },
        folder / "server.log",
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def raw(server: Server):
    """httpx on the session server, with the API key: for status codes and raw bodies."""
    import httpx

    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def known(model_set: ModelSet) -> list[str]:
    """The 20 customers with the most orders."""
    purchases = model_set.transactions[model_set.transactions["quantity"] > 0]
    counts = purchases.groupby("customer_id")["order_id"].nunique().sort_values(ascending=False)
    return [str(c) for c in counts.index[:20]]


@pytest.fixture(scope="session")
def client(server: Server):
    import bentoml

    with bentoml.SyncHTTPClient(server.url, token=API_KEY, timeout=30) as c:
        yield c


@pytest.fixture
def live(model_set: ModelSet, tmp_path: Path):
    """A freshly loaded snapshot (the test may change it) with its own event store."""
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import Live

    live = Live(str(model_set.folder), store=EventStore(tmp_path / "events.sqlite"))
    assert live.load().reloaded
    return live


@pytest.fixture(scope="session")
def served(model_set: ModelSet, tmp_path_factory: pytest.TempPathFactory):
    """The same model set loaded in-process, for the scoring unit tests."""
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import load_served

    store = EventStore(tmp_path_factory.mktemp("inproc") / "events.sqlite")
    return load_served(str(model_set.folder), store=store)
