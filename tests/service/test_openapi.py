"""The served OpenAPI spec, fuzzed by schemathesis in process (ASGI): no request makes a 5xx,
and every response matches the documented status codes and schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
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
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

# positive_data_acceptance: a request the schema allows is not answered 4xx (auth, 404 for a
# missing resource, 409 for a busy job runner and 429 excepted); negative_data_rejection: one it
# forbids is rejected. Together they say the schema and the validation agree.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]


def _fuzz(app: FastAPI, examples: int) -> list[str]:
    """Every operation, `examples` valid then `examples` invalid requests (fixed seed): what
    each check found, one line per operation and mode."""
    found: list[str] = []
    with TestClient(app):  # runs the lifespan: the app's store and engine exist
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            for mode in schemathesis.GenerationMode:  # valid requests, then invalid ones

                @hsettings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(mode))
                def fuzz(case: schemathesis.Case) -> None:
                    case.call_and_validate(headers=auth(ADMIN), checks=CHECKS)

                try:
                    fuzz()
                except Unsatisfiable:  # no invalid request exists (e.g. GET /healthz)
                    if mode is not schemathesis.GenerationMode.NEGATIVE:
                        found.append(f"{operation.label} {mode.value}: no valid request")
                except Exception as exc:  # a check failed: keep going, report them all
                    found.append(f"{operation.label} {mode.value}: {exc}")
        app.state.jobs.wait(timeout=60)
    return found


def _app(tmp_path: Path, settings: Settings, store: QdrantStore) -> FastAPI:
    return create_app(
        settings,
        store=store,
        embedder=HashingEmbedder(),
        service_settings=service_settings(rate_limit_per_minute=0, upload_dir=tmp_path / "up"),
    )


def test_the_schema_and_the_server_agree(
    tmp_path: Path, settings: Settings, corpus_store: QdrantStore
) -> None:
    # schemathesis' pytest plugin does not load under pytest 9: drive its strategies directly.
    # No 5xx; a request the schema allows is accepted (401/403/404/409/429 aside), one it
    # forbids is rejected; responses match their documented codes and schemas.
    found = _fuzz(_app(tmp_path, settings, corpus_store), examples=12)
    assert not found, "\n\n".join(found)


@pytest.mark.slow
def test_the_schema_and_the_server_agree_at_length(
    tmp_path: Path, settings: Settings, corpus_store: QdrantStore
) -> None:
    found = _fuzz(_app(tmp_path, settings, corpus_store), examples=60)
    assert not found, "\n\n".join(found)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/admin/jobs", {}),  # was 400: no source configured
        ("POST", "/v1/admin/jobs", {"sources": ["nowhere"]}),  # was 400: not configured
        ("PUT", "/v1/admin/uploads/a..b", b"x"),  # was allowed by the schema, 400
        ("PUT", "/v1/admin/uploads/.hidden", b"x"),
        ("PUT", "/v1/admin/uploads/acl.yaml", b"x"),
        ("PUT", "/v1/admin/uploads/ok.md", b""),  # empty upload: was allowed by the schema
        ("PUT", "/v1/admin/uploads/ok.md?acl=,", b"x"),  # names no group
    ],
)
def test_a_request_the_server_rejects_is_one_the_schema_forbids(
    tmp_path: Path,
    settings: Settings,
    corpus_store: QdrantStore,
    method: str,
    path: str,
    body: object,
) -> None:
    # a 400 must be for a request outside the schema; a 404 for a resource that is not there
    app = _app(tmp_path, settings, corpus_store)
    with TestClient(app) as client:
        kw = {"json": body} if isinstance(body, dict) else {"content": body}
        r = client.request(method, path, headers=auth(ADMIN), **kw)  # type: ignore[arg-type]
        spec = client.get("/openapi.json").json()
    if r.status_code == 404:
        return
    assert r.status_code == 400, r.text
    op = spec["paths"][next(p for p in spec["paths"] if path.startswith(p.split("{")[0]))]
    op = op[method.lower()]
    name = path.rsplit("/", 1)[1].split("?")[0]
    if not body:
        assert op["requestBody"]["content"]["application/octet-stream"]["schema"]["minLength"] == 1
    elif "?acl=" in path:
        acl = next(p for p in op["parameters"] if p["name"] == "acl")["schema"]
        assert not re.search(acl["pattern"], path.split("=", 1)[1])
    else:
        pattern = next(p for p in op["parameters"] if p["name"] == "name")["schema"]["pattern"]
        assert not re.search(pattern, name)


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
