"""Admin ingestion jobs: ingest's `Ingestor` in a worker thread of the service, one at a time.

One writer owns the embedded store: it is locked to one process, and that process is the
service, so a job writes through the service's open store (the `StoreGate`) instead of taking
the store away. Answers go on during a job: each store write runs alone for its moment (the
gate makes reads wait for it, never for the job), and a reader sees every document before or
after its write. A job reuses the service's embedder and store, so a job with nothing to do
costs a folder walk, not a process start and a model load. This is why `service` imports
`ingest` here (and only here; tests/test_layering.py).

A job that passes `job_timeout_s` stops at its next batch; like a killed one it leaves the
index marked as syncing, and the next job sweeps what it left (ingest's crash guarantee).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.embedders import Embedder
from core.settings import Settings
from service.gate import StoreGate

log = logging.getLogger(__name__)


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


class JobTimeout(Exception):
    """A job ran past `job_timeout_s` (raised at its next progress report)."""


class JobRunner:
    """Runs jobs in a background thread, through the service's store and embedder, and keeps
    their records (in memory)."""

    def __init__(
        self, settings: Settings, gate: StoreGate, embedder: Embedder, timeout_s: float
    ) -> None:
        self.settings, self.gate, self.embedder, self.timeout_s = (
            settings,
            gate,
            embedder,
            timeout_s,
        )
        self.jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []

    @property
    def busy(self) -> bool:
        with self._lock:
            return any(j.active for j in self.jobs.values())

    @contextmanager
    def reserved(self) -> Iterator[None]:
        """Hold off other jobs while the caller prepares one (and `start`s it inside).
        Raises JobBusy while a job runs."""
        with self._lock:
            if any(j.active for j in self.jobs.values()):
                raise JobBusy("an ingestion job is already running - wait for it to finish")
            yield

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
        try:
            # Imported here: the pipeline (llama-index) loads in seconds, and only jobs need it.
            from ingest.pipeline import Ingestor

            report = Ingestor(self.settings, self.gate, self.embedder).sync(
                [Path(p) for p in job.paths],
                acl=job.acl,
                on_progress=self._progress(job, time.monotonic() + self.timeout_s),
            )
            job.summary = report.to_dict()
            job.exit_code = 1 if report.failed else 0
            job.state = "completed_with_failures" if report.failed else "succeeded"
            log.info("ingestion job %s %s", job.id, job.state)
        except JobTimeout:
            job.state, job.exit_code = "failed", 2
            job.error = f"stopped after {self.timeout_s:.0f} s (GQA_JOB_TIMEOUT_S)"
            log.warning("ingestion job %s: %s", job.id, job.error)
        except Exception as exc:  # the job fails, the service goes on
            log.exception("ingestion job %s failed", job.id)
            job.state, job.exit_code = "failed", 2
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()

    def _progress(self, job: Job, deadline: float) -> Callable[[dict[str, Any]], None]:
        def report(counts: dict[str, Any]) -> None:
            job.progress = counts
            if time.monotonic() > deadline:
                raise JobTimeout

        return report
