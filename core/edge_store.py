"""The index of `core.store.QdrantStore` on Qdrant Edge: Qdrant's engine in process, no server.

One `EdgeShard` per collection under a root folder: `ROOT/<collection>` holds chunks (named
dense vector "dense", cosine, and sparse "bm25" with the IDF modifier), `ROOT/<collection>_documents`
holds document records and the meta record naming the embedder. Ids, payloads, the write order
and the hybrid query (RRF over a dense and a sparse prefetch, the ACL filter inside each) are
QdrantStore's, so both engines answer the same contract (tests/core/test_store_contract.py).

What Edge (qdrant-edge-py 0.9) lacks, and how it is bridged here:
- A shard needs at least one vector: the documents shard declares a sparse vector that no point
  carries (an empty sparse vector costs nothing; a 1-dim dense dummy would be stored per point).
- No background optimizer: HNSW graphs are built only when `EdgeShard.optimize()` runs; until
  then dense search is an exact scan. `mark_sync(False)` (a sync has finished) runs it.
- Errors are bare `Exception`s with a message (a locked shard, a missing folder, a bad vector).
- A shard locks its write-ahead log: one process at a time, like qdrant-client's local mode.
- Equal RRF scores come back in a per-process hash order; `search` breaks ties itself.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    HasIdCondition,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    PayloadSelector,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    Record,
    ScrollRequest,
    SparseVector,
    UpdateOperation,
)

from core.errors import CollectionMissing, StoreUnavailable
from core.records import Chunk, Passage, SourceDocument, point_id
from core.sparse import SparseTerms
from core.store import _META_ID, DENSE, SPARSE, DocumentWrite, chunk_rows, embedder_mismatch

log = logging.getLogger(__name__)

_UNUSED = "unused"  # the documents shard's placeholder vector (a shard must declare one)
_CONFIG_FILE = "edge_config.json"  # written by EdgeShard.create: the folder holds a shard
# Qdrant's default RRF constant (server and qdrant-client local mode score 1 / (rank + 2));
# Edge has no default, so it is named here to fuse exactly like QdrantStore.
_RRF_K = 2


class EdgeStore:
    """Chunks and documents in two Qdrant Edge shards under one folder."""

    def __init__(self, root: Path, collection: str) -> None:
        self.root = root
        self.chunks = collection
        self.documents = f"{collection}_documents"
        self._shards: dict[str, EdgeShard] = {}

    @classmethod
    def open(cls, path: Path, collection: str) -> EdgeStore:
        """Open (and lock) the shards of `collection` under `path`; absent ones are created by
        `ensure_schema`. Raises StoreUnavailable when another process holds them."""
        path.mkdir(parents=True, exist_ok=True)
        store = cls(path, collection)
        for name in (store.chunks, store.documents):
            store._shard(name)
        return store

    def close(self) -> None:
        """Flush and release both shards (the store can be opened again afterwards)."""
        shards, self._shards = self._shards, {}
        for shard in shards.values():
            shard.flush()
            shard.close()

    # --- shards -----------------------------------------------------------------------------
    def _shard(self, name: str) -> EdgeShard | None:
        """The loaded shard, loading it when its folder exists (another process may have run
        the first ingest since this store opened); None when there is none yet."""
        if name in self._shards:
            return self._shards[name]
        folder = self.root / name
        if not (folder / _CONFIG_FILE).exists():
            return None
        try:
            shard = EdgeShard.load(str(folder))
        except Exception as exc:  # Edge raises bare Exceptions; the usual one is the WAL lock
            raise StoreUnavailable(
                f"edge store {folder} cannot be opened ({exc}); stop the process using it "
                "(the service, another ingest) and retry"
            ) from exc
        self._shards[name] = shard
        return shard

    def _need(self, name: str) -> EdgeShard:
        shard = self._shard(name)
        if shard is None:
            raise CollectionMissing(
                f"collection {name!r} not found at {self.root} - run 'python -m ingest <folder>' "
                "first"
            )
        return shard

    # --- schema -----------------------------------------------------------------------------
    def ensure_schema(self, embedder_name: str, dim: int) -> None:
        """Create both shards if absent; raise EmbedderMismatch when the index was built with
        another embedder (the ingest then re-embeds it: `ingest.pipeline`)."""
        if self._shard(self.chunks) is None:
            self._create_chunks(dim)
        if self._shard(self.documents) is None:
            config = EdgeConfig(sparse_vectors={_UNUSED: EdgeSparseVectorParams()})
            shard = self._create(self.documents, config)
            meta = {"kind": "meta", "embedder": embedder_name, "dim": dim}
            shard.update(UpdateOperation.upsert_points([Point(_META_ID, {}, meta)]))
            shard.flush()
        self.check_embedder(embedder_name, dim)

    def _create_chunks(self, dim: int) -> None:
        config = EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=dim, distance=Distance.Cosine)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
        )
        shard = self._create(self.chunks, config)
        for key in ("doc_id", "acl"):  # what every filter uses
            shard.update(UpdateOperation.create_field_index(key, PayloadSchemaType.Keyword))

    def reset_chunks(self, embedder_name: str, dim: int) -> None:
        """Start re-embedding into `embedder_name`: mark it in the meta record first (flushed),
        then delete the chunk shard's folder and create it anew for `dim`. From the mark on,
        readers refuse the index until `record_embedder`; no old vector survives, so vectors
        of two embedders never meet in one shard."""
        self._set_meta({"reembedding": embedder_name, "chunks_reset": False})
        shard = self._shards.pop(self.chunks, None)
        if shard is not None:
            shard.close()
        # renamed away first, so a crash while deleting never leaves a half-deleted shard
        # under the collection's name (the next run re-embeds again: the mark is still set)
        trash = self.root / f".{self.chunks}.deleting"
        shutil.rmtree(trash, ignore_errors=True)
        if (self.root / self.chunks).exists():
            os.replace(self.root / self.chunks, trash)
        shutil.rmtree(trash, ignore_errors=True)
        self._create_chunks(dim)
        self._need(self.chunks).flush()
        # from here on a stopped re-embed into the same embedder can be finished, not redone
        self._set_meta({"chunks_reset": True})

    def record_embedder(self, embedder_name: str, dim: int) -> None:
        """Finish a re-embed: the meta record names the new embedder, the mark is cleared."""
        self._need(self.chunks).flush()  # the new vectors are on disk before the meta says so
        self._set_meta(
            {"embedder": embedder_name, "dim": dim, "reembedding": None, "chunks_reset": None}
        )

    def _set_meta(self, values: dict[str, Any]) -> None:
        docs = self._need(self.documents)
        docs.update(UpdateOperation.set_payload([_META_ID], values))
        docs.flush()

    def _create(self, name: str, config: EdgeConfig) -> EdgeShard:
        shard = EdgeShard.create(str(self.root / name), config)
        self._shards[name] = shard
        return shard

    def check_embedder(self, embedder_name: str, dim: int) -> None:
        """Raise unless the index exists, was built with this embedder, and no re-embed is
        unfinished."""
        self._need(self.chunks)
        problem = embedder_mismatch(self.chunks, self._meta(), embedder_name, dim)
        if problem is not None:
            raise problem

    def embedder_state(self) -> dict[str, Any]:
        """The meta record: `embedder` and `dim` of the stored vectors, `reembedding` while a
        re-embed is unfinished ({} before the first ingest)."""
        return self._meta() if self._shard(self.documents) is not None else {}

    def _meta(self) -> dict[str, Any]:
        got = self._need(self.documents).retrieve([_META_ID], with_payload=True, with_vector=False)
        return dict(got[0].payload or {}) if got else {}

    # --- writes -----------------------------------------------------------------------------
    def write_documents(self, writes: Sequence[DocumentWrite]) -> None:
        """Write documents' chunks, delete their stale chunks, then record the documents.

        Same order as QdrantStore (chunks, stale-chunk deletes, document records last), so a
        crash at any point is redone by the next sync; each update is in the shard's WAL when
        `update` returns. Stale chunks are looked for only where `replaces` is set, as in
        QdrantStore (here the delete uses the doc_id index, so it would be cheap either way).
        """
        shard, docs = self._need(self.chunks), self._need(self.documents)
        for rows in chunk_rows(writes):
            points = [
                Point(
                    w.chunks[i].chunk_id,
                    {
                        DENSE: w.dense[i].tolist(),
                        SPARSE: SparseVector(w.sparse[i].indices, w.sparse[i].values),
                    },
                    w.chunks[i].to_payload(),
                )
                for w, i in rows
            ]
            shard.update(UpdateOperation.upsert_points(points))
        for w in writes:
            if w.replaces:
                keep: set[str | int | UUID] = {c.chunk_id for c in w.chunks}
                stale = Filter(
                    must=[_match("doc_id", w.doc.doc_id)],
                    must_not=[HasIdCondition(keep)] if keep else None,
                )
                shard.update(UpdateOperation.delete_points_by_filter(stale))
        records = [Point(point_id("doc", w.doc.doc_id), {}, w.doc.to_payload()) for w in writes]
        if records:
            docs.update(UpdateOperation.upsert_points(records))

    def write_document(
        self,
        doc: SourceDocument,
        chunks: Sequence[Chunk],
        dense: np.ndarray,
        sparse: Sequence[SparseTerms],
    ) -> None:
        """Replace one document (see `write_documents`)."""
        self.write_documents([DocumentWrite(doc, tuple(chunks), dense, tuple(sparse))])

    def delete_document(self, doc_id: str) -> None:
        """Remove a document's chunks, then its record (a crash in between leaves the record,
        so the next sync deletes the document again)."""
        flt = Filter(must=[_match("doc_id", doc_id)])
        self._need(self.chunks).update(UpdateOperation.delete_points_by_filter(flt))
        self._need(self.documents).update(UpdateOperation.delete_points([point_id("doc", doc_id)]))

    def mark_sync(self, running: bool) -> bool:
        """Record that a sync is running (True) or finished (False); return the previous mark.

        A finished sync also optimizes the chunk shard: Edge has no background optimizer, so
        this is where HNSW graphs get built and deleted points get vacuumed.
        """
        before = bool(self._meta().get("sync_running"))
        docs = self._need(self.documents)
        docs.update(UpdateOperation.set_payload([_META_ID], {"sync_running": running}))
        docs.flush()
        if not running:
            self._need(self.chunks).optimize()
        return before

    def sweep_orphans(self) -> int:
        """Delete chunks whose document has no record (left by a sync killed mid-write);
        return how many documents' chunks were deleted."""
        known = set(self.document_states())
        seen = {
            str((r.payload or {}).get("doc_id"))
            for r in _scroll(self._need(self.chunks), None, ["doc_id"])
        }
        orphans = seen - known
        shard = self._need(self.chunks)
        for doc_id in orphans:
            flt = Filter(must=[_match("doc_id", doc_id)])
            shard.update(UpdateOperation.delete_points_by_filter(flt))
        return len(orphans)

    # --- reads ------------------------------------------------------------------------------
    def document_states(self) -> dict[str, SourceDocument]:
        """Every stored document without its text: doc_id -> record (for sync decisions)."""
        no_text = PayloadSelector.Exclude(["text"])
        # "kind" is set only on the meta record: documents are every record that is not meta.
        not_meta = Filter(must_not=[_match("kind", "meta")])
        records = _scroll(self._need(self.documents), not_meta, no_text)
        return {
            p["doc_id"]: SourceDocument.from_payload(p) for p in (r.payload or {} for r in records)
        }

    def get_document(self, doc_id: str) -> SourceDocument | None:
        """The stored document, or None."""
        got = self._need(self.documents).retrieve(
            [point_id("doc", doc_id)], with_payload=True, with_vector=False
        )
        return SourceDocument.from_payload(got[0].payload) if got and got[0].payload else None

    def chunk_ids(self, doc_id: str | None = None) -> list[str]:
        """Ids of all chunks (of one document)."""
        flt = Filter(must=[_match("doc_id", doc_id)]) if doc_id else None
        return [str(r.id) for r in _scroll(self._need(self.chunks), flt, False)]

    def count_chunks(self) -> int:
        return self._need(self.chunks).count(CountRequest(exact=True))

    def ready(self) -> bool:
        """Both shards exist (an ingest has run)."""
        return self._shard(self.chunks) is not None and self._shard(self.documents) is not None

    def search(
        self,
        dense: np.ndarray,
        sparse: SparseTerms,
        *,
        limit: int,
        pool: int,
        groups: Sequence[str] | None = None,
    ) -> list[Passage]:
        """Hybrid retrieval: dense and BM25 candidates fused by RRF inside the engine.

        `groups` filters inside every prefetch (never after), so a document outside the
        caller's groups can neither be returned nor push others out of the candidate pool.
        """
        flt = None
        if groups is not None:
            flt = Filter(must=[FieldCondition(key="acl", match=MatchAny(list(groups)))])
        query = dense.tolist()
        prefetch = [Prefetch(limit=pool, query=Query.Nearest(query, using=DENSE), filter=flt)]
        if sparse.indices:
            vec = SparseVector(sparse.indices, sparse.values)
            prefetch.append(
                Prefetch(limit=pool, query=Query.Nearest(vec, using=SPARSE), filter=flt)
            )
        # Every fused candidate comes back (ids and dense vectors only) so that ties are broken
        # here: Edge orders equal RRF scores by a per-process hash (the top passage could change
        # on restart), while qdrant-client's local mode keeps the dense prefetch's order.
        # Sorting by (score, cosine, id) reproduces local mode and is stable across restarts;
        # payloads are then read for the kept ids only.
        shard = self._need(self.chunks)
        hits = shard.query(
            QueryRequest(
                limit=max(limit, pool * len(prefetch)),
                query=Fusion.Rrf(k=_RRF_K),  # type: ignore[arg-type]  # 0.9 stubs omit Rrf
                prefetches=prefetch,
                filter=flt,
                with_payload=False,
                with_vector=[DENSE],
            )
        )
        if not hits:
            return []
        stored = np.asarray([_dense_of(h.vector, len(dense)) for h in hits], dtype=np.float32)
        cosines = stored @ dense.astype(np.float32)
        ranked = sorted(
            zip(
                [float(h.score) for h in hits],
                cosines.tolist(),
                [str(h.id) for h in hits],
                strict=True,
            ),
            key=lambda t: (-t[0], -t[1], t[2]),
        )[:limit]
        got = shard.retrieve([i for _, _, i in ranked], with_payload=True, with_vector=False)
        payloads = {str(r.id): r.payload for r in got if r.payload}
        return [  # a chunk deleted since the query (a concurrent sync) is skipped
            Passage(Chunk.from_payload(payloads[i]), score, cos)
            for score, cos, i in ranked
            if i in payloads
        ]


def _dense_of(vector: Any, dim: int) -> list[float]:
    stored = vector.get(DENSE) if isinstance(vector, dict) else None
    return list(stored) if stored else [0.0] * dim


def _match(key: str, value: str) -> FieldCondition:
    return FieldCondition(key=key, match=MatchValue(value))


def _scroll(
    shard: EdgeShard, flt: Filter | None, payload: bool | list[str] | PayloadSelector
) -> Iterator[Record]:
    offset = None
    while True:
        records, offset = shard.scroll(
            ScrollRequest(
                offset=offset, limit=1024, filter=flt, with_payload=payload, with_vector=False
            )
        )
        yield from records
        if offset is None:
            return
