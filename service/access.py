"""Access control at the two places text leaves the store: answers and documents.

Retrieval filters on the caller's groups inside Qdrant (every prefetch); `ask` checks again that
each citation comes from a passage the caller may read, so a store that ignored the filter would
yield a refusal, never a leak. A document outside the caller's groups reads as absent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.records import Answer, SourceDocument
from core.sentences import sentence_spans
from core.store import Store
from core.text import fold, script_of
from service.answering import AnswerEngine
from service.auth import Principal
from service.evidence import contains, credit, question_terms
from service.refusal import NO_EVIDENCE, Decision, message

RELATED_LIMIT = 3  # documents listed as "related, but not an answer" under a refusal

log = logging.getLogger(__name__)


def ask(engine: AnswerEngine, question: str, who: Principal) -> Answer:
    """The engine's answer within `who`'s groups (checked again on the way out)."""
    engine.store.check_embedder(engine.embedder.name, engine.embedder.dim)
    answer = engine.answer(question, who.groups)
    if who.groups is None or answer.refused:
        return answer
    readable = {p.chunk.doc_id for p in answer.passages if who.may_read(p.chunk.acl)}
    if all(c.doc_id in readable for c in answer.citations) and all(
        who.may_read(p.chunk.acl) for p in answer.passages
    ):
        return answer
    log.error("retrieval returned passages outside %s's groups; refusing", who.key_id)
    refusal = Decision(True, NO_EVIDENCE)
    return Answer(None, True, NO_EVIDENCE, message(refusal, script_of(question)))


def visible_document(store: Store, doc_id: str, who: Principal) -> SourceDocument | None:
    """The document if it exists and `who` may read it; None otherwise (indistinguishable)."""
    doc = store.get_document(doc_id)
    return doc if doc is not None and who.may_read(doc.acl) else None


@dataclass(frozen=True)
class Related:
    """A passage shown under a refusal as related, but not an answer: `quote` is exactly the
    document's text[start:end], like a citation's."""

    doc_id: str
    source: str
    title: str
    quote: str
    start: int
    end: int
    page: int | None


def related(
    answer: Answer, question: str, who: Principal, limit: int = RELATED_LIMIT
) -> list[Related]:
    """Under a refusal for evidence that does not answer (not for no evidence at all), the
    closest retrieved passages `who` may read, one per document in retrieval order, each shown
    by its sentence that covers most of the question's terms (none that shares no term)."""
    if not answer.refused or answer.reason == NO_EVIDENCE:
        return []
    terms = question_terms(question)
    out: list[Related] = []
    seen: set[str] = set()
    for p in answer.passages:
        c = p.chunk
        if c.doc_id in seen or not who.may_read(c.acl):
            continue
        seen.add(c.doc_id)
        spans = sentence_spans(c.text) or [(0, len(c.text))]
        s, e = max(
            spans,
            key=lambda se: sum(
                w * credit(fold(c.text[se[0] : se[1]]), t) for t, w in terms.weights.items()
            ),
        )
        if not any(contains(fold(c.text[s:e]), t) for t in terms.weights):
            continue  # shares not one word with the question: not related
        start, end = c.char_start + s, c.char_start + e
        out.append(Related(c.doc_id, c.source, c.title, c.text[s:e], start, end, c.page_at(start)))
        if len(out) == limit:
            break
    return out
