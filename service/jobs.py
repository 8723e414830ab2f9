"""Admin ingestion jobs: `python -m ingest` in a subprocess, one writer at a time.

The service never imports `ingest` (one-way imports); a job runs the ingest CLI with the
service's settings as GQA_ variables and reads its `--summary-json` and exit code (0 ok, 1 some
files failed, 2 configuration or store error). On the embedded store (no GQA_QDRANT_URL) the
store is locked to one process, so the service lends it to the job: `StoreGate.release` before,
`reopen` after; meanwhile answers are 503 with Retry-After. A killed job leaves the index marked
as syncing; the next job sweeps what it left (ingest's crash guarantee).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from core.settings import Settings
from service.gate import StoreGate

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class JobBusy(Exception):
    """Another job is writing (one writer at a time)."""


@dataclass
class Job:
    """One ingest run and what it reported."""

    id: str
    paths: list[str]
    acl: list[str] | None
    state: str = "queued"  # queued, running, succeeded, completed_with_failures, failed
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    summary: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None  # live counts from ingest --progress-json
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobRunner:
    """Starts jobs in a background thread and keeps their records (in memory)."""

    def __init__(
        self, settings: Settings, gate: StoreGate, timeout_s: float, python: str = sys.executable
    ) -> None:
        self.settings, self.gate, self.timeout_s, self.python = settings, gate, timeout_s, python
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def busy(self) -> bool:
        with self._lock:
            return any(j.active for j in self.jobs.values())

    @property
    def lends_store(self) -> bool:
        """Whether a job needs the service's store (the embedded store, opened by the service)."""
        return not self.settings.qdrant_url and self.gate.releasable

    def start(self, paths: list[Path], acl: list[str] | None) -> Job:
        """Queue a job over `paths` and run it in the background. Raises JobBusy."""
        with self._lock:
            if any(j.active for j in self.jobs.values()):
                raise JobBusy("an ingestion job is already running - wait for it to finish")
            job = Job(uuid.uuid4().hex[:12], [str(p) for p in paths], acl)
            self.jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job,), name=f"ingest-{job.id}")
        self._threads.append(thread)
        thread.start()
        return job

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background threads (shutdown, tests)."""
        for t in self._threads:
            t.join(timeout)

    def _run(self, job: Job) -> None:
        job.state, job.started = "running", time.time()
        lent = False
        try:
            if self.lends_store:
                self.gate.release(
                    f"ingestion job {job.id} is writing the embedded store - retry shortly"
                )
                lent = True
            self._ingest(job)
        except Exception as exc:  # the job fails, the service goes on
            log.exception("ingestion job %s failed", job.id)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            if lent:
                self.gate.reopen()
            job.finished = time.time()

    def _ingest(self, job: Job) -> None:
        with tempfile.TemporaryDirectory(prefix="gqa-job-") as tmp:
            summary_file = Path(tmp) / "summary.json"
            progress_file = Path(tmp) / "progress.json"
            cmd = [self.python, "-m", "ingest", *job.paths, "--no-progress"]
            cmd += ["--summary-json", str(summary_file), "--progress-json", str(progress_file)]
            if job.acl:
                cmd += ["--acl", ",".join(job.acl)]
            proc = subprocess.Popen(
                cmd,
                cwd=tmp,  # no stray .env: the settings travel as variables
                env=subprocess_env(self.settings),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + self.timeout_s
            stderr = ""
            while True:
                try:
                    _, stderr = proc.communicate(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    _read_progress(job, progress_file)
                    if time.monotonic() > deadline:
                        proc.kill()
                        proc.communicate()
                        job.state, job.error = "failed", f"killed after {self.timeout_s:.0f} s"
                        return
            _read_progress(job, progress_file)
            done = subprocess.CompletedProcess(cmd, proc.returncode, "", stderr)
            job.exit_code = done.returncode
            if summary_file.exists():
                job.summary = json.loads(summary_file.read_text(encoding="utf-8"))
            if done.returncode == 0:
                job.state = "succeeded"
            elif done.returncode == 1 and job.summary is not None:
                job.state = "completed_with_failures"
            else:
                job.state = "failed"
                job.error = _last_line(done.stderr) or f"ingest exited with {done.returncode}"
                log.warning("ingestion job %s: %s", job.id, done.stderr[-2000:])


def _read_progress(job: Job, path: Path) -> None:
    """The latest counts the ingest process wrote (it replaces the file atomically)."""
    with contextlib.suppress(OSError, ValueError):  # not written yet
        job.progress = json.loads(path.read_text(encoding="utf-8"))


def subprocess_env(settings: Settings) -> dict[str, str]:
    """The environment of a child that must see exactly `settings` (GQA_* replaced, paths
    made absolute, the project importable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQA_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, Path):
            value = str(value.resolve())
        elif isinstance(value, list | dict):
            value = json.dumps(value)
        env[f"GQA_{name.upper()}"] = str(value)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
