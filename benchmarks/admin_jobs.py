"""Admin jobs in the service: how long a job takes, a no-op job above all, and whether answers
go on while one runs.

    python benchmarks/admin_jobs.py --corpus samples/acme/corpus

Runs the service in process (FastAPI TestClient, the configured embedder, a fresh embedded store
in a temporary folder) over a copy of the corpus: a first job (the index does not exist yet, so
answers are 503 "not ingested" until its schema is written), then a job after every file was
edited (all re-embedded, on a live index: the case that used to pause answers), then the same
job again (nothing changed: a no-op). During each job a question is asked every 0.1 s and the
answers are counted by HTTP status. Prints each job's seconds (the job record's started ->
finished, and POST -> finished as the admin sees it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from core.settings import Settings
from service.app import create_app
from service.auth import hash_key
from service.config import ServiceSettings

KEY = "sk-bench-admin"


def run_job(c: TestClient, question: str) -> tuple[dict[str, Any], float, Counter[int]]:
    headers = {"Authorization": f"Bearer {KEY}"}
    t0 = time.perf_counter()
    job = c.post("/v1/admin/jobs", json={}, headers=headers).json()
    statuses: Counter[int] = Counter()
    while True:
        job = c.get(f"/v1/admin/jobs/{job['id']}", headers=headers).json()
        if job["state"] not in ("queued", "running"):
            return job, time.perf_counter() - t0, statuses
        r = c.post("/v1/answer", json={"question": question}, headers=headers)
        statuses[r.status_code] += 1
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--question", default="VPN 连接多久没有操作会自动断开？")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / args.corpus.resolve().name
        shutil.copytree(args.corpus, corpus)
        settings = Settings(data_dir=Path(tmp) / "data")
        keys = json.dumps([{"id": "bench", "sha256": hash_key(KEY), "groups": [], "admin": True}])
        svc = ServiceSettings(api_keys=keys, ingest_sources=[corpus], rate_limit_per_minute=0)
        with TestClient(create_app(settings, service_settings=svc)) as c:
            c.get("/healthz")  # the store opens
            for name in ("first job", "all files edited", "no-op job"):
                if name == "all files edited":
                    for f in corpus.rglob("*"):
                        if f.is_file() and f.suffix in (".md", ".txt", ".html"):
                            note = f"\n\nRevised in 2026: {f.stem} was reviewed by its owner.\n"
                            f.write_text(f.read_text(encoding="utf-8") + note)
                job, wall, statuses = run_job(c, args.question)
                s = job["summary"] or {}
                print(
                    f"{name}: state {job['state']}, job {job['finished'] - job['started']:.2f} s, "
                    f"POST->finished {wall:.2f} s; new {s.get('new')}, changed {s.get('changed')}, unchanged "
                    f"{s.get('unchanged')}, failed {len(s.get('failed', []))}, chunks "
                    f"{s.get('chunks_written')}; answers during "
                    f"the job by status: {dict(statuses)}"
                )


if __name__ == "__main__":
    main()
