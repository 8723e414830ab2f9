"""The Qdrant schema and every read/write of it, for the embedded store (local mode) and servers.

Two collections: COLLECTION holds chunks (named vectors "dense" + sparse "bm25" with the IDF
modifier); COLLECTION_documents holds each document's full text (what citations index into),
its fingerprint and ACL, and one meta record naming the embedder the index was built with.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from qdrant_client import QdrantClient, models

from core.errors import CollectionMissing, EmbedderMismatch, StoreUnavailable
from core.records import Chunk, Passage, SourceDocument, point_id
from core.settings import Settings
from core.sparse import SparseTerms

log = logging.getLogger(__name__)

DENSE, SPARSE = "dense", "bm25"
_META_ID = point_id("__meta__")


def open_client(settings: Settings) -> QdrantClient:
    """A client for the configured server, or the embedded store under the data dir."""
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantClient(url=settings.qdrant_url, api_key=key, timeout=10)
    path = Path(settings.store_path)
    path.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(path))
    except RuntimeError as exc:  # local mode locks its folder to one process
        raise StoreUnavailable(
            f"embedded store {path} is in use by another process ({exc}); stop the service "
            "before ingesting into the embedded store, or run a Qdrant server (GQA_QDRANT_URL)"
        ) from exc


@dataclass(frozen=True)
class DocumentWrite:
    """One document to (re)write: its chunks with their vectors, in chunk order.
    `replaces` is True when an indexed version may have left other chunks."""

    doc: SourceDocument
    chunks: tuple[Chunk, ...]
    dense: np.ndarray
    sparse: tuple[SparseTerms, ...]
    replaces: bool = True


UPSERT_SLICE = 512  # chunks per upsert: a huge document's points are never all built at once


def chunk_rows(
    writes: Sequence[DocumentWrite], n: int | None = None
) -> Iterator[list[tuple[DocumentWrite, int]]]:
    """(write, chunk index) pairs of every chunk of `writes`, `n` (UPSERT_SLICE) at a time."""
    n = n or UPSERT_SLICE
    rows: list[tuple[DocumentWrite, int]] = []
    for w in writes:
        for i in range(len(w.chunks)):
            rows.append((w, i))
            if len(rows) == n:
                yield rows
                rows = []
    if rows:
        yield rows


def open_store(settings: Settings) -> Store:
    """The store the settings name: a Qdrant server when GQA_QDRANT_URL is set; otherwise the
    embedded engine GQA_STORE_ENGINE picks (Qdrant Edge, or qdrant-client's local mode)."""
    if settings.store_engine == "edge" and not settings.qdrant_url:
        from core.edge_store import EdgeStore  # local import: core.edge_store imports this module

        return EdgeStore.open(Path(settings.store_path), settings.collection)
    return QdrantStore.from_settings(settings)


def embedder_mismatch(
    collection: str, built: dict[str, Any], embedder_name: str, dim: int
) -> EmbedderMismatch | None:
    """Why an index whose meta record is `built` cannot be read with this embedder, or None.

    The meta record names the embedder its vectors came from (`embedder`, `dim`) and, while a
    re-embed is under way or was stopped midway, the embedder it was writing (`reembedding`):
    such an index holds no complete set of vectors from anyone, so every reader refuses it
    until `python -m ingest` (or an admin job) finishes the re-embed.
    """
    fix = "run 'python -m ingest <folder>' (or an admin job: POST /v1/admin/jobs)"
    if built.get("reembedding"):
        return EmbedderMismatch(
            f"collection {collection!r} is being re-embedded with {built['reembedding']} "
            f"(or a re-embed stopped midway) - {fix} to finish it"
        )
    if built.get("embedder") != embedder_name or built.get("dim") != dim:
        return EmbedderMismatch(
            f"collection {collection!r} was embedded with {built.get('embedder')} (dim "
            f"{built.get('dim')}), the configured embedder is {embedder_name} (dim {dim}) - "
            f"{fix} to re-embed it once, or set GQA_EMBEDDER back"
        )
    return None


class Store(Protocol):
    """What ingest, service and eval need from an index; `QdrantStore` (qdrant-client: local
    mode or a server) implements it, and other engines can join behind the same contract."""

    chunks: str

    def close(self) -> None: ...
    def ensure_schema(self, embedder_name: str, dim: int) -> None: ...
    def check_embedder(self, embedder_name: str, dim: int) -> None: ...
    def embedder_state(self) -> dict[str, Any]: ...
    def reset_chunks(self, embedder_name: str, dim: int) -> None: ...
    def record_embedder(self, embedder_name: str, dim: int) -> None: ...
    def write_documents(self, writes: Sequence[DocumentWrite]) -> None: ...
    def delete_document(self, doc_id: str) -> None: ...
    def mark_sync(self, running: bool) -> bool: ...
    def sweep_orphans(self) -> int: ...
    def document_states(self) -> dict[str, SourceDocument]: ...
    def get_document(self, doc_id: str) -> SourceDocument | None: ...
    def chunk_ids(self, doc_id: str | None = None) -> list[str]: ...
    def count_chunks(self) -> int: ...
    def ready(self) -> bool: ...
    def search(
        self,
        dense: np.ndarray,
        sparse: SparseTerms,
        *,
        limit: int,
        pool: int,
        groups: Sequence[str] | None = None,
    ) -> list[Passage]: ...


class QdrantStore:
    """Chunks and documents in Qdrant."""

    def __init__(self, client: QdrantClient, collection: str) -> None:
        self.client = client
        self.chunks = collection
        self.documents = f"{collection}_documents"

    @classmethod
    def from_settings(cls, settings: Settings) -> QdrantStore:
        return cls(open_client(settings), settings.collection)

    def close(self) -> None:
        self.client.close()

    # --- schema -----------------------------------------------------------------------------
    def ensure_schema(self, embedder_name: str, dim: int) -> None:
        """Create both collections if absent; raise EmbedderMismatch when the index was built
        with another embedder (the ingest then re-embeds it: `ingest.pipeline`)."""
        if not self.client.collection_exists(self.chunks):
            self._create_chunks(dim)
        if not self.client.collection_exists(self.documents):
            self.client.create_collection(self.documents, vectors_config={})
            meta = {"kind": "meta", "embedder": embedder_name, "dim": dim}
            self.client.upsert(
                self.documents, [models.PointStruct(id=_META_ID, vector={}, payload=meta)]
            )
        self.check_embedder(embedder_name, dim)

    def _create_chunks(self, dim: int) -> None:
        self.client.create_collection(
            self.chunks,
            vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        with warnings.catch_warnings():  # local mode warns that it ignores payload indexes
            warnings.simplefilter("ignore", UserWarning)
            for key in ("doc_id", "acl"):  # what every server-side filter uses
                self.client.create_payload_index(self.chunks, key, models.PayloadSchemaType.KEYWORD)

    def check_embedder(self, embedder_name: str, dim: int) -> None:
        """Raise unless the index exists, was built with this embedder, and no re-embed is
        unfinished."""
        for name in (self.chunks, self.documents):
            if not self.client.collection_exists(name):
                raise CollectionMissing(
                    f"collection {name!r} not found - run 'python -m ingest <folder>' first"
                )
        problem = embedder_mismatch(self.chunks, self.embedder_state(), embedder_name, dim)
        if problem is not None:
            raise problem

    def embedder_state(self) -> dict[str, Any]:
        """The meta record: `embedder` and `dim` of the stored vectors, `reembedding` while a
        re-embed is unfinished ({} before the first ingest)."""
        if not self.client.collection_exists(self.documents):
            return {}
        meta = self.client.retrieve(self.documents, [_META_ID])
        return dict(meta[0].payload or {}) if meta else {}

    def reset_chunks(self, embedder_name: str, dim: int) -> None:
        """Start re-embedding into `embedder_name`: mark it in the meta record first, then
        drop and recreate the chunks collection for `dim`, then note that it is empty
        (`chunks_reset`: a re-embed into the same embedder may then be finished rather than
        redone). From the mark on, readers refuse the index (`check_embedder`) until
        `record_embedder`; no old vector survives the drop, so vectors of two embedders never
        meet in one collection."""
        mark = {"reembedding": embedder_name, "chunks_reset": False}
        self.client.set_payload(self.documents, mark, points=[_META_ID], wait=True)
        self.client.delete_collection(self.chunks)
        self._create_chunks(dim)
        # from here on a stopped re-embed into the same embedder can be finished, not redone
        self.client.set_payload(
            self.documents, {"chunks_reset": True}, points=[_META_ID], wait=True
        )

    def record_embedder(self, embedder_name: str, dim: int) -> None:
        """Finish a re-embed: the meta record names the new embedder, the mark is cleared."""
        self.client.set_payload(
            self.documents,
            {"embedder": embedder_name, "dim": dim, "reembedding": None, "chunks_reset": None},
            points=[_META_ID],
            wait=True,
        )

    # --- writes -----------------------------------------------------------------------------
    def write_documents(self, writes: Sequence[DocumentWrite]) -> None:
        """Write documents' chunks, delete their stale chunks, then record the documents.

        The order makes a crash at any point safe: document records (with their fingerprints)
        are written last, so an interrupted write is redone by the next run, and chunk ids are
        deterministic, so redoing it creates no duplicates. Stale chunks are looked for only
        where a document replaces an indexed version (a filtered delete scans the collection
        in local mode); chunks a killed run left for a new document are swept by the next sync.
        """
        for rows in chunk_rows(writes):
            points = [
                models.PointStruct(
                    id=w.chunks[i].chunk_id,
                    vector={
                        DENSE: w.dense[i].tolist(),
                        SPARSE: models.SparseVector(
                            indices=w.sparse[i].indices, values=w.sparse[i].values
                        ),
                    },
                    payload=w.chunks[i].to_payload(),
                )
                for w, i in rows
            ]
            self.client.upsert(self.chunks, points, wait=True)
        for w in writes:
            if w.replaces:
                keep = [c.chunk_id for c in w.chunks]
                stale = models.Filter(
                    must=[_match("doc_id", w.doc.doc_id)],
                    must_not=[models.HasIdCondition(has_id=keep)] if keep else [],
                )
                self.client.delete(self.chunks, models.FilterSelector(filter=stale), wait=True)
        records = [
            models.PointStruct(
                id=point_id("doc", w.doc.doc_id), vector={}, payload=w.doc.to_payload()
            )
            for w in writes
        ]
        if records:
            self.client.upsert(self.documents, records, wait=True)

    def write_document(
        self,
        doc: SourceDocument,
        chunks: Sequence[Chunk],
        dense: np.ndarray,
        sparse: Sequence[SparseTerms],
    ) -> None:
        """Replace one document (see `write_documents`)."""
        self.write_documents(
            [DocumentWrite(doc, tuple(chunks), dense, tuple(sparse), replaces=True)]
        )

    def delete_document(self, doc_id: str) -> None:
        """Remove a document's chunks, then its record (a crash in between leaves the record,
        so the next sync deletes the document again)."""
        self.client.delete(
            self.chunks,
            models.FilterSelector(filter=models.Filter(must=[_match("doc_id", doc_id)])),
            wait=True,
        )
        self.client.delete(
            self.documents, models.PointIdsList(points=[point_id("doc", doc_id)]), wait=True
        )

    def mark_sync(self, running: bool) -> bool:
        """Record that a sync is running (True) or finished (False); return the previous mark.
        A mark still set when a sync starts means the last one was killed."""
        meta = self.client.retrieve(self.documents, [_META_ID])
        before = bool(meta and meta[0].payload and meta[0].payload.get("sync_running"))
        self.client.set_payload(
            self.documents, {"sync_running": running}, points=[_META_ID], wait=True
        )
        return before

    def sweep_orphans(self) -> int:
        """Delete chunks whose document has no record (left by a sync killed mid-write);
        return how many documents' chunks were deleted."""
        known = set(self.document_states())
        seen: set[str] = set()
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.chunks, limit=2048, offset=offset, with_payload=["doc_id"]
            )
            seen |= {str((p.payload or {}).get("doc_id")) for p in points}
            if offset is None:
                break
        orphans = seen - known
        for doc_id in orphans:
            flt = models.Filter(must=[_match("doc_id", doc_id)])
            self.client.delete(self.chunks, models.FilterSelector(filter=flt), wait=True)
        return len(orphans)

    # --- reads ------------------------------------------------------------------------------
    def document_states(self) -> dict[str, SourceDocument]:
        """Every stored document without its text: doc_id -> record (for sync decisions)."""
        return {
            p["doc_id"]: SourceDocument.from_payload(p)
            for p in self._scroll(self.documents, _NOT_META)
        }

    def _scroll(self, collection: str, flt: models.Filter) -> Iterator[dict[str, Any]]:
        offset = None
        while True:
            points, offset = self.client.scroll(
                collection,
                scroll_filter=flt,
                limit=512,
                offset=offset,
                with_payload=models.PayloadSelectorExclude(exclude=["text"]),
            )
            for p in points:
                yield p.payload or {}
            if offset is None:
                return

    def get_document(self, doc_id: str) -> SourceDocument | None:
        """The stored document, or None."""
        got = self.client.retrieve(self.documents, [point_id("doc", doc_id)], with_payload=True)
        return SourceDocument.from_payload(got[0].payload) if got and got[0].payload else None

    def chunk_ids(self, doc_id: str | None = None) -> list[str]:
        """Ids of all chunks (of one document)."""
        flt = models.Filter(must=[_match("doc_id", doc_id)]) if doc_id else None
        ids, offset = [], None
        while True:
            points, offset = self.client.scroll(
                self.chunks, scroll_filter=flt, limit=1024, offset=offset, with_payload=False
            )
            ids += [str(p.id) for p in points]
            if offset is None:
                return ids

    def count_chunks(self) -> int:
        return self.client.count(self.chunks, exact=True).count

    def ready(self) -> bool:
        """Both collections exist (an ingest has run)."""
        return self.client.collection_exists(self.chunks) and self.client.collection_exists(
            self.documents
        )

    def search(
        self,
        dense: np.ndarray,
        sparse: SparseTerms,
        *,
        limit: int,
        pool: int,
        groups: Sequence[str] | None = None,
    ) -> list[Passage]:
        """Hybrid retrieval: dense and BM25 candidates fused by RRF inside Qdrant.

        `groups` filters inside every prefetch (never after), so a document outside the
        caller's groups can neither be returned nor push others out of the candidate pool.
        """
        flt = None
        if groups is not None:
            flt = models.Filter(
                must=[models.FieldCondition(key="acl", match=models.MatchAny(any=list(groups)))]
            )
        prefetch = [models.Prefetch(query=dense.tolist(), using=DENSE, limit=pool, filter=flt)]
        if sparse.indices:
            vec = models.SparseVector(indices=sparse.indices, values=sparse.values)
            prefetch.append(models.Prefetch(query=vec, using=SPARSE, limit=pool, filter=flt))
        res = self.client.query_points(
            self.chunks,
            prefetch=prefetch,
            query=models.FusionQuery(fusion=models.Fusion.RRF),
            query_filter=flt,
            limit=limit,
            with_payload=True,
            with_vectors=[DENSE],
        )
        out = []
        for p in res.points:
            stored = p.vector.get(DENSE) if isinstance(p.vector, dict) else None
            cos = float(np.dot(dense, np.asarray(stored, dtype=np.float32))) if stored else 0.0
            out.append(Passage(Chunk.from_payload(p.payload or {}), float(p.score), cos))
        return out


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


# "kind" is set only on the meta record: documents are every record that is not meta.
_NOT_META = models.Filter(must_not=[_match("kind", "meta")])
