"""Admin API (admin keys only): ingestion jobs, uploads, and the documents in the index.

- `PUT /v1/admin/uploads/{name}[?acl=g1,g2]`: the request body is the file; kept in the upload
  folder with its access groups (`service.uploads`); a name with '/' or '..' is 400 (the
  schema's `pattern` on `name` says which names are accepted).
- `POST /v1/admin/jobs`: sync the configured sources (GQA_INGEST_SOURCES, or some of them by
  folder name) and/or the upload folder in the background (`service.jobs`: in this process,
  through its store; answers go on); 409 while a job runs; 404 when a named source is not
  configured, or nothing is (no sources, uploads=false); 400 when two of its folders share
  a name (document ids start with it).
- `GET /v1/admin/jobs`, `GET /v1/admin/jobs/{id}`: state, exit code, and the ingest summary
  (documents new/changed/unchanged/removed, alternates with their canonical, chunks written,
  failures with reasons).
- `GET /v1/admin/documents`, `DELETE /v1/admin/documents/{doc_id}`: list (alternates too, each
  with its canonical) and delete (an uploaded file is deleted with its document, so the next
  job does not bring it back; a record of an uploaded JSONL export with other records is 409:
  remove it from the file and re-upload).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from core.settings import Settings
from service.auth import Admin
from service.config import ServiceSettings
from service.gate import StoreGate
from service.jobs import Job, JobBusy, JobRunner
from service.responses import error_docs
from service.uploads import NAME_MAX, NAME_PATTERN, BadUploadName, Uploads, check_name

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/admin", tags=["admin"])


class JobRequest(BaseModel):
    # relabel needs uploads=true and groups in acl: stated in the schema, checked in start_job
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"relabel": {"const": True}}, "required": ["relabel"]},
            "then": {
                "properties": {
                    "uploads": {"const": True},
                    "acl": {"type": "array", "minItems": 1},
                },
                "required": ["uploads", "acl"],
            },
        }
    )

    sources: list[str] | None = Field(
        None, description="Folder names among GQA_INGEST_SOURCES (default: all of them)"
    )
    uploads: StrictBool = Field(False, description="Also sync the uploaded files")
    acl: list[str] | None = Field(
        None,
        description="Groups of documents that name none; for uploads, of those not labelled "
        "yet (at upload or by an earlier job)",
    )
    relabel: StrictBool = Field(
        False, description="Give every upload the groups `acl` (logged); needs uploads and acl"
    )


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
    planted: int = Field(
        0,
        description="Spans of its indexed text marked as addressing the assistant (planted "
        "instructions: kept in the text, never evidence; 0 for a copy)",
    )
    alternate_of: str | None = Field(
        None,
        description="For a near-duplicate copy: the canonical document it is indexed as "
        "(its text, chunks and answers are the canonical's)",
    )


class UploadOut(BaseModel):
    name: str
    bytes: int
    doc_id: str = Field(description="The document's id once a job with uploads=true has run")
    acl: list[str] | None = Field(
        description="The upload's access groups (null until set: ?acl= or its first job)"
    )


def uploads_of(request: Request) -> Uploads:
    """The upload folder (GQA_UPLOAD_DIR, default DATA_DIR/uploads); its name starts doc ids."""
    svc: ServiceSettings = request.app.state.service_settings
    settings: Settings = request.app.state.settings
    return Uploads.of(svc, settings.data_dir)


_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary", "minLength": 1}
            }
        },
    }
}


@router.put(
    "/uploads/{name:path}",  # a name with '/' reaches the handler (400, not 404)
    response_model=UploadOut,
    responses=error_docs(400, 401, 403, 413),
    openapi_extra=_FILE_BODY,
)
async def upload(
    request: Request,
    who: Admin,
    # pattern and length in the schema only: check_name answers 400 with the reason
    name: str = PathParam(
        description="A plain file name: no folder, not hidden, not acl.yaml",
        json_schema_extra={"pattern": NAME_PATTERN, "maxLength": NAME_MAX},
    ),
    acl: str | None = Query(
        None,
        description="Comma-separated groups of this file (a new value relabels it)",
        json_schema_extra={"pattern": r"[^,\s]"},  # names at least one group
    ),
) -> UploadOut:
    """Store the request body as file `name` (no folders) for the next job with uploads=true."""
    try:
        check_name(name)
    except BadUploadName as exc:
        raise HTTPException(400, str(exc)) from exc
    groups = _groups(acl)
    body = await request.body()
    if not body:
        raise HTTPException(400, "empty upload - send the file as the request body")
    uploads = uploads_of(request)
    labelled = await run_in_threadpool(uploads.store, name, body, groups)
    return UploadOut(
        name=name, bytes=len(body), doc_id=f"{uploads.folder.name}/{name}", acl=labelled
    )


def _groups(acl: str | None) -> list[str] | None:
    if acl is None:
        return None
    groups = [g.strip() for g in acl.split(",") if g.strip()]
    if not groups:
        raise HTTPException(400, "acl names no group - e.g. ?acl=hr,finance")
    return groups


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobOut,
    responses=error_docs(400, 401, 403, 404, 409),
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
        raise HTTPException(  # 404: a source the schema allows but this server has not
            404, f"unknown sources {unknown} - configured: {sorted(configured) or 'none'}"
        )
    paths = [p for n in dict.fromkeys(names) for p in configured[n]]
    uploads = uploads_of(request)
    if req.uploads:
        paths.append(uploads.folder)
    if req.relabel and not (req.uploads and req.acl):
        raise HTTPException(400, "relabel needs uploads=true and the new groups in acl")
    _check_distinct_names(paths)
    if not paths:
        raise HTTPException(  # 404: no configured source exists to sync
            404, "nothing to ingest - set GQA_INGEST_SOURCES or upload files and pass uploads=true"
        )
    runner: JobRunner = request.app.state.jobs
    settings: Settings = request.app.state.settings
    try:
        with runner.reserved():  # no label is written while another job runs
            if req.uploads:
                uploads.folder.mkdir(parents=True, exist_ok=True)
                uploads.label_for_job(req.acl or settings.default_acl, req.relabel)
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
    out = []
    for d in states.values():
        out.append(
            DocumentInfo(
                doc_id=d.doc_id,
                source=d.source,
                title=d.title,
                acl=list(d.acl),
                chunk_count=d.chunk_count,
                file=d.file,
                planted=d.planted,
            )
        )
        out += [  # a copy has the canonical's groups (only same-group documents are copies)
            DocumentInfo(
                doc_id=alt,
                source=d.source,
                title=d.title,
                acl=list(d.acl),
                chunk_count=0,
                file=alt if d.file == d.doc_id else "",  # a file's id is its path
                alternate_of=d.doc_id,
            )
            for alt in d.alternates
        ]
    return sorted(out, key=lambda d: d.doc_id)


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
    uploads = uploads_of(request)
    folder = uploads.folder.resolve()
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
        if path.parent == folder:
            uploads.forget(path.name)  # the file and its groups
        elif path.is_relative_to(folder):
            path.unlink(missing_ok=True)
