"""`StoreGate`: the service's one way to its store, so the store can fail and come back, and an
admin job can write while answers read.

The answer engine and the handlers hold the gate, never the store. The gate:
- opens the store lazily and again after a failure (at most once per `retry_s`), so the service
  starts without its store and recovers by itself when the store comes back;
- turns transport errors of a Qdrant server into `StoreUnavailable` (answered 503 + Retry-After);
- lets an admin job write through it while answers read (one writer owns the embedded store,
  which is locked to one process): a write call waits for the reads in flight and runs alone,
  reads wait for the write in progress (one store call, never a whole job), so a reader sees a
  document before or after its write, never half of it;
- can `release()` the store and `reopen()` it (maintenance, tests): release waits for calls in
  flight; calls during the release raise `StoreUnavailable`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx
import numpy as np
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from core.errors import StoreUnavailable
from core.records import Passage, SourceDocument
from core.sparse import SparseTerms
from core.store import DocumentWrite, Store

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreGate:
    """A `Store` that delegates to the current store, or raises `StoreUnavailable`."""

    def __init__(
        self,
        chunks: str,
        opener: Callable[[], Store] | None = None,
        store: Store | None = None,
        retry_s: float = 1.0,
    ) -> None:
        if opener is None and store is None:
            raise ValueError("StoreGate needs a store or an opener")
        self.chunks = chunks
        self._opener, self._store, self._owned = opener, store, store is None
        self._retry_s, self._next_try = retry_s, 0.0
        self._last_error = "the store could not be opened"
        self._released: str | None = None  # why, while released
        self._in_flight = 0
        self._writing = False  # a write call runs (alone)
        self._writers_waiting = 0  # new reads wait behind them, so writes are not starved
        self._cond = threading.Condition()

    @property
    def releasable(self) -> bool:
        """Whether the gate opened the store itself (an injected store is the caller's)."""
        return self._owned

    def _acquire(self, write: bool) -> Store:
        with self._cond:
            if write:
                self._writers_waiting += 1
                try:
                    self._cond.wait_for(lambda: not self._writing and self._in_flight == 0)
                finally:
                    self._writers_waiting -= 1
            else:
                self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            if self._released is not None:
                raise StoreUnavailable(self._released)
            if self._store is None:
                self._open_locked()
            assert self._store is not None
            self._in_flight += 1
            self._writing = write
            return self._store

    def _open_locked(self) -> None:
        assert self._opener is not None
        now = time.monotonic()
        if now < self._next_try:  # failed a moment ago: say why again without retrying yet
            raise StoreUnavailable(self._last_error)
        try:
            self._store = self._opener()
            log.info("store opened")
        except Exception as exc:
            self._next_try = now + self._retry_s
            self._last_error = (
                str(exc)
                if isinstance(exc, StoreUnavailable)
                else f"the store could not be opened: {exc}"
            )
            log.warning("store unavailable: %s", self._last_error)
            raise StoreUnavailable(self._last_error) from exc

    def _done(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._writing = False
            self._cond.notify_all()

    def _call(self, fn: Callable[[Store], T], write: bool = False) -> T:
        store = self._acquire(write)
        try:
            return fn(store)
        except (ResponseHandlingException, httpx.TransportError, ConnectionError) as exc:
            raise StoreUnavailable(f"the store is unreachable: {exc}") from exc
        except UnexpectedResponse as exc:
            if exc.status_code is not None and exc.status_code >= 500:
                raise StoreUnavailable(f"the store failed: {exc}") from exc
            raise
        finally:
            self._done()

    # --- releasing the store (maintenance, tests) -----------------------------------------
    def release(self, why: str, timeout: float = 30.0) -> None:
        """Close the store once calls in flight finish; until `reopen`, calls raise
        StoreUnavailable(why). Only for a store the gate opened itself."""
        if not self._owned:
            raise ValueError("an injected store is not the gate's to release")
        with self._cond:
            self._released = why
            if not self._cond.wait_for(lambda: self._in_flight == 0, timeout=timeout):
                self._released = None
                raise StoreUnavailable(f"store still busy after {timeout:.0f} s - try again")
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def reopen(self) -> None:
        """Let calls through again; the store is opened by the next call."""
        with self._cond:
            self._released, self._next_try = None, 0.0

    def close(self) -> None:
        with self._cond:
            store, self._store = self._store, None
        if store is not None and self._owned:
            store.close()

    # --- the Store contract -----------------------------------------------------------------
    def ensure_schema(self, embedder_name: str, dim: int) -> None:
        self._call(lambda s: s.ensure_schema(embedder_name, dim), write=True)

    def check_embedder(self, embedder_name: str, dim: int) -> None:
        self._call(lambda s: s.check_embedder(embedder_name, dim))

    def embedder_state(self) -> dict[str, Any]:
        return self._call(lambda s: s.embedder_state())

    def reset_chunks(self, embedder_name: str, dim: int) -> None:
        self._call(lambda s: s.reset_chunks(embedder_name, dim), write=True)

    def record_embedder(self, embedder_name: str, dim: int) -> None:
        self._call(lambda s: s.record_embedder(embedder_name, dim), write=True)

    def write_documents(self, writes: Sequence[DocumentWrite]) -> None:
        self._call(lambda s: s.write_documents(writes), write=True)

    def delete_document(self, doc_id: str) -> None:
        self._call(lambda s: s.delete_document(doc_id), write=True)

    def mark_sync(self, running: bool) -> bool:
        return self._call(lambda s: s.mark_sync(running), write=True)

    def sweep_orphans(self) -> int:
        return self._call(lambda s: s.sweep_orphans(), write=True)

    def document_states(self) -> dict[str, SourceDocument]:
        return self._call(lambda s: s.document_states())

    def get_document(self, doc_id: str) -> SourceDocument | None:
        return self._call(lambda s: s.get_document(doc_id))

    def chunk_ids(self, doc_id: str | None = None) -> list[str]:
        return self._call(lambda s: s.chunk_ids(doc_id))

    def count_chunks(self) -> int:
        return self._call(lambda s: s.count_chunks())

    def ready(self) -> bool:
        return self._call(lambda s: s.ready())

    def search(
        self,
        dense: np.ndarray,
        sparse: SparseTerms,
        *,
        limit: int,
        pool: int,
        groups: Sequence[str] | None = None,
    ) -> list[Passage]:
        return self._call(lambda s: s.search(dense, sparse, limit=limit, pool=pool, groups=groups))
