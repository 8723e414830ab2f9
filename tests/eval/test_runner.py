"""`eval.runner`: in process and over HTTP (the real app under uvicorn on loopback), with a
bounded thread pool, retries of 503, per-question errors, and ingestion through the admin API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from core.embedders import HashingEmbedder
from core.errors import ConfigError
from core.records import Passage
from core.settings import Settings
from core.sparse import SparseTerms
from eval import datasets, runner
from eval.datasets import Dataset
from eval.http_client import ServiceClient
from eval.metrics import Record, first_hit_rank
from service.app import create_app
from service.gate import StoreGate
from tests.conftest import write
from tests.service.conftest import ADMIN, CORPUS, FIN, HR, STAFF, serve, service_settings

QUESTIONS = [
    {
        "id": "leave",
        "question": "员工每年享有多少天带薪年假？",
        "answerable": True,
        "answers": ["15个工作日"],
        "supporting_ids": ["corpus/hr/leave.md"],
    },
    {
        "id": "revenue",
        "question": "2023年公司营收是多少？",
        "answerable": True,
        "answers": ["4.1亿元"],
        "supporting_ids": ["corpus/finance/2023.md"],
    },
    {
        "id": "vpn",
        "question": "How long before the VPN disconnects without activity?",
        "answerable": True,
        "answers": ["30 minutes"],
        "supporting_ids": ["corpus/it/vpn.txt"],
    },
    {
        "id": "raise",
        "question": "2024年调薪幅度是多少？",
        "answerable": True,
        "answers": ["8%"],
        "supporting_ids": ["corpus/hr/salary.md"],
    },
    {"id": "ticker", "question": "公司的股票代码是什么？", "answerable": False},
    {
        "id": "wifi",
        "question": "What is the Wi-Fi password of the Berlin office?",
        "answerable": False,
    },
    {
        "id": "sick",
        "question": "病假需要提交什么证明？",
        "answerable": True,
        "answers": ["医院证明"],
    },
    {"id": "rev22", "question": "2022年营收同比增长多少？", "answerable": True, "answers": ["12%"]},
]


def make_dataset(folder: Path) -> Dataset:
    write(folder / "corpus", CORPUS)
    lines = "\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS)
    (folder / "questions.jsonl").write_text(lines + "\n", encoding="utf-8")
    return datasets.load(folder)


def edge_settings(data_dir: Path) -> Settings:
    """The product's default engine (Qdrant Edge): safe to share between the ask threads."""
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        embedder="hashing",
        store_engine="edge",
        chunk_size=120,
        chunk_overlap=20,
    )


def comparable(records: list[Record], over_http: bool = False) -> list[dict[str, Any]]:
    """Records without what legitimately differs between runs: latency; over HTTP also the
    features (not served) and the order of `retrieved` below the first supporting passage (a
    key's groups filter retrieval, and the filtered search ranks exact score ties differently
    from the unfiltered one in process; the rank of the first hit, what recall@k and MRR
    read, must not change). For the same reason the reason of a refusal of an unanswerable
    question may differ (the answerability model reads passage ranks); that it refuses may not."""
    out = []
    for r in records:
        d = asdict(r)
        d.pop("latency_ms")
        if over_http:
            d.pop("features")
            d["retrieved"] = first_hit_rank(r)
            if not r.answerable and r.refused:
                d.pop("reason")
        out.append(d)
    return out


def test_in_process_concurrency_4_gives_the_records_of_concurrency_1(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "set")
    settings = edge_settings(tmp_path / "data")
    meta1, summary1, one = runner.run(ds, settings, concurrency=1, embedder=HashingEmbedder())
    meta4, summary4, four = runner.run(ds, settings, concurrency=4, embedder=HashingEmbedder())

    assert [r.id for r in four] == [q["id"] for q in QUESTIONS]  # question order
    assert comparable(four) == comparable(one)
    assert summary4["answer_accuracy"] == summary1["answer_accuracy"] >= 0.5  # not vacuous
    assert all(r.retrieved for r in four if r.answerable)
    assert (meta1["concurrency"], meta4["concurrency"]) == (1, 4)
    assert meta4["questions_per_s"] > 0 and meta4["errors"] == []
    assert meta4["mode"] == "in-process"
    assert meta4["thresholds"] == {
        "coverage": settings.min_coverage,
        "top_dense": settings.min_dense_score,
        "answerability": settings.min_answerability,
    }
    assert meta1["ingest"]["new"] == len(CORPUS) - 1 and meta4["ingest"]["unchanged"] == 5


