"""Admin jobs run in the service, through its store: answers go on while a job writes, the
defaults work from the project root, uploads keep their groups, and `python -m ingest` says at
once how to go through the service while it holds the embedded store."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.embedders import HashingEmbedder
from core.settings import Settings
from service.app import create_app
from tests.conftest import write
from tests.service.conftest import ADMIN, HR, STAFF, auth, service_settings

A = auth(ADMIN)
ROOT = Path(__file__).resolve().parents[2]
VPN = "VPN guide\nConnect with the Acme VPN client. The VPN disconnects after 30 minutes without activity."
LUNCH = (
    "Lunch guide\nLunch is served from 11:30 to 13:30 in the main cafeteria on the ground floor."
)


class PausingEmbedder(HashingEmbedder):
    """Hashing embedder whose passage embedding (the job's long part) waits, once armed,
    until the test lets it go: the job is then provably running while the test asks."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered, self.go = threading.Event(), threading.Event()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if self.armed:
            self.entered.set()
            assert self.go.wait(60), "the test never released the job"
        return super().embed_passages(texts)


def finish(c: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60  # a guard against a hang, not a timing assertion
    while time.monotonic() < deadline:
        job = c.get(f"/v1/admin/jobs/{job_id}", headers=A).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError("job did not finish")


def answer(c: TestClient, question: str, key: str = ADMIN) -> Any:
    return c.post("/v1/answer", json={"question": question}, headers=auth(key))


@pytest.mark.parametrize("engine", ["edge", "qdrant"])
def test_answers_go_on_while_a_job_writes_the_embedded_store(
    tmp_path: Path, settings: Settings, engine: str
) -> None:
    docs = write(tmp_path / "policies", {"vpn.txt": VPN})
    settings = settings.model_copy(update={"store_engine": engine})
    embedder = PausingEmbedder()
    svc = service_settings(ingest_sources=[docs], rate_limit_per_minute=0)
    with TestClient(create_app(settings, embedder=embedder, service_settings=svc)) as c:
        first = finish(c, c.post("/v1/admin/jobs", json={}, headers=A).json()["id"])
        assert first["state"] == "succeeded"
        (docs / "lunch.txt").write_text(LUNCH, encoding="utf-8")
        embedder.armed = True
        job = c.post("/v1/admin/jobs", json={}, headers=A).json()
        try:
            assert embedder.entered.wait(60)  # the job is inside its work (store marked syncing)
            statuses, cited = [], []
            for _ in range(5):
                r = answer(c, "How long until the VPN disconnects?")
                statuses.append(r.status_code)
                cited.append([x["doc_id"] for x in r.json().get("citations", [])])
            assert statuses == [200] * 5 and cited == [["policies/vpn.txt"]] * 5
            assert c.get("/healthz").status_code == 200
            assert c.get(f"/v1/admin/jobs/{job['id']}", headers=A).json()["state"] == "running"
            again = c.post("/v1/admin/jobs", json={}, headers=A)
            assert again.status_code == 409 and "already running" in again.json()["detail"]
        finally:
            embedder.go.set()
        done = finish(c, job["id"])
        assert (done["state"], done["summary"]["new"], done["summary"]["unchanged"]) == (
            "succeeded",
            1,
            1,
        )
        r = answer(c, "When is lunch served in the cafeteria?").json()
        assert [x["doc_id"] for x in r["citations"]] == ["policies/lunch.txt"]
        noop = finish(c, c.post("/v1/admin/jobs", json={}, headers=A).json()["id"])
        assert (noop["summary"]["unchanged"], noop["summary"]["chunks_written"]) == (2, 0)


def test_uploads_job_works_with_the_default_settings_from_the_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the README runs everything from the project root
    for name in [k for k in os.environ if k.startswith("GQA_")]:
        monkeypatch.delenv(name)
    # the defaults, a fast embedder, and no reader (building the real one is tests/engine's)
    settings = Settings(_env_file=None, embedder="hashing", reader="off")
    assert settings.data_dir == tmp_path / ".data"  # resolved once, here
    svc = service_settings()
    with TestClient(create_app(settings, service_settings=svc)) as c:
        put = c.put("/v1/admin/uploads/vpn.txt", content=b"The VPN disconnects after 30 min.")
        assert put.status_code == 401  # (admin only)
        put = c.put(
            "/v1/admin/uploads/vpn.txt", content=b"The VPN disconnects after 30 min.", headers=A
        )
        assert put.status_code == 200
        monkeypatch.chdir(tmp_path.parent)  # the working directory may change later
        job = finish(c, c.post("/v1/admin/jobs", json={"uploads": True}, headers=A).json()["id"])
        assert (job["state"], job["summary"]["new"], job["summary"]["failed"]) == (
            "succeeded",
            1,
            [],
        )
    assert (tmp_path / ".data" / "uploads" / "vpn.txt").is_file()
    assert (tmp_path / ".data" / "edge").is_dir()


def test_an_uploads_groups_stay_with_it_across_jobs(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    svc = service_settings(upload_dir=tmp_path / "uploads", rate_limit_per_minute=0)
    salary = "# 薪酬保密规定\n2024年全员调薪幅度为8%，调薪于每年4月1日生效。"
    with TestClient(create_app(settings, embedder=HashingEmbedder(), service_settings=svc)) as c:
        c.put("/v1/admin/uploads/salary.md", content=salary.encode(), headers=A)
        one = c.post("/v1/admin/jobs", json={"uploads": True, "acl": ["hr"]}, headers=A)
        assert finish(c, one.json()["id"])["state"] == "succeeded"
        c.put("/v1/admin/uploads/lunch.md", content=b"Lunch is served at noon.", headers=A)
        two = c.post("/v1/admin/jobs", json={"uploads": True}, headers=A)  # to add a public file
        summary = finish(c, two.json()["id"])["summary"]
        assert (summary["new"], summary["unchanged"], summary["changed"]) == (1, 1, 0)

        listed = {d["doc_id"]: d["acl"] for d in c.get("/v1/admin/documents", headers=A).json()}
        assert listed == {"uploads/salary.md": ["hr"], "uploads/lunch.md": ["everyone"]}
        staff = answer(c, "2024年调薪幅度是多少？", STAFF).json()
        assert staff["refused"] and "8%" not in str(staff)
        assert c.get("/v1/documents/uploads/salary.md", headers=auth(STAFF)).status_code == 404
        hr = answer(c, "2024年调薪幅度是多少？", HR).json()
        assert [x["doc_id"] for x in hr["citations"]] == ["uploads/salary.md"]

        # relabelling is explicit, and logged
        bad = c.post("/v1/admin/jobs", json={"uploads": True, "relabel": True}, headers=A)
        assert bad.status_code == 400 and "relabel" in bad.json()["detail"]
        with caplog.at_level(logging.WARNING, logger="service.uploads"):
            body = {"uploads": True, "acl": ["hr", "finance"], "relabel": True}
            three = c.post("/v1/admin/jobs", json=body, headers=A)
            assert finish(c, three.json()["id"])["summary"]["changed"] == 2
        assert "upload lunch.md relabelled by job: ['everyone'] -> ['hr', 'finance']" in (
            caplog.text
        )
        put = c.put("/v1/admin/uploads/lunch.md?acl=everyone", content=b"Lunch at 12.", headers=A)
        assert put.json()["acl"] == ["everyone"]
        put = c.put("/v1/admin/uploads/lunch.md", content=b"Lunch at 12:30.", headers=A)
        assert put.json()["acl"] == ["everyone"]  # a new version keeps its groups


def test_ingest_cli_while_the_service_holds_the_store_says_at_once_how_to_use_the_service(
    tmp_path: Path, settings: Settings
) -> None:
    docs = write(tmp_path / "docs", {"a.txt": "The VPN disconnects after 30 minutes."})
    settings = settings.model_copy(update={"store_engine": "edge", "port": 8123})
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as c:
        c.get("/healthz")  # the service opens (and holds) its store
        # Without the pipeline loaded: a module that is never imported cannot have been slow.
        probe = (
            "import sys; from ingest.__main__ import main; rc = main(sys.argv[1:]); "
            "assert 'ingest.pipeline' not in sys.modules and 'llama_index' not in sys.modules; "
            "sys.exit(rc)"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GQA_DATA_DIR": str(settings.data_dir)}
        env |= {"GQA_EMBEDDER": "hashing", "GQA_STORE_ENGINE": "edge"}
        r = subprocess.run(
            [sys.executable, "-c", probe, str(docs), "--no-progress"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
    assert r.returncode == 2, r.stderr
    assert f"in use by the service (pid {os.getpid()})" in r.stderr
    assert "curl -X POST http://127.0.0.1:8123/v1/admin/jobs" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
