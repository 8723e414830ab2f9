"""Admin API: ingestion jobs (ingest in the service, writing through its store while answers go
on), uploads and their groups, listing and deleting documents."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from ingest.pipeline import Ingestor
from service.app import create_app
from tests.conftest import write
from tests.service.conftest import ADMIN, HR, auth, service_settings

A = auth(ADMIN)


def ask(c: TestClient, q: str) -> Any:
    return c.post(
        "/v1/chat/completions",
        json={"model": "grounded-qa", "messages": [{"role": "user", "content": q}]},
        headers=A,
    )


def wait_for(c: TestClient, job_id: str, during: list[int]) -> dict[str, Any]:
    """Poll the job until it ends; record the status of a question asked meanwhile."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = c.get(f"/v1/admin/jobs/{job_id}", headers=A).json()
        if job["state"] not in ("queued", "running"):
            return job
        during.append(ask(c, "出差住宿标准是多少？").status_code)
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_jobs_ingest_sources_and_uploads_then_documents_can_be_deleted(
    tmp_path: Path, settings: Settings
) -> None:
    policies = write(
        tmp_path / "policies",
        {
            "travel.md": "# 差旅制度\n出差住宿标准为每晚500元。出差须提前在系统中申请。",
            "vpn.txt": "VPN guide\nThe VPN disconnects after 30 minutes without activity.",
            "broken.pdf": b"%PDF-1.4 this is not really a pdf",
        },
    )
    svc = service_settings(
        ingest_sources=[policies], upload_dir=tmp_path / "uploads", rate_limit_per_minute=0
    )
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=svc)
    with TestClient(app) as c:
        assert ask(c, "出差住宿标准是多少？").status_code == 503  # nothing ingested yet
        assert c.post("/v1/admin/jobs", json={}, headers=auth(HR)).status_code == 403

        started = c.post("/v1/admin/jobs", json={}, headers=A)
        assert started.status_code == 202 and started.json()["paths"] == [str(policies)]
        again = c.post("/v1/admin/jobs", json={}, headers=A)
        assert again.status_code == 409 and "already running" in again.json()["detail"]
        during: list[int] = []
        job = wait_for(c, started.json()["id"], during)
        assert (job["state"], job["exit_code"]) == ("completed_with_failures", 1)
        summary = job["summary"]
        assert (summary["new"], summary["chunks_written"] >= 2) == (2, True)
        assert [f["file"] for f in summary["failed"]] == ["policies/broken.pdf"]
        assert summary["failed"][0]["reason"]
        progress = job["progress"]  # the counts the job showed while it ran, last update
        assert (progress["documents_to_write"], progress["documents_written"]) == (2, 2)
        assert progress["chunks_written"] == summary["chunks_written"]
        assert [f["file"] for f in progress["failed"]] == ["policies/broken.pdf"]

        # the new documents answer
        msg = ask(c, "出差住宿标准是多少？").json()["choices"][0]["message"]
        assert "500元" in msg["content"] and msg["citations"][0]["doc_id"] == "policies/travel.md"

        put = c.put(
            "/v1/admin/uploads/allowance.md",
            content="# 餐补\n员工每天餐补标准为45元。".encode(),
            headers=A,
        )
        assert put.status_code == 200 and put.json()["doc_id"] == "uploads/allowance.md"
        up = c.post("/v1/admin/jobs", json={"uploads": True}, headers=A).json()
        job = wait_for(c, up["id"], [])
        assert job["state"] == "succeeded" and job["summary"]["new"] == 1

        listed = {d["doc_id"]: d for d in c.get("/v1/admin/documents", headers=A).json()}
        assert set(listed) == {"policies/travel.md", "policies/vpn.txt", "uploads/allowance.md"}
        assert listed["uploads/allowance.md"]["acl"] == ["everyone"]
        assert "45元" in ask(c, "每天餐补标准是多少？").json()["choices"][0]["message"]["content"]

        gone = c.delete("/v1/admin/documents/uploads/allowance.md", headers=A)
        assert gone.status_code == 204
        assert not (tmp_path / "uploads" / "allowance.md").exists()  # a later job won't revive it
        assert c.get("/v1/documents/uploads/allowance.md", headers=A).status_code == 404
        assert c.delete("/v1/admin/documents/uploads/allowance.md", headers=A).status_code == 404
        jobs = c.get("/v1/admin/jobs", headers=A).json()
        assert [j["id"] for j in jobs] == [up["id"], started.json()["id"]]


def test_unknown_sources_and_nothing_to_do_are_404(tmp_path: Path, settings: Settings) -> None:
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=service_settings())
    with TestClient(app) as c:
        r = c.post("/v1/admin/jobs", json={"sources": ["/etc"]}, headers=A)
        assert r.status_code == 404 and "unknown sources" in r.json()["detail"]
        r = c.post("/v1/admin/jobs", json={}, headers=A)
        assert r.status_code == 404 and "GQA_INGEST_SOURCES" in r.json()["detail"]


