"""One contract for every Store engine: QdrantStore (qdrant-client local mode) and EdgeStore
(Qdrant Edge in process), each on its own tmp folder, with hashing dense vectors and real BM25
sparse vectors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from core.edge_store import EdgeStore
from core.embedders import HashingEmbedder
from core.errors import CollectionMissing, EmbedderMismatch
from core.records import Chunk, Passage, SourceDocument
from core.sparse import Bm25Encoder, SparseTerms
from core.store import DocumentWrite, QdrantStore, Store

Opener = Callable[[], Store]
EMB = HashingEmbedder()
BM25 = Bm25Encoder()


def _opener(kind: str, folder: Path) -> Opener:
    if kind == "qdrant":
        return lambda: QdrantStore(QdrantClient(path=str(folder)), "docs")
    return lambda: EdgeStore.open(folder, "docs")


@pytest.fixture(params=["qdrant", "edge"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the same store folder again (one open store at a time: both engines lock it)."""
    return _opener(request.param, tmp_path / request.param)


@pytest.fixture
def store(reopen: Opener) -> Iterator[Store]:
    st = reopen()
    yield st
    st.close()


@pytest.fixture
def ready(store: Store) -> Store:
    store.ensure_schema(EMB.name, EMB.dim)
    return store


def make_doc(
    doc_id: str, texts: Sequence[str], acl: tuple[str, ...] = ("everyone",)
) -> tuple[SourceDocument, list[Chunk]]:
    chunks, pos = [], 0
    for i, t in enumerate(texts):
        chunks.append(Chunk(doc_id, i, t, pos, pos + len(t), f"src/{doc_id}", f"T {doc_id}", acl))
        pos += len(t)
    doc = SourceDocument(
        doc_id,
        f"src/{doc_id}",
        f"T {doc_id}",
        "".join(texts),
        acl,
        origin="corpus",
        file=f"{doc_id}.txt",
        fingerprint=f"fp-{doc_id}-{len(texts)}",
        chunk_count=len(chunks),
    )
    return doc, chunks


def write(
    doc_id: str,
    texts: Sequence[str],
    acl: tuple[str, ...] = ("everyone",),
    dense: np.ndarray | None = None,
    replaces: bool = True,
) -> DocumentWrite:
    doc, chunks = make_doc(doc_id, texts, acl)
    vectors = EMB.embed_passages(list(texts)) if dense is None else dense
    sparse = tuple(BM25.encode_passage(t) for t in texts)
    return DocumentWrite(doc, tuple(chunks), vectors, sparse, replaces=replaces)


def put(
    store: Store,
    doc_id: str,
    texts: Sequence[str],
    acl: tuple[str, ...] = ("everyone",),
    dense: np.ndarray | None = None,
) -> SourceDocument:
    w = write(doc_id, texts, acl, dense)
    store.write_documents([w])
    return w.doc


def ask(
    store: Store, q: str, groups: list[str] | None = None, pool: int = 20, limit: int = 5
) -> list[Passage]:
    return store.search(
        EMB.embed_query(q), BM25.encode_query(q), limit=limit, pool=pool, groups=groups
    )


def doc_ids(passages: list[Passage]) -> list[str]:
    return [p.chunk.doc_id for p in passages]


def test_hybrid_search_finds_the_matching_chunk(ready: Store) -> None:
    put(ready, "refunds", ["Shipping takes a week.", "The refund window is 30 days."])
    put(ready, "vpn", ["Connect to the VPN with the Acme client."])
    put(ready, "canteen", ["The canteen opens at noon."])
    top = ask(ready, "refund window")[0]
    assert (top.chunk.doc_id, top.chunk.index) == ("refunds", 1)
    _, chunks = make_doc("refunds", ["Shipping takes a week.", "The refund window is 30 days."])
    assert top.chunk == chunks[1]  # payload round-trips into the Chunk, offsets included
    assert top.score == pytest.approx(1.0)  # RRF (k=2): rank 1 in both prefetches = 1/2 + 1/2
    expected_cos = float(
        np.dot(EMB.embed_query("refund window"), EMB.embed_passages([top.chunk.text])[0])
    )
    assert top.dense_score == pytest.approx(expected_cos, abs=1e-5)
    assert doc_ids(ask(ready, "VPN client"))[0] == "vpn"


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v))[None, :]


