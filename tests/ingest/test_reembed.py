"""Switching embedders re-embeds the index once, from the stored text, never mixing vectors:
the hashing embedder and a tiny ONNX e5 (the real builder and runtime, tests/tiny_e5.py), on
both embedded engines (qdrant-client local mode and Qdrant Edge)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.embedders import Embedder, HashingEmbedder, OnnxE5Embedder
from core.errors import EmbedderMismatch
from core.settings import Settings
from core.store import Store, open_store
from ingest.pipeline import BATCH_DOCS, Ingestor, IngestReport
from service.app import create_app
from tests.conftest import write
from tests.tiny_onnx import WORDS

CORPUS = {
    "refund.md": "# Refund policy\nThe refund window is 30 days after purchase.",
    "vpn.txt": "VPN setup\nInstall the VPN client. Reset your password every 90 days.",
    "leave.md": "# Leave\nEach employee has 15 vacation days a year.",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, tiny_e5_weights: Path) -> OnnxE5Embedder:
    return OnnxE5Embedder(tmp_path_factory.mktemp("cache"), threads=1, source=tiny_e5_weights)


@pytest.fixture(params=["qdrant", "edge"])
def engine_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    return settings.model_copy(update={"store_engine": request.param})


@pytest.fixture
def open_(engine_settings: Settings) -> Iterator[Store]:
    st = open_store(engine_settings)
    yield st
    st.close()


def stored_vectors(store: Store) -> dict[str, tuple[str, np.ndarray]]:
    """chunk id -> (text, dense vector) of every stored chunk, whatever the engine."""
    out = {}
    if hasattr(store, "client"):  # QdrantStore
        offset = None
        while True:
            points, offset = store.client.scroll(
                store.chunks, limit=256, offset=offset, with_payload=True, with_vectors=True
            )
            for p in points:
                out[str(p.id)] = (p.payload["text"], np.asarray(p.vector["dense"], np.float32))
            if offset is None:
                return out
    from core.edge_store import _scroll

    shard = store._need(store.chunks)  # type: ignore[attr-defined]
    for r in _scroll(shard, None, True):
        vec = shard.retrieve([r.id], with_payload=False, with_vector=True)[0].vector["dense"]
        out[str(r.id)] = (r.payload["text"], np.asarray(vec, np.float32))
    return out


def assert_only(store: Store, embedder: Embedder, reference: Path) -> None:
    """The index holds exactly what a fresh ingest of `reference` (a copy of the corpus) with
    `embedder` holds: the same chunk ids, each with that embedder's vector (exactly, for the
    deterministic hashing embedder; int8 vectors move a little with their batch-mates), and
    the meta record names it."""
    vectors = stored_vectors(store)
    settings = Settings(
        _env_file=None,
        data_dir=reference.parent / "data",
        store_engine="qdrant",
        chunk_size=120,
        chunk_overlap=20,
    )
    fresh = open_store(settings)
    try:
        Ingestor(settings, fresh, embedder).sync([reference])
        want = stored_vectors(fresh)
    finally:
        fresh.close()
    assert want and sorted(vectors) == sorted(want)
    for cid, (text, vec) in vectors.items():
        assert text == want[cid][0] and vec.shape == (embedder.dim,)
        cosine = float(vec @ want[cid][1])
        assert cosine > (0.99999 if isinstance(embedder, HashingEmbedder) else 0.98), cid
    state = store.embedder_state()
    assert state["embedder"] == embedder.name and not state.get("reembedding")
    store.check_embedder(embedder.name, embedder.dim)


def ask(settings: Settings, store: Store, embedder: Embedder, question: str) -> tuple[int, dict]:
    with TestClient(create_app(settings, store=store, embedder=embedder)) as client:
        r = client.post("/v1/answer", json={"question": question})
        return r.status_code, r.json()


def test_switching_a_to_b_to_a_reembeds_once_each_time(
    tmp_path: Path,
    engine_settings: Settings,
    open_: Store,
    tiny: OnnxE5Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    corpus = write(tmp_path / "corpus", CORPUS)
    hashing = HashingEmbedder()
    first = Ingestor(engine_settings, open_, hashing).sync([corpus])
    assert first.new == 3 and first.reembedded == 0
    assert_only(open_, hashing, write(tmp_path / "ref0" / "corpus", CORPUS))
    for embedder, was in ((tiny, hashing), (hashing, tiny)):
        with pytest.raises(EmbedderMismatch, match="re-embed it once"):
            open_.check_embedder(embedder.name, embedder.dim)
        # the sources are gone: the stored full text is enough
        shutil.rmtree(corpus, ignore_errors=True)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ingest.pipeline"):
            report = IngestReport()
            Ingestor(engine_settings, open_, embedder).ensure_index(report)
        lines = [r.getMessage() for r in caplog.records if "re-embedding" in r.getMessage()]
        assert lines == [
            f"collection 'docs' was embedded with {was.name}, the configured embedder is "
            f"{embedder.name}: re-embedding 3 documents once"
        ]
        assert report.reembedded == 3 and report.reembedded_from == was.name
        assert report.chunks_written == len(stored_vectors(open_)) > 0
        assert_only(open_, embedder, write(tmp_path / f"ref-{embedder.dim}" / "corpus", CORPUS))
        status, got = ask(engine_settings, open_, embedder, "How long is the refund window?")
        assert status == 200 and not got["refused"], got
        assert got["citations"][0]["doc_id"] == "corpus/refund.md"
        # a later sync of the same sources finds every document unchanged: nothing twice
        corpus = write(tmp_path / "corpus", CORPUS)
        again = Ingestor(engine_settings, open_, embedder).sync([corpus])
        assert (again.reembedded, again.unchanged, again.chunks_written) == (0, 3, 0)


class Failing:
    """The embedder `inner`, failing on a passage that contains `poison` (a crash midway)."""

    def __init__(self, inner: Embedder, poison: str) -> None:
        self.inner, self.poison = inner, poison
        self.name, self.dim = inner.name, inner.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if any(self.poison in t for t in texts):
            raise RuntimeError("killed midway")
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.mark.parametrize("back_to_a", [False, True])
def test_a_reembed_stopped_midway_is_refused_then_redone(
    tmp_path: Path, engine_settings: Settings, open_: Store, tiny: OnnxE5Embedder, back_to_a: bool
) -> None:
    rng = np.random.default_rng(5)
    words = [w for w in WORDS if len(w) > 3]
    docs = {  # distinct documents (near-duplicates would be indexed once)
        f"d{i:03d}.txt": f"Document {i}\n" + " ".join(rng.choice(words, 30)) + "."
        for i in range(BATCH_DOCS + 6)
    }
    docs["d066.txt"] += " zzpoison"  # in the second batch of the re-embed (ids in order)
    corpus = write(tmp_path / "corpus", docs)
    hashing = HashingEmbedder()
    assert Ingestor(engine_settings, open_, hashing).sync([corpus]).new == len(docs)
    with pytest.raises(RuntimeError, match="killed midway"):
        Ingestor(engine_settings, open_, Failing(tiny, "zzpoison")).sync([corpus])
    written = stored_vectors(open_)
    assert written and all(v.shape == (tiny.dim,) for _, v in written.values())  # none of A
    for embedder in (hashing, tiny):  # neither A nor B may read a half re-embedded index
        with pytest.raises(EmbedderMismatch, match="stopped midway"):
            open_.check_embedder(embedder.name, embedder.dim)
    status, got = ask(engine_settings, open_, tiny, "refund policy number 3")
    assert status == 503 and "stopped midway" in got["error"]["message"]  # not a half answer
    final = hashing if back_to_a else tiny
    report = Ingestor(engine_settings, open_, final).sync([corpus])
    # back to A: every document again; on to B: the stopped re-embed is finished (the first
    # batch was written whole and is kept)
    assert report.reembedded == (len(docs) if back_to_a else len(docs) - BATCH_DOCS)
    assert report.unchanged == len(docs)
    assert_only(open_, final, write(tmp_path / "ref" / "corpus", docs))


def test_the_service_names_the_fix_and_an_admin_job_reembeds(
    tmp_path: Path, settings: Settings, tiny: OnnxE5Embedder
) -> None:
    from tests.service.conftest import ADMIN, service_settings
    from tests.service.test_jobs import A, answer, finish

    corpus = write(tmp_path / "corpus", CORPUS)
    store = open_store(settings)
    Ingestor(settings, store, HashingEmbedder()).sync([corpus])
    store.close()
    svc = service_settings(ingest_sources=[corpus], rate_limit_per_minute=0)
    with TestClient(create_app(settings, embedder=tiny, service_settings=svc)) as c:
        r = answer(c, "How long is the refund window?")
        assert r.status_code == 503
        message = r.json()["error"]["message"]
        assert "was embedded with hashing-v1 (dim 256)" in message and "python -m ingest" in message
        job = finish(c, c.post("/v1/admin/jobs", json={}, headers=A).json()["id"])
        assert job["state"] == "succeeded", job
        assert job["summary"]["reembedded"] == 3 and job["summary"]["unchanged"] == 3
        r = answer(c, "How long is the refund window?", ADMIN)
        assert r.status_code == 200 and not r.json()["refused"], r.json()


def test_the_ingest_summary_says_what_was_reembedded(settings: Settings) -> None:
    from ingest.__main__ import summary

    report = IngestReport(unchanged=3, chunks_written=5, reembedded=3, reembedded_from="A")
    text = summary(report, settings)
    assert (
        "re-embedded: 3 documents from their stored text, their chunks counted above (was A)"
        in text
    )
    assert "re-embedded" not in summary(IngestReport(unchanged=3), settings)


def _set_meta(store: Store, values: dict) -> None:
    """Write the meta record as a run killed at some point would have left it."""
    from core.store import _META_ID

    if hasattr(store, "client"):
        store.client.set_payload(store.documents, values, points=[_META_ID], wait=True)
    else:
        store._set_meta(values)  # type: ignore[attr-defined]


def test_a_reset_stopped_before_its_drop_is_redone_whole(
    tmp_path: Path, engine_settings: Settings, open_: Store, tiny: OnnxE5Embedder
) -> None:
    """B stops midway (its first batch is written whole), then a run with A is killed between
    marking and dropping: the next run with B may not keep B's first batch as done (the
    chunks collection it would keep is not B's), so it redoes everything."""
    rng = np.random.default_rng(6)
    words = [w for w in WORDS if len(w) > 3]
    docs = {
        f"d{i:03d}.txt": f"Document {i}\n" + " ".join(rng.choice(words, 30)) + "."
        for i in range(BATCH_DOCS + 6)
    }
    docs["d066.txt"] += " zzpoison"
    corpus = write(tmp_path / "corpus", docs)
    hashing = HashingEmbedder()
    Ingestor(engine_settings, open_, hashing).sync([corpus])
    with pytest.raises(RuntimeError, match="killed midway"):
        Ingestor(engine_settings, open_, Failing(tiny, "zzpoison")).sync([corpus])
    _set_meta(open_, {"reembedding": hashing.name, "chunks_reset": False})
    report = Ingestor(engine_settings, open_, tiny).sync([corpus])
    assert report.reembedded == len(docs)
    assert_only(open_, tiny, write(tmp_path / "ref" / "corpus", docs))
