"""Latency of a whole extractive answer over ~10k real chunks, next to a plain llama-index peer.

Not a test; run from the repository root after the eval runs have built their collections
(`python -m eval run --dataset ../shared/benchmarks/<name>` for rgb-zh, drcd-zht, clapnq-en):

    python -m benchmarks.answer_latency --n 10000

The chunks (text, vectors of the configured embedder GQA_EMBEDDER, payloads) are copied from
those Edge collections into one fresh embedded store (Qdrant Edge, the default engine, HNSW built
as at the end of a sync), so nothing is embedded again. Two things are timed per question, one question at a time:

- **engine**: `AnswerEngine.answer` (the service's extractive path): query embedding, BM25 query
  terms, hybrid retrieval with the ACL filter, sentence split, answerability model, evidence
  selection, the reader (GQA_READER) and the refusal decision;
- **llama-index peer**: a plain `VectorStoreIndex` (its default in-memory `SimpleVectorStore`)
  over the same chunks and vectors, `as_retriever(similarity_top_k=top_k).retrieve(question)`,
  with the same embedder for the query: retrieval only, dense only, no answer.

Questions are drawn alternately from the three sets' questions.jsonl (answerable and not).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from qdrant_edge import EdgeShard, ScrollRequest

from core.edge_store import EdgeStore
from core.embedders import as_llama_embedding, make_embedder
from core.records import Chunk
from core.settings import Settings
from core.sparse import Bm25Encoder
from core.store import DENSE, DocumentWrite
from engine.pipeline import AnswerEngine

SETS = ("rgb-zh", "drcd-zht", "clapnq-en")


def stored_chunks(root: Path, collection: str) -> Iterator[tuple[Chunk, list[float]]]:
    """Every chunk of an Edge collection with its dense vector."""
    shard = EdgeShard.load(str(root / collection))
    offset = None
    try:
        while True:
            records, offset = shard.scroll(
                ScrollRequest(offset=offset, limit=512, with_payload=True, with_vector=[DENSE])
            )
            for r in records:
                vector = r.vector.get(DENSE) if isinstance(r.vector, dict) else None
                if r.payload and "chunk_index" in r.payload and isinstance(vector, list):
                    yield Chunk.from_payload(dict(r.payload)), cast("list[float]", vector)
            if offset is None:
                return
    finally:
        shard.close()


def build(
    target: EdgeStore, sources: Sequence[tuple[Path, str]], n: int, embedder: Any
) -> list[tuple[Chunk, list[float]]]:
    """Copy up to `n` chunks (whole documents) from the sources into `target`."""
    target.ensure_schema(embedder.name, embedder.dim)
    target.mark_sync(True)
    sparse = Bm25Encoder()
    kept: list[tuple[Chunk, list[float]]] = []
    for root, collection in sources:
        src = EdgeStore.open(root, collection)
        docs = src.document_states()
        src.close()
        by_doc: dict[str, list[tuple[Chunk, list[float]]]] = {}
        for chunk, vec in stored_chunks(root, collection):
            by_doc.setdefault(chunk.doc_id, []).append((chunk, vec))
        writes = []
        for doc_id, items in by_doc.items():
            if len(kept) + len(items) > n or doc_id not in docs:
                continue
            items.sort(key=lambda cv: cv[0].index)
            kept += items
            chunks = tuple(c for c, _ in items)
            writes.append(
                DocumentWrite(
                    docs[doc_id],
                    chunks,
                    np.asarray([v for _, v in items], dtype=np.float32),
                    tuple(sparse.encode_passage(f"title: {c.title}\n\n{c.text}") for c in chunks),
                )
            )
        for i in range(0, len(writes), 256):
            target.write_documents(writes[i : i + 256])
    target.mark_sync(False)  # builds the HNSW index, as a finished sync does
    return kept


def questions(benchmarks: Path, count: int) -> list[str]:
    per_set = [
        [json.loads(line)["question"] for line in (benchmarks / s / "questions.jsonl").open()]
        for s in SETS
        if (benchmarks / s / "questions.jsonl").exists()
    ]
    out = [q for group in zip(*per_set, strict=False) for q in group]
    return out[:count]


def timed(fn: Callable[[str], object], qs: Sequence[str]) -> list[float]:
    out = []
    for q in qs:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(name: str, ms: Sequence[float]) -> str:
    s = sorted(ms)
    p95 = s[max(0, int(round(0.95 * len(s))) - 1)]
    return f"| {name} | {len(s)} | {statistics.median(s):.1f} | {p95:.1f} | {max(s):.1f} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.answer_latency")
    parser.add_argument("--n", type=int, default=10000, help="chunks to copy (whole documents)")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--eval-dir", type=Path, default=Path(".data/eval"))
    parser.add_argument("--benchmarks", type=Path, default=Path("../shared/benchmarks"))
    args = parser.parse_args(argv)
    sources = [
        (args.eval_dir / s.replace("-", "_"), "eval_" + s.replace("-", "_"))
        for s in SETS
        if (args.eval_dir / s.replace("-", "_")).exists()
    ]
    embedder = make_embedder(Settings())  # the configured one: the collections' vectors are its
    qs = questions(args.benchmarks, args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore.open(Path(tmp), "bench")
        t = time.perf_counter()
        kept = build(store, sources, args.n, embedder)
        print(f"{len(kept)} chunks copied in {time.perf_counter() - t:.1f} s from {sources}")
        settings = Settings(qdrant_path=Path(tmp), collection="bench")
        engine = AnswerEngine(settings, store, embedder)
        engine.warm_up()
        engine.answer(qs[0])
        ours = timed(engine.answer, qs)
        stages = [engine.answer(q).timings_ms for q in qs[:50]]
        store.close()

        from llama_index.core import VectorStoreIndex
        from llama_index.core.schema import TextNode

        nodes = [
            TextNode(text=c.text, id_=c.chunk_id, embedding=v, metadata={"title": c.title})
            for c, v in kept
        ]
        index = VectorStoreIndex(nodes, embed_model=as_llama_embedding(embedder))
        retriever = index.as_retriever(similarity_top_k=settings.top_k)
        retriever.retrieve(qs[0])
        peer = timed(retriever.retrieve, qs)
    print()
    print("| path | questions | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(row("engine: extractive answer (Edge, hybrid, answerability)", ours))
    print(row("llama-index VectorStoreIndex retriever (dense only, no answer)", peer))
    for key in ("retrieve", "select", "read"):
        vals = [s[key] for s in stages if key in s]
        if vals:
            median = statistics.median(vals)
            print(f"\nengine stage {key}: median {median:.1f} ms ({len(vals)} of 50 questions)")


if __name__ == "__main__":
    main()