def test_sparse_vector_uses_idf(ready: Store) -> None:
    # Dense ranks: decoy, rare, common-heavy, fillers. Without IDF the sparse ranks put
    # "heavy" (tf of 'common' x3) first and RRF makes it the winner; with IDF the one rare term
    # outweighs a term found in every document, so "rare" wins.
    e = np.eye(EMB.dim, dtype=np.float32)
    put(ready, "decoy", ["nothing shared here"], dense=unit(e[0]))
    put(ready, "rare", ["zebra alpha"], dense=unit(e[0] + e[1]))
    put(ready, "heavy", ["common common common beta"], dense=unit(e[0] + 2 * e[1]))
    for i in range(4):
        put(ready, f"filler{i}", [f"common gamma{i}"], dense=unit(e[2 + i]))
    q = ready.search(e[0], BM25.encode_query("common zebra"), limit=3, pool=20)
    assert doc_ids(q)[0] == "rare"


def test_acl_filter_applies_inside_each_prefetch(ready: Store) -> None:
    # Five hr chunks beat the public one in both retrievers; with a pool of 2 a filter applied
    # after fusion would find nothing for "everyone".
    for i in range(5):
        put(ready, f"secret{i}", [f"Salary bands for level {i} are confidential."], acl=("hr",))
    put(ready, "public", ["Salary day is monthly."], acl=("everyone",))
    unfiltered = doc_ids(ask(ready, "salary bands confidential", pool=2))
    assert unfiltered and "public" not in unfiltered  # the hr chunks fill the pool
    assert doc_ids(ask(ready, "salary bands confidential", ["everyone"], pool=2)) == ["public"]
    assert set(doc_ids(ask(ready, "salary bands", ["hr", "other"]))) == {
        f"secret{i}" for i in range(5)
    }
    assert ask(ready, "salary bands", []) == []
    assert ask(ready, "salary bands", ["nobody"]) == []


def test_rewrite_replaces_chunks_without_orphans(ready: Store) -> None:
    put(ready, "a", ["one.", "two.", "three."])
    put(ready, "b", ["other document."])
    assert len(ready.chunk_ids("a")) == 3 and ready.count_chunks() == 4
    _, new = make_doc("a", ["one.", "four."])
    put(ready, "a", ["one.", "four."])
    assert sorted(ready.chunk_ids("a")) == sorted(c.chunk_id for c in new)
    assert ready.count_chunks() == 3  # two of a, one of b
    assert "three." not in [p.chunk.text for p in ask(ready, "three")]
    assert ready.get_document("a").text == "one.four."  # type: ignore[union-attr]


def test_batch_write_records_every_document_and_replaces_only_where_asked(
    ready: Store,
) -> None:
    ready.write_documents(
        [write("a", ["alpha one.", "alpha two."]), write("b", ["beta."]), write("c", ["gamma."])]
    )
    assert set(ready.document_states()) == {"a", "b", "c"} and ready.count_chunks() == 4
    assert doc_ids(ask(ready, "gamma"))[0] == "c"
    ready.write_documents([write("a", ["alpha three."]), write("b", ["beta two."])])
    assert len(ready.chunk_ids("a")) == 1 and len(ready.chunk_ids("b")) == 1
    # replaces=False (a document new to the index) skips the stale-chunk delete
    ready.write_documents([write("c", ["gamma two."], replaces=False)])
    assert len(ready.chunk_ids("c")) == 2
    assert ready.get_document("c").text == "gamma two."  # type: ignore[union-attr]


def test_delete_removes_document_and_chunks(ready: Store) -> None:
    put(ready, "a", ["alpha one.", "alpha two."])
    put(ready, "b", ["beta one."])
    ready.delete_document("a")
    assert ready.chunk_ids("a") == [] and ready.get_document("a") is None
    assert set(ready.document_states()) == {"b"}
    assert ready.count_chunks() == 1 and "a" not in doc_ids(ask(ready, "alpha"))


def test_document_states_lists_documents_without_text(ready: Store) -> None:
    a = put(ready, "a", ["alpha one.", "alpha two."], acl=("hr", "it"))
    b = put(ready, "b", ["beta one."])
    states = ready.document_states()
    assert set(states) == {"a", "b"}  # the meta record is not a document
    assert states["a"] == SourceDocument(**{**a.__dict__, "text": ""})
    assert states["b"].fingerprint == b.fingerprint and states["b"].text == ""


def test_get_document_round_trips(ready: Store) -> None:
    doc = put(ready, "policies/费用.md", ["差旅费用须在15天内提交。", "Receipts are required."])
    assert ready.get_document("policies/费用.md") == doc
    assert ready.get_document("missing") is None


