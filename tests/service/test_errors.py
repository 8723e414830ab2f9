"""Errors and limits: 503 + Retry-After and recovery, 4xx with clear messages, no tracebacks,
request size and rate limits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.embedders import HashingEmbedder
from core.errors import StoreUnavailable
from core.settings import Settings
from core.store import QdrantStore
from ingest.pipeline import Ingestor
from service.app import create_app
from tests.conftest import write
from tests.service.conftest import CORPUS, FIN, HR, auth, free_port, service_settings

CHAT = "/v1/chat/completions"
pytestmark = pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning")


def ask(q: str = "年假要提前几天申请？") -> dict[str, Any]:
    return {"model": "grounded-qa", "messages": [{"role": "user", "content": q}]}


class FlakyStore:
    """A store whose every call raises StoreUnavailable while `down` (a server gone away)."""

    def __init__(self, store: QdrantStore) -> None:
        self.inner, self.chunks, self.down = store, store.chunks, True

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            if self.down:
                raise StoreUnavailable("qdrant at http://127.0.0.1:6333 is unreachable")
            return attr(*args, **kw)

        return call


def test_store_down_is_503_then_recovers_by_itself(
    settings: Settings, corpus_store: QdrantStore
) -> None:
    flaky = FlakyStore(corpus_store)
    app = create_app(
        settings,
        store=flaky,
        embedder=HashingEmbedder(),
        service_settings=service_settings(),  # type: ignore[arg-type]
    )
    with TestClient(app) as c:
        for r in (
            c.post(CHAT, json=ask(), headers=auth(HR)),
            c.post("/v1/answer", json={"question": "年假有多少天？"}, headers=auth(HR)),
            c.get("/v1/documents/corpus/hr/leave.md", headers=auth(HR)),
            c.get("/healthz"),
        ):
            assert r.status_code == 503 and r.headers["Retry-After"] == "10", r.text
            assert "unreachable" in r.text and "Traceback" not in r.text
        flaky.down = False
        r = c.post(CHAT, json=ask(), headers=auth(HR))
        assert r.status_code == 200 and "3天" in r.json()["choices"][0]["message"]["content"]
        assert c.get("/healthz").json()["status"] == "ok"


def test_embedded_store_locked_elsewhere_is_503_until_released(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    Ingestor(settings, store, HashingEmbedder()).sync([write(tmp_path / "corpus", CORPUS)])
    # the app opens the store itself; `store` holds the embedded store's lock meanwhile
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=service_settings())
    with TestClient(app) as c:
        r = c.post(CHAT, json=ask(), headers=auth(HR))
        assert r.status_code == 503 and r.json()["error"]["code"] == "StoreUnavailable"
        assert "in use by another process" in r.json()["error"]["message"]
        store.close()
        time.sleep(1.1)  # the gate retries opening at most once a second
        r = c.post(CHAT, json=ask(), headers=auth(HR))
        assert r.status_code == 200 and "3天" in r.json()["choices"][0]["message"]["content"]


def test_unreachable_qdrant_server_is_503(settings: Settings) -> None:
    down = settings.model_copy(update={"qdrant_url": f"http://127.0.0.1:{free_port()}"})
    app = create_app(down, embedder=HashingEmbedder(), service_settings=service_settings())
    with TestClient(app) as c:
        r = c.post(CHAT, json=ask(), headers=auth(HR))
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert r.json()["error"]["type"] == "service_unavailable"


@pytest.fixture
def client(settings: Settings, corpus_store: QdrantStore) -> TestClient:
    app = create_app(
        settings,
        store=corpus_store,
        embedder=HashingEmbedder(),
        service_settings=service_settings(max_request_bytes=2048, rate_limit_per_minute=5),
    )
    with TestClient(app) as c:
        yield c  # type: ignore[misc]


def test_bad_requests_are_4xx_with_a_clear_message(client: TestClient) -> None:
    h = auth(HR) | {"Content-Type": "application/json"}
    cases = [
        (
            c_ := client.post(CHAT, content=b'{"model": "grounded-qa", "messa', headers=h),
            400,
            "not valid JSON",
        ),
        (client.post(CHAT, json={**ask(), "model": "gpt-4"}, headers=h), 404, "'gpt-4' not found"),
        (client.post(CHAT, json=ask(""), headers=h), 400, "empty"),
        (
            client.post(CHAT, json={"model": "grounded-qa", "messages": []}, headers=h),
            422,
            "messages",
        ),
    ]
    for r, status, words in cases:
        assert r.status_code == status and words in r.json()["error"]["message"], r.text
        assert r.json()["detail"] == r.json()["error"]["message"]
    assert c_.json()["error"]["code"] == "invalid_json"


def test_request_size_limit_is_413(client: TestClient) -> None:
    r = client.post(CHAT, json=ask("年" * 1500), headers=auth(HR))
    assert r.status_code == 413 and "2048 bytes" in r.json()["error"]["message"]
    # a body without Content-Length is counted as it streams
    chunks = iter([b'{"model": "grounded-qa", "messages": [', b" " * 3000, b"]}"])
    r = client.post(CHAT, content=chunks, headers=auth(HR) | {"Content-Type": "application/json"})
    assert r.status_code == 413


def test_rate_limit_per_key_is_429_with_retry_after(client: TestClient) -> None:
    codes = [client.get("/v1/models", headers=auth(HR)).status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    r = client.get("/v1/models", headers=auth(HR))
    assert int(r.headers["Retry-After"]) >= 1 and r.json()["error"]["type"] == "rate_limit_error"
    assert client.get("/v1/models", headers=auth(FIN)).status_code == 200  # other keys unaffected


def test_unexpected_errors_show_no_traceback(settings: Settings, corpus_store: QdrantStore) -> None:
    class Broken(FlakyStore):
        def search(self, *a: Any, **kw: Any) -> Any:
            raise ValueError("secret internals /srv/qdrant")

    broken = Broken(corpus_store)
    broken.down = False
    app = create_app(
        settings,
        store=broken,
        embedder=HashingEmbedder(),
        service_settings=service_settings(),  # type: ignore[arg-type]
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post(CHAT, json=ask(), headers=auth(HR))
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        assert "secret internals" not in r.text and "Traceback" not in r.text
