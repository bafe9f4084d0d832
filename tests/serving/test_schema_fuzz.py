"""Property-based API test: schemathesis, driven by the service's own ``/docs.json``.

Against a real server on loopback (its own model copy and event store, the
API key set), every documented operation gets a bounded number of generated
requests, valid and invalid. Each answer must be a non-5xx, conform to the
documented status codes and schemas, and leave the server ready.
"""

from __future__ import annotations

import shutil

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serving.loopback import API_KEY, AUTH, start_server

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

EXAMPLES = 12  # per operation; 12 operations, about 30 s in all on a shared 2-core machine


@pytest.fixture(scope="module")
def fuzz_server(model_set, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(model_set.folder, folder / "models")
    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder / "models"),
            "KIZUNA_EVENT_STORE": str(folder / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(folder / "contacts.sqlite"),
            "KIZUNA_API_KEY": API_KEY,
            "KIZUNA_MAX_BATCH": "200",
        },
        folder / "server.log",
    )
    yield srv
    srv.stop()


def operations(server_url: str) -> list:
    spec = httpx.get(f"{server_url}/docs.json", headers=AUTH, timeout=30).json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=server_url)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_own_document(fuzz_server, mode):
    ops = operations(fuzz_server.url)
    assert len(ops) >= 12
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    for operation in ops:
        if mode is GenerationMode.NEGATIVE and not operation.label.startswith("POST "):
            continue  # the probes take no input: nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            case.call_and_validate(
                base_url=fuzz_server.url, headers=AUTH, timeout=30, checks=checks
            )

        run()
        ready = httpx.get(f"{fuzz_server.url}/readyz", timeout=10)
        assert ready.status_code == 200, (operation.label, ready.text)