def test_a_record_of_an_uploaded_export_with_other_records_is_not_deleted(
    tmp_path: Path, settings: Settings
) -> None:
    uploads = write(
        tmp_path / "uploads",
        {
            "kb.jsonl": "\n".join(
                json.dumps({"id": f"kb-{i}", "text": f"Knowledge base article {i} text."})
                for i in (1, 2, 3)
            ),
            "solo.jsonl": json.dumps({"id": "solo", "text": "The only record of its file."}),
        },
    )
    store = QdrantStore.from_settings(settings)
    Ingestor(settings, store, HashingEmbedder()).sync([uploads])
    store.close()  # the embedded store is locked to one process: the app opens it next
    svc = service_settings(upload_dir=uploads, rate_limit_per_minute=0)
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=svc)
    with TestClient(app) as c:
        r = c.delete("/v1/admin/documents/kb-2", headers=A)
        assert r.status_code == 409
        detail = r.json()["detail"]
        assert "kb-2" in detail and "uploads/kb.jsonl" in detail and "re-upload" in detail
        assert (uploads / "kb.jsonl").exists()  # the other records are not lost
        listed = {d["doc_id"] for d in c.get("/v1/admin/documents", headers=A).json()}
        assert listed == {"kb-1", "kb-2", "kb-3", "solo"}
        # the only record of its file goes with the file, as a file document does
        assert c.delete("/v1/admin/documents/solo", headers=A).status_code == 204
        assert not (uploads / "solo.jsonl").exists()
        listed = {d["doc_id"] for d in c.get("/v1/admin/documents", headers=A).json()}
        assert listed == {"kb-1", "kb-2", "kb-3"}


def test_sources_with_the_same_folder_name_are_400(tmp_path: Path, settings: Settings) -> None:
    a = write(tmp_path / "a/docs", {"notes.txt": "Team A meets on Mondays."})
    b = write(tmp_path / "b/docs", {"notes.txt": "Team B meets on Tuesdays."})
    other = write(tmp_path / "other", {"x.txt": "Other notes."})
    uploads = tmp_path / "c/other"  # the upload folder's name starts its ids too
    svc = service_settings(ingest_sources=[a, b, other], upload_dir=uploads)
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=svc)
    with TestClient(app) as c:
        for body in ({}, {"sources": ["docs"]}):
            r = c.post("/v1/admin/jobs", json=body, headers=A)
            assert r.status_code == 400
            detail = r.json()["detail"]
            assert str(a) in detail and str(b) in detail and "distinct folder names" in detail
        r = c.post("/v1/admin/jobs", json={"sources": ["other"], "uploads": True}, headers=A)
        assert r.status_code == 400 and str(other) in r.json()["detail"]
        assert str(uploads) in r.json()["detail"]
        assert c.get("/v1/admin/jobs", headers=A).json() == []


def test_upload_names_with_folders_or_dots_are_400_with_the_reason(
    tmp_path: Path, settings: Settings
) -> None:
    svc = service_settings(upload_dir=tmp_path / "uploads")
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=svc)
    with TestClient(app) as c:
        for path, why in [
            ("a/b.md", "names a folder"),
            ("%2E%2E", "'..' is not allowed"),
            ("%2E%2E%2Fescape.md", "names a folder"),
            ("x..y.md", "'..' is not allowed"),
            (".hidden", "hidden names"),
            ("acl.yaml", "access groups"),
        ]:
            r = c.put(f"/v1/admin/uploads/{path}", content=b"text", headers=A)
            assert r.status_code == 400, path
            assert "bad file name" in r.json()["detail"] and why in r.json()["detail"], path
        assert not (tmp_path / "uploads").exists()  # nothing was written
        assert c.put("/v1/admin/uploads/ok.md", content=b"x", headers=A).status_code == 200


def test_alternates_are_listed_with_their_canonical(tmp_path: Path, settings: Settings) -> None:
    lunch = "Lunch is served from 11:30 to 13:30 in the main cafeteria on the ground floor."
    docs = write(tmp_path / "docs", {"lunch.txt": lunch, "lunch-copy.txt": lunch})
    svc = service_settings(ingest_sources=[docs], rate_limit_per_minute=0)
    app = create_app(settings, embedder=HashingEmbedder(), service_settings=svc)
    with TestClient(app) as c:
        job = wait_for(c, c.post("/v1/admin/jobs", json={}, headers=A).json()["id"], [])
        assert job["summary"]["alternates"] == {"docs/lunch.txt": "docs/lunch-copy.txt"}
        # lunch.txt is edited into the longer copy: the group is re-formed around it, and
        # lunch-copy.txt, indexed as the canonical until now, becomes its alternate (not
        # "removed": its file is there)
        (docs / "lunch.txt").write_text(lunch + " Vegetarian options daily.", encoding="utf-8")
        job = wait_for(c, c.post("/v1/admin/jobs", json={}, headers=A).json()["id"], [])
        summary = job["summary"]
        assert (summary["removed"], summary["duplicates"]) == (0, 1)
        assert summary["alternates"] == {"docs/lunch-copy.txt": "docs/lunch.txt"}
        listed = {d["doc_id"]: d for d in c.get("/v1/admin/documents", headers=A).json()}
        assert set(listed) == {"docs/lunch.txt", "docs/lunch-copy.txt"}
        assert listed["docs/lunch-copy.txt"]["alternate_of"] == "docs/lunch.txt"
        assert listed["docs/lunch-copy.txt"]["file"] == "docs/lunch-copy.txt"
        assert listed["docs/lunch.txt"]["alternate_of"] is None