def test_missing_index_and_other_embedder_are_clear_errors(store: Store) -> None:
    assert not store.ready()
    with pytest.raises(CollectionMissing, match="python -m ingest"):
        store.check_embedder(EMB.name, EMB.dim)
    store.ensure_schema(EMB.name, EMB.dim)
    assert store.ready()
    store.check_embedder(EMB.name, EMB.dim)
    with pytest.raises(EmbedderMismatch, match="GQA_EMBEDDER"):
        store.check_embedder("other-model", EMB.dim)
    with pytest.raises(EmbedderMismatch, match="dim 64"):
        store.check_embedder(EMB.name, 64)
    with pytest.raises(EmbedderMismatch):
        store.ensure_schema("other-model", EMB.dim)


def test_data_persists_across_close_and_reopen(reopen: Opener) -> None:
    first = reopen()
    first.ensure_schema(EMB.name, EMB.dim)
    doc = put(first, "refunds", ["The refund window is 30 days."])
    assert first.mark_sync(True) is False
    first.close()
    again = reopen()
    try:
        again.check_embedder(EMB.name, EMB.dim)
        assert again.get_document("refunds") == doc
        assert set(again.document_states()) == {"refunds"} and again.count_chunks() == 1
        assert doc_ids(ask(again, "refund window")) == ["refunds"]
        assert again.mark_sync(False) is True  # the running mark survived the restart
        assert again.mark_sync(False) is False
    finally:
        again.close()


def test_traditional_query_finds_simplified_passage_through_sparse(ready: Store) -> None:
    put(ready, "expense", ["差旅费用须在出差结束后15天内通过系统提交报销。"])
    put(ready, "vpn", ["Connect to the VPN with the Acme client."])
    put(ready, "canteen", ["The canteen opens at noon."])
    dense = EMB.embed_query("VPN client")  # points the dense retriever elsewhere
    sparse = BM25.encode_query("報銷差旅費要在幾天內提交？")
    assert doc_ids(ready.search(dense, SparseTerms([], []), limit=1, pool=20)) == ["vpn"]
    assert doc_ids(ready.search(dense, sparse, limit=1, pool=20)) == ["expense"]


def test_both_engines_fuse_identically(tmp_path: Path) -> None:
    stores = [_opener(kind, tmp_path / kind)() for kind in ("qdrant", "edge")]
    try:
        for st in stores:
            st.ensure_schema(EMB.name, EMB.dim)
            put(st, "refunds", ["The refund window is 30 days.", "Refunds go to the card."])
            put(st, "vpn", ["Connect to the VPN with the Acme client."])
            put(st, "expense", ["差旅费用须在出差结束后15天内提交报销。"], acl=("finance",))
        for q in ("refund window", "VPN client", "報銷差旅費", "refunds card"):
            q_tops = [ask(st, q, limit=1)[0] for st in stores]
            assert q_tops[0].chunk == q_tops[1].chunk
            assert q_tops[0].score == pytest.approx(q_tops[1].score)
            assert q_tops[0].dense_score == pytest.approx(q_tops[1].dense_score, abs=1e-5)
    finally:
        for st in stores:
            st.close()


def test_reset_chunks_drops_every_vector_and_marks_the_index_until_recorded(
    reopen: Opener,
) -> None:
    first = reopen()
    first.ensure_schema(EMB.name, EMB.dim)
    doc = put(first, "refunds", ["The refund window is 30 days."])
    assert first.embedder_state()["embedder"] == EMB.name
    first.reset_chunks("other-model", 8)
    assert first.chunk_ids() == [] and first.get_document("refunds") == doc  # text is kept
    for name, dim in ((EMB.name, EMB.dim), ("other-model", 8)):
        with pytest.raises(EmbedderMismatch, match="stopped midway"):
            first.check_embedder(name, dim)
    first.close()
    again = reopen()  # the mark survives a crash (a close and reopen)
    assert again.embedder_state()["reembedding"] == "other-model"
    vec = np.ones((1, 8), dtype=np.float32) / np.sqrt(8)
    again.write_documents([write("refunds", ["The refund window is 30 days."], dense=vec)])
    again.record_embedder("other-model", 8)
    again.check_embedder("other-model", 8)
    assert not again.embedder_state().get("reembedding")
    with pytest.raises(EmbedderMismatch, match="was embedded with other-model"):
        again.check_embedder(EMB.name, EMB.dim)
    hits = again.search(vec[0], BM25.encode_query("refund window"), limit=1, pool=5)
    assert [p.chunk.doc_id for p in hits] == ["refunds"] and hits[0].dense_score > 0.99
    again.close()
