"""Admin API (admin keys only): ingestion jobs, uploads, and the documents in the index.

- `PUT /v1/admin/uploads/{name}`: the request body is the file; kept in the upload folder.
- `POST /v1/admin/jobs`: sync the configured sources (GQA_INGEST_SOURCES, or some of them by
  folder name) and/or the upload folder in the background; 409 while a job runs; 400 when two
  of its folders share a name (document ids start with it).
- `GET /v1/admin/jobs`, `GET /v1/admin/jobs/{id}`: state, exit code, and the ingest summary
  (documents new/changed/unchanged/removed, chunks written, failures with reasons).
- `GET /v1/admin/documents`, `DELETE /v1/admin/documents/{doc_id}`: list and delete (an uploaded
  file is deleted with its document, so the next job does not bring it back; a record of an
  uploaded JSONL export with other records is 409: remove it from the file and re-upload).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from core.settings import Settings
from service.auth import Admin
from service.config import ServiceSettings
from service.gate import StoreGate
from service.jobs import Job, JobBusy, JobRunner
from service.responses import error_docs

router = APIRouter(prefix="/v1/admin", tags=["admin"])
_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")


class JobRequest(BaseModel):
    sources: list[str] | None = Field(
        None, description="Folder names among GQA_INGEST_SOURCES (default: all of them)"
    )
    uploads: bool = Field(False, description="Also sync the uploaded files")
    acl: list[str] | None = Field(None, description="Groups of documents that name none")


class JobOut(BaseModel):
    id: str
    state: str = Field(description="queued, running, succeeded, completed_with_failures, failed")
    paths: list[str]
    acl: list[str] | None
    created: float
    started: float | None
    finished: float | None
    exit_code: int | None = Field(description="ingest's exit code: 0 ok, 1 files failed, 2 error")
    summary: dict[str, Any] | None = Field(
        description="new, changed, unchanged, removed, chunks_written, failed [{file, reason}], …"
    )
    progress: dict[str, Any] | None = Field(
        None,
        description="live counts while running: documents_to_write, documents_written, "
        "chunks_written, unchanged, failed [{file, reason}]",
    )
    error: str | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            **{k: getattr(job, k) for k in cls.model_fields}  # same names as the record
        )


class DocumentInfo(BaseModel):
    doc_id: str
    source: str
    title: str
    acl: list[str]
    chunk_count: int
    file: str


class UploadOut(BaseModel):
    name: str
    bytes: int
    doc_id: str = Field(description="The document's id once a job with uploads=true has run")


def upload_dir(request: Request) -> Path:
    """The upload folder (GQA_UPLOAD_DIR, default DATA_DIR/uploads); its name starts doc ids."""
    svc: ServiceSettings = request.app.state.service_settings
    settings: Settings = request.app.state.settings
    return svc.upload_dir or settings.data_dir / "uploads"


_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put(
    "/uploads/{name}",
    response_model=UploadOut,
    responses=error_docs(400, 401, 403, 413),
    openapi_extra=_FILE_BODY,
)
async def upload(name: str, request: Request, who: Admin) -> UploadOut:
    """Store the request body as file `name` (no folders) for the next job with uploads=true."""
    if not _SAFE_NAME.match(name) or name.startswith(".") or name in ("..", "."):
        raise HTTPException(400, f"bad file name {name!r} - a plain name such as policy.md")
    body = await request.body()
    if not body:
        raise HTTPException(400, "empty upload - send the file as the request body")
    folder = upload_dir(request)
    await run_in_threadpool(_write, folder / name, body)
    return UploadOut(name=name, bytes=len(body), doc_id=f"{folder.resolve().name}/{name}")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@router.post(
    "/jobs", status_code=202, response_model=JobOut, responses=error_docs(400, 401, 403, 409)
)
def start_job(req: JobRequest, request: Request, who: Admin) -> JobOut:
    """Start syncing sources in the background; poll `GET /v1/admin/jobs/{id}`."""
    svc: ServiceSettings = request.app.state.service_settings
    configured: dict[str, list[Path]] = defaultdict(list)
    for p in dict.fromkeys(Path(p) for p in svc.ingest_sources):
        configured[p.resolve().name].append(p)  # the name ids start with ("." has none)
    names = req.sources if req.sources is not None else ([] if req.uploads else list(configured))
    unknown = [n for n in names if n not in configured]
    if unknown:
        raise HTTPException(
            400, f"unknown sources {unknown} - configured: {sorted(configured) or 'none'}"
        )
    paths = [p for n in dict.fromkeys(names) for p in configured[n]]
    folder = upload_dir(request)
    if req.uploads:
        paths.append(folder)
    _check_distinct_names(paths)
    if req.uploads:
        folder.mkdir(parents=True, exist_ok=True)
    if not paths:
        raise HTTPException(
            400, "nothing to ingest - set GQA_INGEST_SOURCES or upload files and pass uploads=true"
        )
    runner: JobRunner = request.app.state.jobs
    try:
        return JobOut.of(runner.start(paths, req.acl))
    except JobBusy as exc:
        raise HTTPException(409, str(exc)) from exc


def _check_distinct_names(paths: list[Path]) -> None:
    """400 when two folders of one job share a name: document ids start with the folder name,
    so their documents would collide (one of them silently lost)."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        by_name[p.resolve().name].append(str(p))
    clashes = [same for same in by_name.values() if len(same) > 1]
    if clashes:
        listed = "; ".join(" and ".join(same) for same in clashes)
        raise HTTPException(
            400,
            f"sources share a folder name: {listed} - document ids start with the folder "
            "name, so their documents would collide; give them distinct folder names "
            "(GQA_INGEST_SOURCES, GQA_UPLOAD_DIR)",
        )


