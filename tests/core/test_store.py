import numpy as np
import pytest

from core.embedders import HashingEmbedder
from core.errors import CollectionMissing, EmbedderMismatch
from core.records import Chunk, SourceDocument
from core.sparse import Bm25Encoder
from core.store import QdrantStore


def put(
    store: QdrantStore,
    emb: HashingEmbedder,
    doc_id: str,
    texts: list[str],
    acl: tuple[str, ...] = ("everyone",),
) -> None:
    body = "".join(texts)
    chunks, pos = [], 0
    for i, t in enumerate(texts):
        chunks.append(Chunk(doc_id, i, t, pos, pos + len(t), doc_id, doc_id, acl))
        pos += len(t)
    doc = SourceDocument(doc_id, doc_id, doc_id, body, acl, chunk_count=len(chunks))
    enc = Bm25Encoder()
    store.write_document(
        doc, chunks, emb.embed_passages(texts), [enc.encode_passage(t) for t in texts]
    )


def search(
    store: QdrantStore, emb: HashingEmbedder, q: str, groups: list[str] | None = None
) -> list[str]:
    hits = store.search(
        emb.embed_query(q), Bm25Encoder().encode_query(q), limit=5, pool=20, groups=groups
    )
    return [h.chunk.doc_id for h in hits]


def test_hybrid_search_finds_the_matching_chunk(
    store: QdrantStore, embedder: HashingEmbedder
) -> None:
    store.ensure_schema(embedder.name, embedder.dim)
    put(store, embedder, "refunds", ["The refund window is 30 days."])
    put(store, embedder, "vpn", ["Connect to the VPN with the Acme client."])
    assert search(store, embedder, "refund window")[0] == "refunds"
    assert search(store, embedder, "VPN client")[0] == "vpn"


def test_acl_filter_hides_other_groups(store: QdrantStore, embedder: HashingEmbedder) -> None:
    store.ensure_schema(embedder.name, embedder.dim)
    put(store, embedder, "secret", ["Salary bands are confidential."], acl=("hr",))
    put(store, embedder, "public", ["Salary is paid monthly."], acl=("everyone",))
    assert "secret" in search(store, embedder, "salary bands")
    assert search(store, embedder, "salary bands", groups=["everyone"]) == ["public"]
    assert search(store, embedder, "salary bands", groups=["nobody"]) == []


def test_rewrite_replaces_chunks_and_delete_removes_them(
    store: QdrantStore, embedder: HashingEmbedder
) -> None:
    store.ensure_schema(embedder.name, embedder.dim)
    put(store, embedder, "a", ["one.", "two.", "three."])
    assert len(store.chunk_ids("a")) == 3
    put(store, embedder, "a", ["one."])
    assert len(store.chunk_ids("a")) == 1
    assert store.get_document("a").text == "one."  # type: ignore[union-attr]
    store.delete_document("a")
    assert store.chunk_ids("a") == [] and store.get_document("a") is None


def test_missing_collection_and_other_embedder_are_clear_errors(
    store: QdrantStore, embedder: HashingEmbedder
) -> None:
    with pytest.raises(CollectionMissing, match="python -m ingest"):
        store.check_embedder(embedder.name, embedder.dim)
    store.ensure_schema(embedder.name, embedder.dim)
    with pytest.raises(EmbedderMismatch, match="GQA_EMBEDDER"):
        store.check_embedder("other-model", embedder.dim)


def test_dense_score_is_the_cosine(store: QdrantStore, embedder: HashingEmbedder) -> None:
    store.ensure_schema(embedder.name, embedder.dim)
    put(store, embedder, "a", ["alpha beta gamma"])
    q = embedder.embed_query("alpha beta gamma")
    hit = store.search(q, Bm25Encoder().encode_query("alpha"), limit=1, pool=5)[0]
    assert hit.dense_score == pytest.approx(
        float(np.dot(q, embedder.embed_passages(["alpha beta gamma"])[0])), abs=1e-5
    )
