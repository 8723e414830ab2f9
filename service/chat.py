"""OpenAI-compatible chat: `POST /v1/chat/completions` (JSON or SSE stream) and `GET /v1/models`.

The assistant message's `content` is the answer with its markers `[n]` (or, for a refusal, the
refusal's explanation). Extensions on the message, which OpenAI clients keep as extra fields:
- `citations`: one per marker number: doc_id, source, title, quote, start, end (the quote is
  exactly the document's text[start:end]), page, score, and `marker_start`/`marker_end`, the
  offsets of its marker `[n]` in `content`;
- `annotations`: OpenAI-style `url_citation`s over the same markers (url `/v1/documents/<id>`);
- `grounding`: `refused`, `reason` (no_evidence, evidence_does_not_cover_question, …), `mode`,
  `question`, the question retrieval used (follow-ups are merged with the previous turn), and,
  under a refusal for evidence that does not answer, `related`: up to three passages the caller
  may read, related but not an answer (doc_id, source, title, quote, start, end, page).
When streaming, the content comes in pieces and the last chunk's delta carries `citations`,
`annotations` and `grounding`, with `finish_reason: "stop"`; then `data: [DONE]`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import quote as urlquote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from core.records import Answer, Citation
from service.access import Related, ask, related
from service.auth import Caller
from service.config import ServiceSettings
from service.followup import retrieval_question
from service.responses import CitationOut, RelatedOut, error_docs

router = APIRouter(tags=["chat (OpenAI-compatible)"])
PIECE_CHARS = 24  # characters of content per streamed chunk
_MARKER = re.compile(r"\[\d+\]")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """Chat Completions request; sampling options are accepted and ignored (answers are quotes)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "grounded-qa",
                    "messages": [{"role": "user", "content": "年假有多少天？"}],
                }
            ]
        },
    )
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False


class ChatCitationOut(CitationOut):
    marker_start: int = Field(description="Offset of the marker [n] in the message content")
    marker_end: int


class UrlCitation(BaseModel):
    start_index: int
    end_index: int
    url: str
    title: str


class Annotation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class Grounding(BaseModel):
    refused: bool
    reason: str | None = Field(
        description="Refusal code: no_evidence, evidence_does_not_cover_question, low_support, …"
    )
    mode: str = Field(description="extractive, or generative (LLM, checked)")
    question: str = Field(description="The question retrieval used (follow-ups merged)")
    related: list[RelatedOut] = Field(
        default_factory=list,
        description="Under a refusal: the closest passages you may read, related but not an "
        "answer (none when nothing was found)",
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None
    annotations: list[Annotation]
    citations: list[ChatCitationOut]
    grounding: Grounding


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "grounded-qa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


@router.get("/v1/models", response_model=ModelList, responses=error_docs(401, 429))
def models(request: Request, who: Caller) -> ModelList:
    """The one model this service answers as."""
    svc: ServiceSettings = request.app.state.service_settings
    return ModelList(data=[Model(id=svc.model_name)])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream"},
        **error_docs(400, 401, 404, 413, 422, 429, 503),
    },
)
def chat_completions(req: ChatRequest, request: Request, who: Caller) -> Any:
    """Answer the last user message (follow-ups use the previous turns) with cited quotes."""
    svc: ServiceSettings = request.app.state.service_settings
    if req.model != svc.model_name:
        raise HTTPException(404, f"model {req.model!r} not found - use {svc.model_name!r}")
    question = _question(req.messages, svc.max_question_chars)
    answer = ask(request.app.state.engine, question, who)
    completion = completion_of(answer, question, svc.model_name, related(answer, question, who))
    if not req.stream:
        return completion
    return StreamingResponse(
        stream(completion), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _question(messages: Sequence[ChatMessage], max_chars: int) -> str:
    turns = [m.text().strip() for m in messages if m.role == "user"]
    if not turns:
        raise HTTPException(400, "messages must contain a user message with the question")
    if not turns[-1]:
        raise HTTPException(400, "the last user message is empty - ask a question")
    if len(turns[-1]) > max_chars:
        raise HTTPException(
            400, f"question is {len(turns[-1])} characters, more than the {max_chars} allowed"
        )
    return retrieval_question([t for t in turns if t])[: max_chars * 2]


def completion_of(
    answer: Answer, question: str, model: str, near: Sequence[Related] = ()
) -> ChatCompletion:
    """The chat completion of an answer or refusal (`near`: its related passages)."""
    content = answer.text if answer.text is not None else (answer.message or "")
    offsets = marker_offsets(content, answer.citations)
    citations = [
        ChatCitationOut(**c.__dict__, marker_start=s, marker_end=e)
        for c, (s, e) in zip(answer.citations, offsets, strict=True)
    ]
    annotations = [
        Annotation(
            url_citation=UrlCitation(
                start_index=c.marker_start,
                end_index=c.marker_end,
                url=f"/v1/documents/{urlquote(c.doc_id)}#{c.start}-{c.end}",
                title=c.title or c.source,
            )
        )
        for c in citations
        if c.marker_start >= 0
    ]
    message = AssistantMessage(
        content=content,
        annotations=annotations,
        citations=citations,
        grounding=Grounding(
            refused=answer.refused,
            reason=answer.reason,
            mode=answer.mode,
            question=question,
            related=[RelatedOut(**r.__dict__) for r in near],
        ),
    )
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[Choice(message=message)],
    )


def marker_offsets(content: str, citations: Sequence[Citation]) -> list[tuple[int, int]]:
    """(start, end) of each citation's marker `[n]` in `content`, looked for after its quote
    (a quote may itself contain text like "[1]"); (-1, -1) when the marker is absent."""
    out, cursor = [], 0
    for c in citations:
        marker = f"[{c.n}]"
        at = content.find(c.quote, cursor)
        found = content.find(marker, at + len(c.quote) if at >= 0 else cursor)
        if found < 0:
            found = content.find(marker)
        out.append((found, found + len(marker)) if found >= 0 else (-1, -1))
        cursor = found + len(marker) if found >= 0 else cursor
    return out


def stream(completion: ChatCompletion) -> Iterator[str]:
    """SSE events of a completion: the role, the content in pieces, then the citations."""
    message = completion.choices[0].message
    head: dict[str, Any] = {"id": completion.id, "object": "chat.completion.chunk"}
    head |= {"created": completion.created, "model": completion.model}

    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return f"data: {json.dumps(head | {'choices': [choice]}, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in pieces(message.content, PIECE_CHARS):
        yield event({"content": piece})
    final = message.model_dump(include={"annotations", "citations", "grounding"})
    yield event(final, "stop")
    yield "data: [DONE]\n\n"


def pieces(text: str, size: int) -> Iterator[str]:
    """`text` in pieces of about `size` characters; a marker [n] is never cut in two."""
    markers = [m.span() for m in _MARKER.finditer(text)]
    i = 0
    while i < len(text):
        j = min(len(text), i + size)
        j = next((e for s, e in markers if s < j < e), j)
        yield text[i:j]
        i = j
