"""The eval's client of a running service: answers, document texts, and ingestion through the
admin API. Safe to share between threads (one `httpx.Client`, a locked text cache).

Retries: 429 and 503 (rate limit, store unavailable or lent to an ingest job) are retried after
their Retry-After, a few times; a transport error likewise after a second. A question that still
fails raises `QuestionFailed`; a rejected key raises `ConfigError` (no question can succeed).
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from tqdm import tqdm

from core.errors import ConfigError
from eval.datasets import Dataset

log = logging.getLogger(__name__)
RETRY_STATUSES = (429, 503)
_ACTIVE = ("queued", "running")


class QuestionFailed(Exception):
    """One request failed for good (after retries); the run goes on without its record."""


class ServiceClient:
    """HTTP access to one service at `url` with an API key (and an admin key for ingesting)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        admin_key: str | None = None,
        key_env: str = "GQA_EVAL_API_KEY",
        admin_key_env: str = "GQA_EVAL_ADMIN_KEY",
        timeout: float = 60.0,
        retries: int = 4,
        max_wait: float = 60.0,
        job_timeout: float = 3600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"--url {url!r} is not an http(s) URL - e.g. http://127.0.0.1:8000")
        self.url = url.rstrip("/")
        self.key_env, self.admin_key_env = key_env, admin_key_env
        self.retries, self.max_wait, self.job_timeout = retries, max_wait, job_timeout
        self._keys = {"api": api_key, "admin": admin_key or api_key}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._texts: dict[str, str | None] = {}
        self._texts_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests ---------------------------------------------------------------------------
    def _headers(self, role: str) -> dict[str, str]:
        key = self._keys[role]
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request(
        self,
        method: str,
        path: str,
        role: str = "api",
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """One request, retried on 429/503 (after Retry-After) and transport errors.

        Returns the last response (any status). Raises ConfigError on 401 (the key), and
        QuestionFailed when retries run out.
        """
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                r = self._http.request(
                    method, path, headers={**self._headers(role), **(headers or {})}, **kw
                )
            except httpx.TransportError as exc:
                if last:
                    raise QuestionFailed(f"{method} {path}: no response ({exc!r})") from exc
                time.sleep(1.0)
                continue
            if r.status_code == 401:
                env = self.admin_key_env if role == "admin" else self.key_env
                raise ConfigError(
                    f"{self.url} rejected the key ({_detail(r)}) - set {env} to a valid key"
                )
            if r.status_code not in RETRY_STATUSES or last:
                return r
            wait = min(self.max_wait, _retry_after(r))
            log.info("%s %s: %s, retrying in %.1f s", method, path, r.status_code, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def check(self, need_documents: bool) -> None:
        """Fail early with a clear message when `url` is not a reachable service (or, with
        `need_documents`, has nothing indexed). Raises ConfigError."""
        try:
            r = self._http.get("/healthz")
        except httpx.TransportError as exc:
            raise ConfigError(
                f"cannot reach the service at {self.url} ({exc}) - start it (python -m service) "
                "or fix --url"
            ) from exc
        try:
            status = r.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if status not in ("ok", "empty", "unavailable"):
            raise ConfigError(
                f"{self.url} does not look like the grounded-QA service (GET /healthz answered "
                f"{r.status_code}) - fix --url"
            )
        if status == "empty" and need_documents:
            raise ConfigError(
                f"the service at {self.url} has no documents yet - pass --ingest to upload the "
                "dataset's corpus, or ingest on the server"
            )

    def answer(self, question: str, include_passages: bool = True) -> dict[str, Any]:
        """The /v1/answer body. Raises QuestionFailed (after retries, or on any other error)."""
        payload = {"question": question, "include_passages": include_passages}
        r = self.request("POST", "/v1/answer", json=payload)
        if r.status_code != 200:
            raise QuestionFailed(f"POST /v1/answer: HTTP {r.status_code}: {_detail(r)}")
        body: dict[str, Any] = r.json()
        return body

    def document_text(self, doc_id: str) -> str | None:
        """A document's stored text (None when absent or not readable with the key); cached."""
        with self._texts_lock:
            if doc_id in self._texts:
                return self._texts[doc_id]
        r = self.request("GET", f"/v1/documents/{quote(doc_id, safe='/')}")
        if r.status_code not in (200, 404):
            raise QuestionFailed(f"GET /v1/documents/{doc_id}: HTTP {r.status_code}: {_detail(r)}")
        text = str(r.json()["text"]) if r.status_code == 200 else None
        with self._texts_lock:
            self._texts[doc_id] = text
        return text

    # --- ingestion through the admin API ----------------------------------------------------
    def ingest(self, dataset: Dataset, progress: bool = False) -> dict[str, Any]:
        """Upload the corpus as one JSONL file and sync the service's uploads in an admin job;
        wait for it. Returns the job's summary with its id and state. Raises ConfigError."""
        name = upload_name(dataset)
        data, local_failures = corpus_jsonl(dataset.corpus)
        r = self.request(
            "PUT",
            f"/v1/admin/uploads/{quote(name)}",
            role="admin",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._admin_ok(r, "upload the corpus")
        job = self._start_job()
        job = self._wait(job, progress)
        if job["state"] == "failed":
            raise ConfigError(f"ingest job {job['id']} on {self.url} failed: {job.get('error')}")
        summary = dict(job.get("summary") or {})
        summary.update(job=job["id"], state=job["state"], upload=name)
        if local_failures:
            summary["failed_locally"] = local_failures
        return summary

    def _admin_ok(self, r: httpx.Response, what: str) -> None:
        if r.status_code in (200, 202):
            return
        if r.status_code == 403:
            raise ConfigError(
                f"{self.url} needs an admin key to {what} ({_detail(r)}) - set "
                f"{self.admin_key_env} to an admin key (or pass --admin-key-env NAME)"
            )
        if r.status_code in (404, 405):
            raise ConfigError(
                f"{self.url} has no admin API to {what} (HTTP {r.status_code}) - ingest on the "
                "server, then run without --ingest"
            )
        raise ConfigError(f"could not {what} on {self.url}: HTTP {r.status_code}: {_detail(r)}")

    def _start_job(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.job_timeout
        while True:
            r = self.request("POST", "/v1/admin/jobs", role="admin", json={"uploads": True})
            if r.status_code != 409 or time.monotonic() > deadline:
                self._admin_ok(r, "start an ingest job")
                job: dict[str, Any] = r.json()
                return job
            time.sleep(1.0)  # another job is writing: one writer at a time

    def _wait(self, job: dict[str, Any], progress: bool) -> dict[str, Any]:
        deadline = time.monotonic() + self.job_timeout
        with tqdm(disable=not progress, unit="doc", desc="ingest job") as bar:
            while job["state"] in _ACTIVE:
                if time.monotonic() > deadline:
                    raise ConfigError(f"ingest job {job['id']} still running after the timeout")
                time.sleep(0.3)
                r = self.request("GET", f"/v1/admin/jobs/{job['id']}", role="admin")
                self._admin_ok(r, "follow the ingest job")
                job = r.json()
                live = job.get("progress") or {}
                bar.total = live.get("documents_to_write")
                bar.n = int(live.get("documents_written") or 0)
                bar.refresh()
        return job


def upload_name(dataset: Dataset) -> str:
    """The upload's file name: one per dataset, so a rerun replaces it (and what it removed goes)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", dataset.name).strip("-") or "dataset"
    return f"eval-{slug}.jsonl"


def corpus_jsonl(corpus: Path) -> tuple[bytes, list[dict[str, str]]]:
    """The corpus as JSONL records {id, text, title, source, acl}.

    A corpus.jsonl is sent as it is. A folder is read, parsed and cleaned here by ingest's own
    reader, so documents keep their ids ('corpus/hr/leave.md'), titles and acl.yaml groups (the
    admin API takes flat files, and a JSONL record carries all of them); the service keeps JSONL
    text as it is. Returns the bytes and the files that could not be read ({file, reason}).
    """
    if corpus.is_file():
        return corpus.read_bytes(), []
    from ingest.pipeline import clean_documents  # only this path parses files
    from ingest.sources import Failure, Root, Unchanged, read_root

    docs, failures = [], []
    for item in read_root(Root(corpus), (), 2**31):
        if isinstance(item, Failure):
            failures.append({"file": item.file, "reason": item.reason})
        elif not isinstance(item, Unchanged):
            docs.append(item)
    lines = []
    for d in clean_documents(docs):
        rec: dict[str, Any] = {"id": d.doc_id, "text": d.text, "title": d.title, "source": d.source}
        if d.acl:  # no acl.yaml rule: the service's default groups apply
            rec["acl"] = list(d.acl)
        lines.append(json.dumps(rec, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8"), failures


def _retry_after(r: httpx.Response) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date); 1 s when absent."""
    value = r.headers.get("Retry-After", "").strip()
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 1.0


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200] or r.reason_phrase
    return str(body.get("detail") or body) if isinstance(body, dict) else str(body)[:200]
