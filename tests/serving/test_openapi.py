"""The OpenAPI rewrite on its own, without a server (the served document: ``test_hardening``)."""

from __future__ import annotations

import pytest

from kizuna.serving.config import Settings
from kizuna.serving.openapi import document


def bento_like_spec() -> dict:
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
    body = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"customer_id": {"type": "string"}}}
            }
        }
    }
    return {
        "openapi": "3.0.2",
        "info": {"title": "x", "version": "0"},
        "paths": {
            "/readyz": {"get": {"responses": ok}},
            "/docs.json": {"get": {"responses": ok}},
            "/recommend": {"post": {"requestBody": body, "responses": ok}},
        },
        "components": {"schemas": {}},
    }


def test_without_a_key_no_security_is_declared():
    spec = document(bento_like_spec(), Settings())
    assert "security" not in spec and "securitySchemes" not in spec["components"]


@pytest.mark.parametrize("public_docs", [False, True])
def test_a_key_is_declared_on_every_path_but_the_open_ones(public_docs):
    from openapi_spec_validator import validate

    spec = document(bento_like_spec(), Settings(api_key="k", public_docs=public_docs))
    validate(spec)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"ApiKey": []}, {"Bearer": []}]  # either one
    paths = spec["paths"]
    assert paths["/readyz"]["get"]["security"] == []
    assert "security" not in paths["/recommend"]["post"]  # the document-wide rule
    assert ("security" in paths["/docs.json"]["get"]) is public_docs


def test_the_offer_endpoint_documents_its_own_503_causes():
    spec = bento_like_spec()
    spec["paths"]["/next_best_offer"] = spec["paths"]["/recommend"]
    text = document(spec, Settings())["paths"]["/next_best_offer"]["post"]["responses"]["503"]
    assert "contact log unavailable" in text["description"]
    assert "offer catalogue" in text["description"]