@dataclass
class ProbeStore:
    """Counts how many threads are inside `search` at once."""

    inside: int = 0
    most: int = 0

    def search(self, *args: Any, **kwargs: Any) -> list[Passage]:
        self.inside += 1
        self.most = max(self.most, self.inside)
        time.sleep(0.02)
        self.inside -= 1
        return []


def test_local_mode_store_calls_are_serialised_and_edge_is_shared_as_is(tmp_path: Path) -> None:
    local = edge_settings(tmp_path).model_copy(update={"store_engine": "qdrant"})
    probe, bare = ProbeStore(), ProbeStore()
    shared = runner.thread_safe(local, probe)  # type: ignore[arg-type]
    unlocked = runner.thread_safe(edge_settings(tmp_path), bare)  # type: ignore[arg-type]
    assert unlocked is bare

    def hammer(store: Any) -> None:
        args = (np.zeros(4), SparseTerms([], []))
        threads = [
            threading.Thread(target=store.search, args=args, kwargs={"limit": 1, "pool": 1})
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    hammer(shared)
    hammer(bare)
    assert probe.most == 1  # one caller at a time through the wrapper
    assert bare.most > 1  # the probe does see overlap when nothing serialises it


# --- over HTTP --------------------------------------------------------------------------------
@dataclass
class Served:
    ds: Dataset
    url: str
    app: FastAPI
    in_process: list[Record]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The in-process records of the set, then the real app over the same index under uvicorn
    (keys from tests/service/conftest; Retry-After 1 s; no rate limit)."""
    root = tmp_path_factory.mktemp("served")
    ds = make_dataset(root / "set")
    settings = edge_settings(root / "data")
    _, _, records = runner.run(ds, settings, embedder=HashingEmbedder())
    app = create_app(
        runner.isolated(settings, ds),
        embedder=HashingEmbedder(),
        service_settings=service_settings(rate_limit_per_minute=0, retry_after_s=1),
    )
    with serve(app) as url:
        yield Served(ds, url, app, records)


class Counting(httpx.HTTPTransport):
    """A real transport that remembers every status it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


def test_url_mode_gives_the_in_process_records(served: Served) -> None:
    with ServiceClient(served.url, ADMIN) as client:  # ADMIN reads every group
        meta, summary, records = runner.run_url(served.ds, client, concurrency=4)
    assert comparable(records, True) == comparable(served.in_process, True)
    assert all(r.retrieved for r in records if r.answerable)  # passages came over HTTP
    assert summary["retrieval_recall@5"] == 1.0
    assert (meta["mode"], meta["concurrency"], meta["errors"]) == (served.url, 4, [])
    assert meta["questions_per_s"] > 0


def test_include_passages_only_returns_what_the_key_may_read(served: Served) -> None:
    def ask(key: str, question: str, include: bool = True) -> dict[str, Any]:
        r = httpx.post(
            f"{served.url}/v1/answer",
            json={"question": question, "include_passages": include},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200
        body: dict[str, Any] = r.json()
        return body

    def folders(body: dict[str, Any]) -> set[str]:
        return {p["doc_id"].split("/")[1] for p in body["passages"]}

    revenue = "2023年公司营收是多少？"
    assert "finance" in folders(ask(FIN, revenue))
    assert "finance" in folders(ask(ADMIN, revenue))
    hr = ask(HR, revenue)
    assert hr["passages"] and "finance" not in folders(hr)
    assert all(p["text"] and isinstance(p["score"], float) for p in hr["passages"])
    assert "passages" not in ask(FIN, revenue, include=False)

    with ServiceClient(served.url, STAFF) as client:  # groups: everyone only
        _, _, records = runner.run_url(served.ds, client, concurrency=2)
    seen = {p["doc_id"].split("/")[1] for r in records for p in r.retrieved}
    assert seen and not seen & {"hr", "finance"}


def test_503_is_retried_after_retry_after_then_answered(served: Served) -> None:
    gate: StoreGate = served.app.state.store
    one = Dataset(served.ds.name, served.ds.folder, served.ds.corpus, served.ds.questions[:1])
    gate.release("maintenance")
    timer = threading.Timer(1.5, gate.reopen)
    timer.start()
    transport = Counting()
    t0 = time.monotonic()
    try:
        with ServiceClient(served.url, ADMIN, transport=transport) as client:
            meta, _, records = runner.run_url(one, client, concurrency=1)
    finally:
        timer.join()
        gate.reopen()
    assert meta["errors"] == [] and [r.id for r in records] == ["leave"]
    assert "15个工作日" in (records[0].answer or "")
    assert 503 in transport.statuses and transport.statuses[-1] == 200
    assert time.monotonic() - t0 >= 1.0  # waited for Retry-After (1 s), not a busy loop


def test_a_question_that_keeps_failing_is_an_error_not_a_record(served: Served) -> None:
    gate: StoreGate = served.app.state.store
    gate.release("maintenance")
    try:
        with ServiceClient(served.url, ADMIN, retries=1) as client:
            meta, summary, records = runner.run_url(served.ds, client, concurrency=8)
    finally:
        gate.reopen()
    assert records == [] and summary["questions"] == 0
    assert [e["id"] for e in meta["errors"]] == [q["id"] for q in QUESTIONS]
    assert all("503" in e["message"] and "maintenance" in e["message"] for e in meta["errors"])


def test_a_rejected_key_stops_the_run_and_names_the_variable(served: Served) -> None:
    with (
        ServiceClient(served.url, "sk-wrong", key_env="MY_KEY") as client,
        pytest.raises(ConfigError, match="MY_KEY"),
    ):
        runner.run_url(served.ds, client, concurrency=4)


def test_ingest_over_http_needs_an_admin_key(served: Served) -> None:
    with ServiceClient(served.url, STAFF) as client, pytest.raises(ConfigError) as err:
        runner.run_url(served.ds, client, ingest=True)
    assert "admin key" in str(err.value) and "GQA_EVAL_ADMIN_KEY" in str(err.value)


def test_ingest_over_http_uploads_the_corpus_with_its_ids_and_groups(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "set")
    _, _, local = runner.run(ds, edge_settings(tmp_path / "local"), embedder=HashingEmbedder())
    app = create_app(  # a service with nothing indexed: the eval fills it through the admin API
        edge_settings(tmp_path / "remote"),
        embedder=HashingEmbedder(),
        service_settings=service_settings(rate_limit_per_minute=0, upload_dir=tmp_path / "up"),
    )
    with serve(app) as url:
        with ServiceClient(url, ADMIN) as client:
            meta, _, records = runner.run_url(ds, client, ingest=True, concurrency=4)
        staff = httpx.get(
            f"{url}/v1/documents/corpus/hr/leave.md", headers={"Authorization": f"Bearer {STAFF}"}
        )
    assert meta["ingest"]["state"] == "succeeded" and meta["ingest"]["new"] == len(CORPUS) - 1
    assert (tmp_path / "up" / "eval-set.jsonl").exists()
    assert comparable(records, True) == comparable(local, True)
    assert staff.status_code == 404  # acl.yaml's groups came along: hr/ is not for everyone


def test_no_documents_without_ingest_is_a_clear_error(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "set")
    app = create_app(
        edge_settings(tmp_path / "empty"),
        embedder=HashingEmbedder(),
        service_settings=service_settings(),
    )
    with (
        serve(app) as url,
        ServiceClient(url, ADMIN) as client,
        pytest.raises(ConfigError, match="no documents yet - pass --ingest"),
    ):
        runner.run_url(ds, client)


# --- malformed answers over HTTP --------------------------------------------------------------
GOOD_CITATION = {"n": 1, "doc_id": "d", "quote": "VPN", "start": 0, "end": 3}
BODIES: dict[str, httpx.Response] = {
    "html": httpx.Response(
        200, text="<html>proxy login</html>", headers={"Content-Type": "text/html"}
    ),
    "list": httpx.Response(200, json=[{"answer": "x"}]),
    "no_refused": httpx.Response(200, json={"answer": "VPN [1]", "citations": [GOOD_CITATION]}),
    "bad_citation": httpx.Response(
        200, json={"answer": "VPN [1]", "refused": False, "citations": [{"n": 1, "quote": "VPN"}]}
    ),
    "bad_passage": httpx.Response(
        200,
        json={"answer": None, "refused": True, "citations": [], "passages": [{"text": "VPN"}]},
    ),
    "good": httpx.Response(
        200,
        json={
            "answer": "VPN [1]",
            "refused": False,
            "citations": [GOOD_CITATION],
            "passages": [{"doc_id": "d", "text": "VPN guide"}],
        },
    ),
}


def test_a_body_that_is_not_an_answer_is_that_questions_error(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path == "/v1/documents/d":  # the text of the good answer's citation
            return httpx.Response(200, text="VPN guide <not json>")
        return BODIES[json.loads(request.content)["question"]]

    questions = tuple(
        datasets.Question(id=name, question=name, answerable=False) for name in BODIES
    )
    ds = Dataset("malformed", tmp_path, tmp_path, questions)
    with ServiceClient("http://eval.test", ADMIN, transport=httpx.MockTransport(handler)) as c:
        meta, _, records = runner.run_url(ds, c, concurrency=2)
    errors = {e["id"]: e["message"] for e in meta["errors"]}
    assert [r.id for r in records] == [] and list(errors) == list(BODIES)
    assert "the body is not JSON (text/html)" in errors["html"]
    assert "the body is a JSON list, not an object" in errors["list"]
    assert "'refused' is None" in errors["no_refused"]
    assert "a citation's 'doc_id' is None" in errors["bad_citation"]
    assert "a passage lacks 'doc_id' or 'text'" in errors["bad_passage"]
    assert "GET /v1/documents/d: the body is not JSON" in errors["good"]


# --- ingest over HTTP: one dataset at a time ---------------------------------------------------
def test_ingest_over_http_removes_other_eval_uploads(tmp_path: Path) -> None:
    first = make_dataset(tmp_path / "first")
    other = tmp_path / "other"
    (other / "questions.jsonl").parent.mkdir(parents=True)
    (other / "corpus.jsonl").write_text(
        json.dumps({"id": "o1", "text": "The Berlin office Wi-Fi password is hunter2."}) + "\n"
    )
    (other / "questions.jsonl").write_text(
        json.dumps(
            {
                "id": "w",
                "question": "Wi-Fi password of the Berlin office?",
                "answerable": True,
                "answers": ["hunter2"],
            }
        )
        + "\n"
    )
    second = datasets.load(other)
    up = tmp_path / "up"
    up.mkdir()
    (up / "notes.md").write_text("# Notes\nThe canteen opens at 11:30.\n")  # not the eval's
    app = create_app(
        edge_settings(tmp_path / "remote"),
        embedder=HashingEmbedder(),
        service_settings=service_settings(rate_limit_per_minute=0, upload_dir=up),
    )
    with serve(app) as url, ServiceClient(url, ADMIN) as client:
        meta1, _, _ = runner.run_url(first, client, ingest=True)
        meta2, _, records = runner.run_url(second, client, ingest=True)
        listed = httpx.get(
            f"{url}/v1/admin/documents", headers={"Authorization": f"Bearer {ADMIN}"}
        )
    files = {d["file"] for d in listed.json()}
    assert files == {"up/eval-other.jsonl", "up/notes.md"}  # the first set's documents are gone
    # (acl.yaml: the uploads' groups, kept by the service; the deleted upload's entry is gone)
    assert sorted(p.name for p in up.iterdir()) == ["acl.yaml", "eval-other.jsonl", "notes.md"]
    assert "eval-first" not in (up / "acl.yaml").read_text()
    assert meta1["ingest"]["removed_uploads"] == [] and meta1["ingest"]["documents"] == 5
    assert meta2["ingest"]["removed_uploads"] == ["eval-first.jsonl"]
    assert meta2["ingest"]["documents"] == 1 and meta2["ingest"]["failed"] == []
    assert records[0].answer and "hunter2" in records[0].answer
    assert all(p["doc_id"] in ("o1", "up/notes.md") for p in records[0].retrieved)


def test_ingest_over_http_of_a_corpus_that_indexes_nothing_is_an_error(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "set")
    (tmp_path / "set" / "corpus.jsonl").write_text(json.dumps({"id": "x", "text": " "}) + "\n")
    ds = datasets.load(tmp_path / "set")
    app = create_app(
        edge_settings(tmp_path / "remote"),
        embedder=HashingEmbedder(),
        service_settings=service_settings(rate_limit_per_minute=0, upload_dir=tmp_path / "up"),
    )
    with (
        serve(app) as url,
        ServiceClient(url, ADMIN) as client,
        pytest.raises(ConfigError, match=r"no document of .* was indexed .* line 1: empty text"),
    ):
        runner.run_url(ds, client, ingest=True)
