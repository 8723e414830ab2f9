"""BM25 terms as a Qdrant sparse vector.

Written by hand because fastembed's Bm25 downloads its stopword files from a model hub and has
no Chinese tokenizer. Term ids are hashed (crc32); the IDF part is Qdrant's (Modifier.IDF on the
collection), so a vector only carries the term-frequency part of BM25.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass

from core.text import fold, words

SPARSE_VERSION = "bm25-jieba-t2s-v1"  # part of every document fingerprint: change it to re-index


@dataclass(frozen=True)
class SparseTerms:
    """Parallel lists of term ids and weights, ready for `models.SparseVector`."""

    indices: list[int]
    values: list[float]


def term_id(term: str) -> int:
    """Stable 31-bit id of a folded term."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


class Bm25Encoder:
    """Term-frequency half of BM25 over jieba words of folded text."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, avg_len: float = 120.0) -> None:
        self.k1, self.b, self.avg_len = k1, b, avg_len

    def encode_passage(self, text: str) -> SparseTerms:
        """Saturated, length-normalised term frequencies of a passage."""
        counts = Counter(term_id(t) for t in words(fold(text)))
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
        ids = sorted(counts)
        return SparseTerms(ids, [counts[i] * (self.k1 + 1) / (counts[i] + norm) for i in ids])

    def encode_query(self, text: str) -> SparseTerms:
        """Each distinct query term once, weight 1 (Qdrant multiplies in the IDF)."""
        ids = sorted({term_id(t) for t in words(fold(text))})
        return SparseTerms(ids, [1.0] * len(ids))
