"""The HTTP API through the real app, on a real local-mode store."""

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from ingest.pipeline import Ingestor
from service.app import create_app
from tests.conftest import write
from tests.ingest.test_pipeline import DOCS
from tests.service.conftest import service_settings


@pytest.fixture
def client(
    tmp_path: Path, settings: Settings, store: QdrantStore, embedder: HashingEmbedder
) -> Iterator[TestClient]:
    Ingestor(settings, store, embedder).sync([write(tmp_path / "docs", DOCS)])
    with TestClient(create_app(settings, store=store, embedder=embedder)) as c:
        yield c


def test_answer_quotes_resolve_to_the_stored_document(client: TestClient) -> None:
    body = client.post("/v1/answer", json={"question": "年假要提前几天申请？"}).json()
    assert body["refused"] is False and body["reason"] is None
    assert "[1]" in body["answer"] and "3天" in body["answer"]
    for c in body["citations"]:
        doc = client.get(f"/v1/documents/{c['doc_id']}").json()
        assert doc["text"][c["start"] : c["end"]] == c["quote"]
        assert c["quote"] in body["answer"]
        assert set(c) == {
            "n",
            "doc_id",
            "source",
            "title",
            "quote",
            "start",
            "end",
            "score",
            "page",
        }


def test_traditional_question_finds_simplified_document(client: TestClient) -> None:
    body = client.post("/v1/answer", json={"question": "年假須提前幾天申請？"}).json()
    assert not body["refused"] and body["citations"][0]["doc_id"] == "docs/hr/leave.md"


def test_wrong_year_refuses_with_reason_and_message(client: TestClient) -> None:
    body = client.post("/v1/answer", json={"question": "2019年员工每年享有多少天带薪年假？"}).json()
    related = body.pop("related")
    assert body == {
        "answer": None,
        "refused": True,
        "reason": "evidence_does_not_cover_question",
        "message": "最接近答案的段落没有提到问题中的“2019”，无法据此回答。",
        "citations": [],
        "mode": "extractive",
    }
    # related, but not an answer: exact spans of the closest documents, the leave policy first
    assert related and related[0]["doc_id"] == "docs/hr/leave.md" and len(related) <= 3
    assert "年假" in related[0]["quote"]
    for r in related:
        doc = client.get(f"/v1/documents/{r['doc_id']}").json()
        assert doc["text"][r["start"] : r["end"]] == r["quote"]
    assert len({r["doc_id"] for r in related}) == len(related)


def test_an_answer_lists_nothing_as_related(client: TestClient) -> None:
    body = client.post("/v1/answer", json={"question": "年假要提前几天申请？"}).json()
    assert body["refused"] is False and body["related"] == []


def test_english_refusal_message(client: TestClient) -> None:
    body = client.post(
        "/v1/answer", json={"question": "What is the parking fee at the Berlin office?"}
    ).json()
    assert body["refused"] is True and body["message"] and body["message"].isascii()


@pytest.mark.parametrize("payload", [{}, {"question": 3}, {"question": None}])
def test_malformed_requests_are_422(client: TestClient, payload: dict) -> None:
    r = client.post("/v1/answer", json=payload)
    assert r.status_code == 422 and "question" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("question", "words"), [("", "empty"), ("  \n ", "empty"), ("x" * 2001, "2000 allowed")]
)
def test_bad_questions_are_400_like_chat(client: TestClient, question: str, words: str) -> None:
    r = client.post("/v1/answer", json={"question": question})
    assert r.status_code == 400 and words in r.json()["error"]["message"], r.text


def test_unknown_document_is_404_and_health_reports_points(client: TestClient) -> None:
    assert client.get("/v1/documents/nope.md").status_code == 404
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["points"] >= 3


def test_empty_store_answers_503_with_the_fix(
    settings: Settings, store: QdrantStore, embedder: HashingEmbedder
) -> None:
    with TestClient(create_app(settings, store=store, embedder=embedder)) as c:
        r = c.post("/v1/answer", json={"question": "年假有多少天？"})
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert "python -m ingest" in r.json()["detail"]
        assert c.get("/healthz").status_code == 503


def test_healthz_is_503_once_the_store_folder_is_deleted(
    tmp_path: Path, settings: Settings
) -> None:
    writer = QdrantStore.from_settings(settings)  # the embedded store at settings.store_path
    Ingestor(settings, writer, HashingEmbedder()).sync([write(tmp_path / "corpus", DOCS)])
    writer.close()
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=service_settings())
    with TestClient(app) as client:  # the service opens the store itself, as in production
        assert client.get("/healthz").status_code == 200
        shutil.rmtree(settings.store_path)
        r = client.get("/healthz")
    assert r.status_code == 503
    assert str(settings.store_path) in r.json()["detail"]
    assert r.headers["Retry-After"]


def test_favicon_is_served(settings: Settings, store: QdrantStore) -> None:
    app = create_app(settings, store=store, service_settings=service_settings())
    r = TestClient(app).get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "budget.md",
            "# IT equipment budget\n\nEach employee may buy equipment within these limits.\n\n"
            "| Device | Budget |\n|---|---|\n| Monitor | 300 USD |\n| Laptop | 1500 USD |\n",
        ),
        (
            "budget.html",
            "<html><body><h1>IT equipment budget</h1><p>Each employee may buy equipment within "
            "these limits.</p><table><tr><th>Device</th><th>Budget</th></tr><tr><td>Monitor</td>"
            "<td>300 USD</td></tr><tr><td>Laptop</td><td>1500 USD</td></tr></table></body></html>",
        ),
    ],
)
def test_a_table_row_is_answered_and_cited(
    tmp_path: Path, settings: Settings, store: QdrantStore, name: str, content: str
) -> None:
    docs = {name: content, "vpn.txt": "The VPN disconnects after 30 minutes without activity."}
    Ingestor(settings, store, HashingEmbedder()).sync([write(tmp_path / "docs", docs)])
    app = create_app(settings, store=store, embedder=HashingEmbedder())
    with TestClient(app) as client:
        body = client.post("/v1/answer", json={"question": "What is the monitor budget?"}).json()
        assert not body["refused"], body
        cited = body["citations"][0]
        assert "Device: Monitor; Budget: 300 USD." in cited["quote"]
        stored = client.get(f"/v1/documents/{cited['doc_id']}").json()["text"]
    assert stored[cited["start"] : cited["end"]] == cited["quote"]  # offsets exact


def test_the_schema_rules_out_the_questions_the_server_refuses(client: TestClient) -> None:
    """schemathesis found "" schema-valid but answered 400: the schema now says it."""
    props = client.get("/openapi.json").json()["components"]["schemas"]["AnswerRequest"]
    question = props["properties"]["question"]
    assert question["minLength"] == 1 and question["pattern"] == r"\S"
    for bad in ("", "   "):
        assert not re.search(question["pattern"], bad) or len(bad) < question["minLength"]
