"""HTTP API: POST /v1/answer, GET /v1/documents/{doc_id}, GET /healthz."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core.embedders import Embedder, make_embedder
from core.errors import CollectionMissing, EmbedderMismatch, GqaError, StoreUnavailable
from core.settings import Settings
from core.store import Store, open_store
from service.answering import AnswerEngine
from service.generative import LlmClient

log = logging.getLogger(__name__)


class AnswerRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000, examples=["年假有多少天？"])


class CitationOut(BaseModel):
    n: int
    doc_id: str
    source: str
    title: str
    quote: str = Field(description="Exactly text[start:end] of the document's stored text")
    start: int
    end: int
    score: float
    page: int | None = Field(None, description="PDF page of the quote's start")


class AnswerOut(BaseModel):
    answer: str | None = Field(description="Verbatim quotes, each followed by its marker [n]")
    refused: bool
    reason: str | None = Field(
        description="Refusal code: no_evidence, evidence_does_not_cover_question, low_support"
    )
    message: str | None = Field(description="Refusal explanation in the question's script")
    citations: list[CitationOut]
    mode: str = Field("extractive", description="extractive, or generative (LLM, checked)")


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
) -> FastAPI:
    """The service. Tests pass real local-mode components; otherwise they come from settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        app.state.store = store or open_store(settings)
        app.state.engine = AnswerEngine(
            settings, app.state.store, embedder or make_embedder(settings), llm
        )
        try:
            app.state.engine.store.check_embedder(
                app.state.engine.embedder.name, app.state.engine.embedder.dim
            )
        except GqaError as exc:  # serve anyway: /healthz and /v1/answer say what to do
            log.warning("%s", exc)
        yield
        if own:
            app.state.store.close()

    app = FastAPI(title="Grounded QA", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(GqaError)
    async def domain_error(request: Request, exc: GqaError) -> JSONResponse:
        status = (
            503 if isinstance(exc, StoreUnavailable | CollectionMissing | EmbedderMismatch) else 400
        )
        headers = {"Retry-After": "10"} if status == 503 else None
        return JSONResponse(
            {"error": type(exc).__name__, "detail": str(exc)}, status_code=status, headers=headers
        )

    @app.post("/v1/answer", response_model=AnswerOut)
    def answer(req: AnswerRequest, request: Request) -> AnswerOut:
        engine: AnswerEngine = request.app.state.engine
        engine.store.check_embedder(engine.embedder.name, engine.embedder.dim)
        result = engine.answer(req.question)
        return AnswerOut(
            answer=result.text,
            refused=result.refused,
            reason=result.reason,
            message=result.message,
            citations=[CitationOut(**c.__dict__) for c in result.citations],
            mode=result.mode,
        )

    @app.get("/v1/documents/{doc_id:path}", response_model=DocumentOut)
    def document(doc_id: str, request: Request) -> DocumentOut:
        doc = request.app.state.store.get_document(doc_id)
        if doc is None:
            raise HTTPException(404, f"document {doc_id!r} not found")
        return DocumentOut(doc_id=doc.doc_id, source=doc.source, title=doc.title, text=doc.text)

    @app.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        st: Store = request.app.state.store
        try:
            ready = st.ready()
            points = st.count_chunks() if ready else 0
        except Exception as exc:  # any store failure is "not healthy", never a 500
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
        body = {
            "status": "ok" if ready else "empty",
            "collection": st.chunks,
            "collection_present": ready,
            "points": points,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    return app
