"""Typed records passed between stages. Qdrant payload keys are written and read only here."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

_NS = uuid.UUID("6f1c2d4e-8a8b-4c1e-9a55-0b7f3c2e9d11")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def point_id(*parts: object) -> str:
    """Deterministic Qdrant point id (uuid5) of its parts."""
    return str(uuid.uuid5(_NS, "\x1f".join(str(p) for p in parts)))


@dataclass(frozen=True)
class SourceDocument:
    """A document as stored: `text` is what citations index into."""

    doc_id: str
    source: str
    title: str
    text: str
    acl: tuple[str, ...]
    origin: str = ""  # the ingest root it came from; its removed documents are deleted
    file: str = ""  # the file it was read from, relative to the root
    fingerprint: str = ""  # hash of text + everything that shapes its chunks and vectors
    chunk_count: int = 0
    pages: tuple[int, ...] = ()  # PDF: offset in `text` where each page starts (page 1 first)
    alternates: tuple[str, ...] = ()  # ids of duplicate copies indexed as this document
    raw_hash: str = ""  # hash of the source bytes, groups and pipeline config (skip re-parsing)
    alternate_hashes: tuple[str, ...] = ()  # raw hashes of the alternates, in the same order
    planted: int = 0  # spans marked as addressing the assistant (ingest.injection)

    def to_payload(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "text": self.text,
            "acl": list(self.acl),
            "origin": self.origin,
            "file": self.file,
            "fingerprint": self.fingerprint,
            "chunk_count": self.chunk_count,
            "pages": list(self.pages),
            "alternates": list(self.alternates),
            "raw_hash": self.raw_hash,
            "alternate_hashes": list(self.alternate_hashes),
            "planted": self.planted,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> SourceDocument:
        return cls(
            doc_id=p["doc_id"],
            source=p["source"],
            title=p["title"],
            text=p.get("text", ""),
            acl=tuple(p["acl"]),
            origin=p.get("origin", ""),
            file=p.get("file", ""),
            fingerprint=p.get("fingerprint", ""),
            chunk_count=p.get("chunk_count", 0),
            pages=tuple(p.get("pages", ())),
            alternates=tuple(p.get("alternates", ())),
            raw_hash=p.get("raw_hash", ""),
            alternate_hashes=tuple(p.get("alternate_hashes", ())),
            planted=p.get("planted", 0),
        )


@dataclass(frozen=True)
class Chunk:
    """A span `[char_start, char_end)` of a stored document; `text` is exactly that slice."""

    doc_id: str
    index: int
    text: str
    char_start: int
    char_end: int
    source: str
    title: str
    acl: tuple[str, ...]
    page: int | None = None  # page of char_start (PDFs)
    page_breaks: tuple[int, ...] = ()  # offsets inside the chunk where a new page starts
    # (start, end) offsets inside the chunk of text addressing the assistant (ingest/injection.py)
    planted: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """Page number of a document offset inside this chunk (None when not paged)."""
        if self.page is None:
            return None
        return self.page + sum(1 for b in self.page_breaks if b <= offset)

    @property
    def chunk_id(self) -> str:
        return point_id(self.doc_id, self.index, sha256(self.text))

    def to_payload(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "chunk_index": self.index,
            "text": self.text,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "source": self.source,
            "title": self.title,
            "acl": list(self.acl),
            "content_hash": sha256(self.text),
            "page": self.page,
            "page_breaks": list(self.page_breaks),
            "planted": [list(s) for s in self.planted],
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Chunk:
        return cls(
            doc_id=p["doc_id"],
            index=p["chunk_index"],
            text=p["text"],
            char_start=p["char_start"],
            char_end=p["char_end"],
            source=p["source"],
            title=p["title"],
            acl=tuple(p["acl"]),
            page=p.get("page"),
            page_breaks=tuple(p.get("page_breaks", ())),
            planted=tuple((int(s), int(e)) for s, e in p.get("planted", ())),
        )


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused rank score and its dense cosine to the question."""

    chunk: Chunk
    score: float
    dense_score: float


@dataclass(frozen=True)
class Citation:
    """`quote == document.text[start:end]`, numbered `n` as its marker `[n]` in the answer."""

    n: int
    doc_id: str
    source: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    page: int | None = None


@dataclass(frozen=True)
class Answer:
    """An answer, or a refusal (`refused`, `reason`, and `text` None)."""

    text: str | None
    refused: bool
    reason: str | None
    message: str | None
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    features: dict[str, float] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "extractive"  # or "generative": sentences written by an LLM, checked, cited
