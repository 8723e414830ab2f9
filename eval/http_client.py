"""The eval's client of a running service: answers, document texts, and ingestion through the
admin API. Safe to share between threads (one `httpx.Client`, a locked text cache).

Retries: 429 and 503 (rate limit, store unavailable or not yet ingested) are retried after
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
from eval.report import describe_failures

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
        """The /v1/answer body (a JSON object). Raises QuestionFailed (after retries, on any
        other status, or when the body is not a JSON object)."""
        payload = {"question": question, "include_passages": include_passages}
        r = self.request("POST", "/v1/answer", json=payload)
        if r.status_code != 200:
            raise QuestionFailed(f"POST /v1/answer: HTTP {r.status_code}: {_detail(r)}")
        body: dict[str, Any] = _json_object(r, "POST /v1/answer")
        return body

    def document_text(self, doc_id: str) -> str | None:
        """A document's stored text (None when absent or not readable with the key); cached.
        Raises QuestionFailed on another status or a body without a text."""
        with self._texts_lock:
            if doc_id in self._texts:
                return self._texts[doc_id]
        path = f"/v1/documents/{quote(doc_id, safe='/')}"
        r = self.request("GET", path)
        if r.status_code not in (200, 404):
            raise QuestionFailed(f"GET {path}: HTTP {r.status_code}: {_detail(r)}")
        text = None
        if r.status_code == 200:
            text = _json_object(r, f"GET {path}").get("text")
            if not isinstance(text, str):
                raise QuestionFailed(f"GET {path}: the body has no 'text' string")
        with self._texts_lock:
            self._texts[doc_id] = text
        return text

    # --- ingestion through the admin API ----------------------------------------------------
    def ingest(self, dataset: Dataset, progress: bool = False) -> dict[str, Any]:
        """Upload the corpus as one JSONL file (`upload_name`) and sync the service's uploads
        in an admin job; wait for it. Returns the job's summary with its id and state.

        One eval dataset at a time: a job syncs every uploaded file, so the eval uploads of
        other datasets (other eval-*.jsonl files) would be answered from too. Each is replaced
        by a one-record placeholder before the job and that record deleted after it, which
        deletes the file (the admin API deletes an upload with its only record). Other uploads
        and configured sources are left as they are. `failed` lists only this corpus's
        failures. Raises ConfigError, also when no document of the corpus was indexed.
        """
        name = upload_name(dataset)
        data, local_failures = corpus_jsonl(dataset.corpus)
        if not data.strip():
            raise ConfigError(
                f"no document of {dataset.corpus} could be read ({len(local_failures)} failed: "
                f"{describe_failures(local_failures)}) - fix the corpus files"
            )
        folder = self._upload(name, data, "upload the corpus")
        ours = f"{folder}/{name}"
        stale, removed, jobs = self._eval_uploads(folder, ours)[1], [], []
        for _ in range(2):  # the 2nd round: earlier uploads indexed only by the 1st job
            for other in stale:
                self._upload(other, _placeholder(other), "replace an earlier eval upload")
            jobs.append(self._run_job(progress))
            for other in stale:
                self._delete(_placeholder_id(other))
            removed += stale
            indexed, stale = self._eval_uploads(folder, ours)
            if not stale:
                break
        if stale:
            raise ConfigError(
                f"earlier eval uploads {', '.join(stale)} are still indexed on {self.url} - "
                "delete them in the service's upload folder and run an ingest job"
            )
        job = jobs[-1]
        summary = dict(job.get("summary") or {})
        failed = [f for f in summary.get("failed") or [] if _concerns(str(f.get("file")), ours)]
        summary.update(job=job["id"], state=job["state"], upload=name, failed=failed)
        summary.update(documents=indexed, removed_uploads=sorted(set(removed)))
        if len(jobs) > 1:
            summary["jobs"] = [j["id"] for j in jobs]
        if local_failures:
            summary["failed_locally"] = local_failures
        if not indexed:
            raise ConfigError(
                f"no document of {dataset.corpus} was indexed by ingest job {job['id']} on "
                f"{self.url} ({describe_failures(failed)}) - fix the corpus files"
            )
        return summary

    def _upload(self, name: str, data: bytes, what: str) -> str:
        """PUT an upload; returns the name of the service's upload folder (its doc ids' start)."""
        r = self.request(
            "PUT",
            f"/v1/admin/uploads/{quote(name)}",
            role="admin",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._admin_ok(r, what)
        try:
            doc_id = str(r.json()["doc_id"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{self.url} answered the upload without its doc_id") from None
        return doc_id.removesuffix(f"/{name}")

    def _eval_uploads(self, folder: str, ours: str) -> tuple[int, list[str]]:
        """(documents of the upload `ours`, other eval-*.jsonl uploads with indexed documents)."""
        r = self.request("GET", "/v1/admin/documents", role="admin")
        self._admin_ok(r, "list the documents")
        docs = r.json()
        if not isinstance(docs, list):
            raise ConfigError(f"{self.url}: GET /v1/admin/documents is not a list")
        files = [d.get("file") for d in docs if isinstance(d, dict)]
        pattern = re.compile(re.escape(folder) + r"/(eval-[^/]*\.jsonl)")
        others = {m[1] for f in files if f != ours and (m := pattern.fullmatch(str(f)))}
        return sum(f == ours for f in files), sorted(others)

    def _delete(self, doc_id: str) -> None:
        """Delete a document (404: already gone); waits while a job runs (409)."""
        deadline = time.monotonic() + self.job_timeout
        while True:
            r = self.request("DELETE", f"/v1/admin/documents/{quote(doc_id)}", role="admin")
            if r.status_code in (204, 404):
                return
            if r.status_code != 409 or time.monotonic() > deadline:
                raise ConfigError(
                    f"could not delete {doc_id!r} on {self.url}: HTTP {r.status_code}: {_detail(r)}"
                )
            time.sleep(1.0)

    def _run_job(self, progress: bool) -> dict[str, Any]:
        """Start a job syncing the uploads and wait for it; ConfigError when it failed."""
        job = self._wait(self._start_job(), progress)
        if job["state"] == "failed":
            raise ConfigError(f"ingest job {job['id']} on {self.url} failed: {job.get('error')}")
        return job

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


def _placeholder_id(upload: str) -> str:
    return f"eval-placeholder-{upload}"


def _placeholder(upload: str) -> bytes:
    """One record replacing an earlier eval upload, so that deleting it deletes the file."""
    text = f"Placeholder for {upload}, deleted by the eval once an ingest job has indexed it."
    return json.dumps({"id": _placeholder_id(upload), "text": text}).encode() + b"\n"


def _concerns(failed_file: str, upload: str) -> bool:
    """Whether a job's failure (a file, a folder 'x/' or '' for the whole root) is `upload`'s."""
    return (
        failed_file == upload
        or (failed_file.endswith("/") or not failed_file)
        and (upload.startswith(failed_file))
    )


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


def _json_object(r: httpx.Response, what: str) -> dict[str, Any]:
    """The response's JSON object; QuestionFailed naming `what` when it is not one."""
    try:
        body = r.json()
    except ValueError:  # also a body that is not UTF-8
        kind = r.headers.get("Content-Type", "no content type")
        raise QuestionFailed(f"{what}: the body is not JSON ({kind}): {r.text[:80]!r}") from None
    if not isinstance(body, dict):
        raise QuestionFailed(f"{what}: the body is a JSON {type(body).__name__}, not an object")
    return body


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
