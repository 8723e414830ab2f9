"""The served OpenAPI spec, fuzzed by schemathesis in process (ASGI): no request makes a 5xx,
and every response matches the documented status codes and schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from service.app import create_app
from tests.service.conftest import ADMIN, auth, service_settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def test_no_request_makes_a_server_error(
    tmp_path: Path, settings: Settings, corpus_store: QdrantStore
) -> None:
    # schemathesis' pytest plugin does not load under pytest 9: drive its strategies directly
    app = create_app(
        settings,
        store=corpus_store,
        embedder=HashingEmbedder(),
        service_settings=service_settings(rate_limit_per_minute=0, upload_dir=tmp_path / "up"),
    )
    with TestClient(app):  # runs the lifespan: the app's store and engine exist
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            for mode in schemathesis.GenerationMode:  # valid requests, then invalid ones

                @hsettings(
                    max_examples=15,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(mode))
                def fuzz(case: schemathesis.Case) -> None:
                    case.call_and_validate(headers=auth(ADMIN), checks=CHECKS)

                try:
                    fuzz()
                except Unsatisfiable:  # no invalid request exists (e.g. GET /healthz)
                    assert mode is schemathesis.GenerationMode.NEGATIVE
        app.state.jobs.wait(timeout=60)


def test_spec_documents_the_chat_extensions(settings: Settings, corpus_store: QdrantStore) -> None:
    app = create_app(settings, store=corpus_store, service_settings=service_settings())
    spec = TestClient(app).get("/openapi.json").json()
    message = spec["components"]["schemas"]["AssistantMessage"]["properties"]
    assert {"citations", "annotations", "grounding"} <= set(message)
    chat = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"200", "401", "404", "429", "503"} <= set(chat)
    assert "text/event-stream" in chat["200"]["content"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["type"] == "http"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/answer", {"question": "VPN?", "include_passages": 0}, "body.include_passages"),
        ("/v1/answer", {"question": "VPN?", "include_passages": "true"}, "body.include_passages"),
        (
            "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "VPN?"}], "stream": 1},
            "body.stream",
        ),
        (
            "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "VPN?"}], "n": "1"},
            "body.n",
        ),
        ("/v1/admin/jobs", {"uploads": 1}, "body.uploads"),
    ],
)
def test_a_value_the_schema_rejects_is_rejected(
    settings: Settings, corpus_store: QdrantStore, path: str, body: dict[str, object], param: str
) -> None:
    # the schema says boolean/integer: 0, 1 and "true" are not (pydantic's lax mode took them)
    app = create_app(
        settings,
        store=corpus_store,
        embedder=HashingEmbedder(),
        service_settings=service_settings(),
    )
    with TestClient(app) as client:
        r = client.post(path, json=body, headers=auth(ADMIN))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"].startswith(param)
    spec_types = json.dumps(client.get("/openapi.json").json())
    assert '"include_passages": {"type": "boolean"' in spec_types