@router.get("/jobs", response_model=list[JobOut], responses=error_docs(401, 403))
def list_jobs(request: Request, who: Admin) -> list[JobOut]:
    """Every job since the service started, newest first."""
    jobs = sorted(request.app.state.jobs.jobs.values(), key=lambda j: j.created, reverse=True)
    return [JobOut.of(j) for j in jobs]


@router.get("/jobs/{job_id}", response_model=JobOut, responses=error_docs(401, 403, 404))
def get_job(job_id: str, request: Request, who: Admin) -> JobOut:
    job = request.app.state.jobs.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id!r} not found")
    return JobOut.of(job)


@router.get("/documents", response_model=list[DocumentInfo], responses=error_docs(401, 403, 503))
def list_documents(request: Request, who: Admin) -> list[DocumentInfo]:
    """Every indexed document (without its text), by id."""
    gate: StoreGate = request.app.state.store
    states = gate.document_states() if gate.ready() else {}
    return [
        DocumentInfo(
            doc_id=d.doc_id,
            source=d.source,
            title=d.title,
            acl=list(d.acl),
            chunk_count=d.chunk_count,
            file=d.file,
        )
        for d in sorted(states.values(), key=lambda d: d.doc_id)
    ]


@router.delete(
    "/documents/{doc_id:path}", status_code=204, responses=error_docs(401, 403, 404, 409, 503)
)
def delete_document(doc_id: str, request: Request, who: Admin) -> None:
    """Delete a document and its chunks (409 while a job writes).

    An uploaded file is deleted with its document, so the next job does not bring it back. A
    record of an uploaded JSONL export that holds other records is 409 (deleting the file would
    lose them; keeping it would bring the record back): remove the record from the file and
    upload it again. Documents of configured sources are only deleted from the index (the next
    job brings them back unless their files are removed).
    """
    runner: JobRunner = request.app.state.jobs
    if runner.busy:
        raise HTTPException(409, "an ingestion job is running - delete when it has finished")
    gate: StoreGate = request.app.state.store
    doc = gate.get_document(doc_id) if gate.ready() else None
    if doc is None:
        raise HTTPException(404, f"document {doc_id!r} not found")
    folder = upload_dir(request).resolve()
    uploaded = doc.origin == str(folder) and bool(doc.file)
    if uploaded and doc.file != doc.doc_id:  # a record of a JSONL export
        others = [
            d.doc_id
            for d in gate.document_states().values()
            if (d.origin, d.file) == (doc.origin, doc.file) and d.doc_id != doc_id
        ]
        if others:
            raise HTTPException(
                409,
                f"document {doc_id!r} is a record of {doc.file} with {len(others)} other "
                "records; remove it from the file and re-upload",
            )
    gate.delete_document(doc_id)
    if uploaded:  # `file` is '<folder name>/<path in folder>'
        path = (folder.parent / doc.file).resolve()
        if path.is_relative_to(folder):
            path.unlink(missing_ok=True)
