"""HTTP API: answers (`/v1/answer`, OpenAI-compatible `/v1/chat/completions`), documents,
health, the admin API and the chat page. Every route that returns document text takes the
caller's groups from its API key (`service.auth`) and filters by them (`service.access`)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StrictBool
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.embedders import Embedder, make_embedder
from core.errors import CollectionMissing, EmbedderMismatch, GqaError, StoreUnavailable
from core.settings import Settings
from core.store import Store, open_store
from core.store_lock import StoreLock
from engine.generative import LlmClient
from engine.pipeline import AnswerEngine, load_answerability
from service import admin, chat
from service.access import ask, related, visible_document
from service.auth import AuthError, Caller, KeyRing
from service.config import ServiceSettings
from service.gate import StoreGate
from service.jobs import JobRunner
from service.limits import BodyLimit, RateLimited, RateLimiter, checked_question
from service.responses import CitationOut, ErrorOut, RelatedOut, error_docs, error_response

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """Answers only from the company's documents, with a citation per quote.

**Keys**: send `Authorization: Bearer <key>`; the key's groups decide which documents retrieval,
citations and `/v1/documents` can see (others read as absent). With no keys configured the
service is open and only listens on loopback.

**503 + Retry-After**: the store is unreachable or not yet ingested. Retry after the given
seconds; the service recovers by itself. Admin ingestion jobs do not pause answers: the service
runs them and writes through its own store.
"""


class AnswerRequest(BaseModel):
    question: str = Field(
        # The schema says what checked_question enforces (not empty, not only spaces), which
        # answers 400 like chat does, not pydantic's 422.
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
        description="Control and zero-width characters are removed and the ends stripped; "
        "400 when nothing is left or it is longer than GQA_MAX_QUESTION_CHARS (default 2000)",
        examples=["年假有多少天？"],
    )
    include_passages: StrictBool = Field(
        False, description="Also return the ranked retrieved passages (for evaluation)"
    )


class PassageOut(BaseModel):
    doc_id: str
    text: str = Field(description="The chunk's text")
    score: float = Field(description="Fused retrieval score (rank order)")


class AnswerOut(BaseModel):
    answer: str | None = Field(description="Verbatim quotes, each followed by its marker [n]")
    refused: bool
    reason: str | None = Field(
        description="Refusal code: no_evidence, evidence_does_not_cover_question, low_support"
    )
    message: str | None = Field(description="Refusal explanation in the question's script")
    citations: list[CitationOut]
    mode: str = Field("extractive", description="extractive, or generative (LLM, checked)")
    related: list[RelatedOut] = Field(
        default_factory=list,
        description="Under a refusal for evidence that does not answer: up to three passages "
        "the key may read, related but not an answer",
    )
    passages: list[PassageOut] | None = Field(
        None,
        description="Only with include_passages: the retrieved passages in rank order, only "
        "from documents the key may read",
    )


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    title: str
    text: str


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    embedder: Embedder | None = None,
    llm: LlmClient | None = None,
    service_settings: ServiceSettings | None = None,
) -> FastAPI:
    """The service. Tests pass real local-mode components; otherwise they come from settings.

    An injected `store` stays the caller's (never closed; admin jobs write through it); without one
    the service opens the configured store lazily and reopens it after failures.
    Raises ConfigError when the API keys or the answerability model cannot be read.
    """
    svc = service_settings or ServiceSettings()
    keys = KeyRing.from_settings(svc)
    load_answerability(settings)  # a bad model setting stops the start with one line

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock = StoreLock(
            settings.store_path, "the service", f"http://{settings.host}:{settings.port}"
        )

        def opener() -> Store:
            if not settings.qdrant_url:  # the embedded store: this process is its one writer
                lock.acquire()
            return open_store(settings)

        gate = (
            StoreGate(store.chunks, store=store)
            if store is not None
            else StoreGate(settings.collection, opener=opener)
        )
        app.state.store = gate
        app.state.engine = AnswerEngine(settings, gate, embedder or make_embedder(settings), llm)
        app.state.jobs = JobRunner(settings, gate, app.state.engine.embedder, svc.job_timeout_s)
        try:
            gate.check_embedder(app.state.engine.embedder.name, app.state.engine.embedder.dim)
        except GqaError as exc:  # serve anyway: /healthz and the answers say what to do
            log.warning("%s", exc)
        yield
        app.state.jobs.wait(timeout=svc.job_timeout_s)
        gate.close()
        lock.release()

    app = FastAPI(title="Grounded QA", version="0.2.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings, app.state.service_settings, app.state.keys = settings, svc, keys
    app.state.limiter = RateLimiter(svc.rate_limit_per_minute)
    app.state.auth_failures = RateLimiter(
        svc.auth_failures_per_minute, what="too many failed API keys from this address"
    )
    upload_bytes = int(svc.max_upload_mb * 1024 * 1024)
    app.add_middleware(
        BodyLimit,
        limit_for=lambda path: (
            upload_bytes if path.startswith("/v1/admin/uploads/") else svc.max_request_bytes
        ),
    )
    _error_handlers(app, svc)
    app.include_router(chat.router)
    app.include_router(admin.router)

    @app.post(
        "/v1/answer",
        response_model=AnswerOut,
        response_model_exclude_unset=True,  # `passages` only when asked for
        responses=error_docs(400, 401, 422, 429, 503),
    )
    def answer(req: AnswerRequest, request: Request, who: Caller) -> AnswerOut:
        question = checked_question(req.question, svc.max_question_chars)
        result = ask(request.app.state.engine, question, who)
        out = AnswerOut(
            answer=result.text,
            refused=result.refused,
            reason=result.reason,
            message=result.message,
            citations=[CitationOut.of(c) for c in result.citations],
            mode=result.mode,
            related=[RelatedOut(**r.__dict__) for r in related(result, question, who)],
        )
        if req.include_passages:  # retrieval filtered by groups; `ask` checked them again
            out.passages = [
                PassageOut(doc_id=p.chunk.doc_id, text=p.chunk.text, score=round(p.score, 6))
                for p in result.passages
                if who.may_read(p.chunk.acl)
            ]
        return out

    @app.get(
        "/v1/documents/{doc_id:path}",
        response_model=DocumentOut,
        responses=error_docs(401, 404, 429, 503),
    )
    def document(doc_id: str, request: Request, who: Caller) -> DocumentOut:
        """A document's stored text (citations index into it); 404 when absent or not yours."""
        doc = visible_document(request.app.state.store, doc_id, who)
        if doc is None:
            raise HTTPException(404, f"document {doc_id!r} not found")
        return DocumentOut(doc_id=doc.doc_id, source=doc.source, title=doc.title, text=doc.text)

    @app.get("/healthz", responses={503: {"description": "store unreachable or empty"}})
    def healthz(request: Request) -> JSONResponse:
        st: StoreGate = request.app.state.store
        retry = {"Retry-After": str(svc.retry_after_s)}
        missing = _embedded_store_missing(settings) if store is None else None
        if missing:  # an open store can keep answering from memory after its folder is gone
            return JSONResponse(
                {"status": "unavailable", "detail": missing}, status_code=503, headers=retry
            )
        try:
            ready = st.ready()
            points = st.count_chunks() if ready else 0
        except Exception as exc:  # any store failure is "not healthy", never a 500
            down = {"status": "unavailable", "detail": str(exc)}
            return JSONResponse(down, status_code=503, headers=retry)
        body: dict[str, Any] = {
            "status": "ok" if ready else "empty",
            "collection": st.chunks,
            "collection_present": ready,
            "points": points,
        }
        return JSONResponse(
            body, status_code=200 if ready else 503, headers=None if ready else retry
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _embedded_store_missing(settings: Settings) -> str | None:
    """Why the embedded store's folder cannot serve (gone or unreadable), or None when it can
    or the store is a Qdrant server."""
    if settings.qdrant_url:
        return None
    path = Path(settings.store_path)
    if not path.is_dir():
        return f'store folder {path} is missing - run "python -m ingest <dir>" to rebuild it'
    if not os.access(path, os.R_OK | os.X_OK):
        return f"store folder {path} is not readable by this process - fix its permissions"
    return None


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec, with the errors every route can answer documented as `ErrorOut`
    (FastAPI would document 422 as its own validation body, which this app never sends)."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorOut"] = error_schema
    for path, item in spec.get("paths", {}).items():
        for op in item.values():
            statuses = {"422"}
            if "requestBody" in op:
                statuses |= {"400", "413"}
            if op.get("security"):
                statuses |= {"401", "429"}
            if path.startswith("/v1/admin"):
                statuses.add("403")
            for status in statuses:
                desc = op["responses"].get(status, {}).get("description", "error")
                op["responses"][status] = {
                    "description": desc if status != "422" else "invalid request",
                    "content": {"application/json": {"schema": ref}},
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = spec
    return spec


def _error_handlers(app: FastAPI, svc: ServiceSettings) -> None:
    """Every error leaves as `service.responses.ErrorOut` JSON; no traceback reaches a client."""

    @app.exception_handler(GqaError)
    async def domain_error(request: Request, exc: GqaError) -> Response:
        unavailable = isinstance(exc, StoreUnavailable | CollectionMissing | EmbedderMismatch)
        if unavailable:
            headers = {"Retry-After": str(svc.retry_after_s)}
            return error_response(503, str(exc), type(exc).__name__, headers)
        return error_response(400, str(exc), type(exc).__name__)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        code = {404: "not_found", 409: "conflict", 413: "too_large"}.get(exc.status_code)
        return error_response(exc.status_code, str(exc.detail), code, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "request body is not valid JSON", "invalid_json")
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors]
        first = errors[0].get("loc", ()) if errors else ()
        param = ".".join(str(p) for p in first) or None
        return error_response(422, "; ".join(parts[:5]), "invalid_request", param=param)

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        code = "invalid_api_key" if exc.status == 401 else "admin_required"
        return error_response(exc.status, str(exc), code, headers)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        return error_response(429, str(exc), "rate_limit_exceeded", headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error - see the service log", "internal_error")
