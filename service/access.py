"""Access control at the two places text leaves the store: answers and documents.

Retrieval filters on the caller's groups inside Qdrant (every prefetch); `ask` checks again that
each citation comes from a passage the caller may read, so a store that ignored the filter would
yield a refusal, never a leak. A document outside the caller's groups reads as absent.
"""

from __future__ import annotations

import logging

from core.records import Answer, SourceDocument
from core.store import Store
from core.text import script_of
from service.answering import AnswerEngine
from service.auth import Principal
from service.refusal import NO_EVIDENCE, Decision, message

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
