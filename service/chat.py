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
`annotations` and `grounding`, with `finish_reason: "stop"`; with `stream_options.include_usage`
a chunk with no choices and the `usage` follows (as OpenAI sends it); then `data: [DONE]`.
`usage` counts approximate tokens (`approx_tokens`), not a real tokenizer's. One answer per
request: `n` above 1 is a 400; so is a `tool_choice` that demands a tool call ("required" or a
named function), since the answer is quotes, never a tool call ("auto" and "none" are accepted).
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
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from core.records import Answer, Citation
from core.text import clean_question
from engine.followup import retrieval_question
from service.access import Related, ask, related
from service.auth import Caller
from service.config import ServiceSettings
from service.limits import checked_question
from service.responses import CitationOut, RelatedOut, error_docs

router = APIRouter(tags=["chat (OpenAI-compatible)"])
PIECE_CHARS = 24  # characters of content per streamed chunk
_MARKER = re.compile(r"\[\d+\]")
# Approximate tokens: each CJK character, each run of other letters or digits, each other symbol
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+|[^\\w\\s]|_")


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


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool | None = Field(
        None, description="Send a last chunk with `usage` (and no choices) before [DONE]"
    )


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
    stream: StrictBool | None = False
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(None, description="Choices to return: only 1 (400 otherwise)")
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = Field(
        None, description='Only "none" or "auto": the answer is quotes, never a tool call'
    )


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


class Usage(BaseModel):
    """Approximate token counts (`approx_tokens`: each CJK character, each run of other
    letters or digits and each other symbol counts as one), not a real tokenizer's."""

    prompt_tokens: int = Field(description="Approximate tokens of the request's messages")
    completion_tokens: int = Field(description="Approximate tokens of the message content")
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


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
    _supported(req)
    question = _question(req.messages, svc.max_question_chars)
    answer = ask(request.app.state.engine, question, who)
    completion = completion_of(
        answer,
        question,
        svc.model_name,
        related(answer, question, who),
        prompt_tokens=sum(approx_tokens(m.text()) for m in req.messages),
    )
    if not req.stream:
        return completion
    usage = bool(req.stream_options and req.stream_options.include_usage)
    return StreamingResponse(
        stream(completion, include_usage=usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


def _supported(req: ChatRequest) -> None:
    """400 for options this model cannot honour, rather than silently ignoring them."""
    if req.n is not None and req.n != 1:
        raise HTTPException(
            400, f"n={req.n} is not supported - this model gives one grounded answer; send n=1"
        )
    if req.tool_choice is not None and req.tool_choice not in ("none", "auto"):
        raise HTTPException(
            400,
            f"tool_choice {req.tool_choice!r} is not supported - this model answers with quoted "
            'evidence and never calls tools; send "auto" or "none", or leave it out',
        )


def _question(messages: Sequence[ChatMessage], max_chars: int) -> str:
    """The question retrieval uses: the last user turn, checked, merged with the earlier ones
    when it is a follow-up (every turn cleaned like `/v1/answer`'s question first)."""
    turns = [m.text() for m in messages if m.role == "user"]
    if not turns:
        raise HTTPException(400, "messages must contain a user message with the question")
    last = checked_question(turns[-1], max_chars)
    try:
        earlier = [clean_question(t) for t in turns[:-1]]
    except ValueError as exc:
        raise HTTPException(400, f"an earlier user message: {exc}") from exc
    return retrieval_question([t for t in earlier if t] + [last])[: max_chars * 2]


def approx_tokens(text: str) -> int:
    """An approximate token count: each CJK character, each run of other letters or digits,
    and each other symbol count as one (real tokenizers differ; this is for usage only)."""
    return len(_TOKEN.findall(text))


def completion_of(
    answer: Answer,
    question: str,
    model: str,
    near: Sequence[Related] = (),
    prompt_tokens: int = 0,
) -> ChatCompletion:
    """The chat completion of an answer or refusal (`near`: its related passages;
    `prompt_tokens`: the request's approximate tokens, for `usage`)."""
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
        usage=Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=(done := approx_tokens(content)),
            total_tokens=prompt_tokens + done,
        ),
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


def stream(completion: ChatCompletion, include_usage: bool = False) -> Iterator[str]:
    """SSE events of a completion: the role, the content in pieces, then the citations; with
    `include_usage`, every chunk has `usage: null` and a last one, with no choices, the usage."""
    message = completion.choices[0].message
    head: dict[str, Any] = {"id": completion.id, "object": "chat.completion.chunk"}
    head |= {"created": completion.created, "model": completion.model}
    if include_usage:
        head["usage"] = None

    def data(body: dict[str, Any]) -> str:
        return f"data: {json.dumps(head | body, ensure_ascii=False)}\n\n"

    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        return data({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield event({"role": "assistant", "content": ""})
    for piece in pieces(message.content, PIECE_CHARS):
        yield event({"content": piece})
    final = message.model_dump(include={"annotations", "citations", "grounding"})
    yield event(final, "stop")
    if include_usage:
        yield data({"choices": [], "usage": completion.usage.model_dump()})
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
