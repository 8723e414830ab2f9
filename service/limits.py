"""Request limits: per-key rate limit (token bucket), request body size (ASGI middleware), and
the question every answer route accepts (`checked_question`)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.text import clean_question

SWEEP_EVERY = 1024  # requests between sweeps of refilled buckets (memory stays bounded)


class RateLimited(Exception):
    """Too many requests from one key or client address; `retry_after` seconds until the next
    is allowed."""

    def __init__(self, retry_after: int, what: str = "rate limit exceeded") -> None:
        super().__init__(f"{what} - retry after {retry_after} s")
        self.retry_after = retry_after


class RateLimiter:
    """`per_minute` requests per key, in bursts of up to `per_minute` (0 = unlimited); `what`
    opens the message of its 429."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        what: str = "rate limit exceeded",
    ) -> None:
        self.per_minute, self.clock, self.what = per_minute, clock, what
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at), if not full
        self._lock = threading.Lock()
        self._takes = 0

    def hit(self, key: str) -> None:
        """Take one request from `key`'s bucket. Raises RateLimited when it is empty."""
        self._take(key, 1.0)

    def check(self, key: str) -> None:
        """Raise RateLimited when `key`'s bucket is empty, taking nothing from it."""
        self._take(key, 0.0)

    def _take(self, key: str, cost: float) -> None:
        if self.per_minute <= 0:
            return
        rate, full = self.per_minute / 60.0, float(self.per_minute)
        with self._lock:
            now = self.clock()
            if key not in self._buckets and cost == 0.0:
                return  # a full bucket: nothing to remember (a check from every client)
            tokens, at = self._buckets.get(key, (full, now))
            tokens = min(full, tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1.0 - tokens) / rate)), self.what)
            if tokens - cost >= full:
                self._buckets.pop(key, None)  # refilled: as if never seen
            else:
                self._buckets[key] = (tokens - cost, now)
            self._takes += 1
            if self._takes % SWEEP_EVERY == 0:  # forget buckets that have refilled since
                self._buckets = {
                    k: (t, a) for k, (t, a) in self._buckets.items() if t + (now - a) * rate < full
                }


def checked_question(text: str, max_chars: int) -> str:
    """The question as answered (`core.text.clean_question`: no control or zero-width
    characters, ends stripped), for both answer routes and every turn a follow-up merges.

    Raises HTTPException 400 when it is not Unicode, is empty after cleaning, or is longer than
    `max_chars` (GQA_MAX_QUESTION_CHARS).
    """
    try:
        question = clean_question(text)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if not question:
        raise HTTPException(400, "the question is empty - ask a question")
    if len(question) > max_chars:
        raise HTTPException(
            400,
            f"question is {len(question)} characters, more than the {max_chars} allowed "
            "(GQA_MAX_QUESTION_CHARS)",
        )
    return question


class BodyLimit:
    """Answer 413 (JSON) to a request body larger than its limit, whether or not it says its
    length up front; `limit_for(path)` picks the limit (uploads may be larger)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


class BodyTooLarge(HTTPException):
    """Raised while reading a body over its limit; FastAPI passes HTTPExceptions on (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return (
        f"request body larger than {limit} bytes - send less "
        "(limits: GQA_MAX_REQUEST_BYTES, GQA_MAX_UPLOAD_MB)"
    )


async def _too_large(send: Send, limit: int) -> None:
    message = too_large_message(limit)
    body = json.dumps(
        {
            "error": {"message": message, "type": "invalid_request_error", "code": "too_large"},
            "detail": message,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
