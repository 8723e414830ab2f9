"""Run a question set against the answer engine (in process) and grade every answer."""

from __future__ import annotations

import functools
import re
import time
from dataclasses import asdict
from typing import Any

from tqdm import tqdm

from core.citations import problems
from core.embedders import Embedder, make_embedder
from core.settings import Settings
from core.store import open_store
from eval.datasets import Dataset, Question
from eval.metrics import Record, summarize
from ingest.pipeline import Ingestor
from service.answering import AnswerEngine


def isolated(settings: Settings, dataset: Dataset) -> Settings:
    """Settings for the dataset's own collection (and own embedded store folder)."""
    slug = re.sub(r"[^a-z0-9]+", "_", dataset.name.lower()).strip("_")
    update: dict[str, Any] = {"collection": f"eval_{slug}"}
    if not settings.qdrant_url:
        update["qdrant_path"] = settings.data_dir / "eval" / slug
    return settings.model_copy(update=update)


def run(
    dataset: Dataset,
    settings: Settings,
    *,
    ingest: bool = True,
    progress: bool = False,
    embedder: Embedder | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[Record]]:
    """Optionally sync the corpus into an isolated collection, then ask every question.

    Returns (meta, summary, records).
    """
    t0 = time.perf_counter()
    s = isolated(settings, dataset)
    embedder = embedder or make_embedder(s)
    store = open_store(s)
    try:
        meta: dict[str, Any] = {
            "dataset": dataset.name,
            "embedder": embedder.name,
            "collection": s.collection,
        }
        if ingest:
            meta["ingest"] = (
                Ingestor(s, store, embedder).sync([dataset.corpus], progress=progress).to_dict()
            )
        store.check_embedder(embedder.name, embedder.dim)
        engine = AnswerEngine(s, store, embedder)
        engine.warm_up()
        text_of = functools.lru_cache(maxsize=4096)(
            lambda doc_id: d.text if (d := store.get_document(doc_id)) else None
        )
        records = [
            ask(engine, q, text_of) for q in tqdm(dataset.questions, disable=not progress, unit="q")
        ]
    finally:
        store.close()
    meta["seconds"] = round(time.perf_counter() - t0, 2)
    return meta, summarize(records), records


def ask(engine: AnswerEngine, q: Question, text_of: Any) -> Record:
    """Ask one question and check its citations against the stored documents."""
    t = time.perf_counter()
    a = engine.answer(q.question)
    latency = (time.perf_counter() - t) * 1000
    cites = [asdict(c) for c in a.citations]
    return Record(
        id=q.id,
        question=q.question,
        answerable=q.answerable,
        accepted=[list(x) for x in q.accepted()],
        supporting_ids=list(q.supporting_ids),
        answer=a.text,
        refused=a.refused,
        reason=a.reason,
        citations=cites,
        retrieved=[{"doc_id": p.chunk.doc_id, "text": p.chunk.text} for p in a.passages],
        latency_ms=round(latency, 2),
        citation_problems=[] if a.refused else problems(a.text or "", cites, text_of),
        features=dict(a.features),
    )
