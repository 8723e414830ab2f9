"""Access control at the two places text leaves the store: answers and documents.

Retrieval filters on the caller's groups inside Qdrant (every prefetch); `ask` checks again that
each citation comes from a passage the caller may read, so a store that ignored the filter would
yield a refusal, never a leak. A document outside the caller's groups reads as absent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.records import Answer, SourceDocument
from core.store import Store
from core.text import script_of
from engine.decide import NO_EVIDENCE, Decision, message
from engine.evidence import Sentence, contains, credit, question_terms, split_sentences
from engine.pipeline import AnswerEngine
from service.auth import Principal

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
    by its sentence that covers most of the question's terms (documents whose sentences share
    no term with the question are left out)."""
    if not answer.refused or answer.reason == NO_EVIDENCE:
        return []
    terms = question_terms(question)
    readable = [p for p in answer.passages if who.may_read(p.chunk.acl)]
    best: dict[str, tuple[float, Sentence]] = {}
    for sent in split_sentences(readable):
        if not any(contains(sent.folded, t) for t in terms.weights):
            continue  # shares not one word with the question: not related
        score = sum(w * credit(sent.folded, t) for t, w in terms.weights.items())
        doc = sent.passage.chunk.doc_id
        if doc not in best or score > best[doc][0]:
            best[doc] = (score, sent)
    docs = [d for d in dict.fromkeys(p.chunk.doc_id for p in readable) if d in best][:limit]
    return [_related(best[d][1]) for d in docs]


def _related(s: Sentence) -> Related:
    c = s.passage.chunk
    return Related(c.doc_id, c.source, c.title, s.text, s.start, s.end, c.page_at(s.start))
