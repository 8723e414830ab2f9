"""Shapes shared by the HTTP API's responses: quoted spans (citations and related passages) and
the error body, one shape for every 4xx/5xx, the one OpenAI clients parse
(`{"error": {"message", "type", "code"}}`), plus `detail` (the message) for plain clients."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core.records import Citation


class SpanOut(BaseModel):
    """A quoted span of a stored document."""

    doc_id: str
    source: str
    title: str
    quote: str = Field(description="Exactly text[start:end] of the document's stored text")
    start: int
    end: int
    page: int | None = Field(None, description="PDF page of the quote's start")


class CitationOut(SpanOut):
    n: int = Field(description="The number in its marker [n]")
    score: float

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(**c.__dict__)


class RelatedOut(SpanOut):
    """Under a refusal: a passage on the topic that does not answer the question."""


class ErrorInfo(BaseModel):
    message: str = Field(description="What went wrong and how to fix it")
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, …")
    code: str | None = Field(None, description="Machine-readable code")
    param: str | None = None


class ErrorOut(BaseModel):
    error: ErrorInfo
    detail: str = Field(description="The same message")


_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    """The JSON error response every handler and exception mapper returns."""
    info = ErrorInfo(message=message, type=_TYPES.get(status, "api_error"), code=code, param=param)
    body = ErrorOut(error=info, detail=message)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for these error statuses (all share `ErrorOut`)."""
    return {s: {"model": ErrorOut, "description": _TYPES.get(s, "error")} for s in statuses}
