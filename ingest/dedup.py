"""Exact and near-duplicate documents: the same article copied from two sites, or a copy in the
other script (traditional / simplified Chinese).

Texts are folded (`core.text.fold`: traditional -> simplified, full-width -> half-width, lower
case) and whitespace is dropped, then cut into character 5-grams (works for Chinese, which has
no spaces, and for alphabetic text). Exact duplicates are found by hashing the folded text.
Near duplicates are *candidates* from datasketch's MinHash LSH at a low Jaccard threshold
(`CANDIDATE_JACCARD`), verified exactly by *containment* on the shingle sets: two copies of one
article with different site furniture around them have a low Jaccard similarity (the furniture
inflates the union) but the smaller copy is almost entirely contained in the larger one.
(datasketch's LSH Ensemble indexes containment directly, but building its partitions took
~12 s for 10,000 documents; the low-threshold LSH plus exact check takes a few seconds.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import numpy as np
from datasketch import MinHash, MinHashLSH

from core.text import fold

# Part of every document's identity (with the threshold): bump it when grouping changes, so the
# next run groups everything again. 2: only documents with the same access groups are grouped.
DEDUP_VERSION = "2"
SHINGLE = 5  # characters per shingle
NUM_PERM = 128
# LSH finds pairs whose Jaccard similarity is about this or more; containment >= 0.8 of the
# smaller copy gives Jaccard >= 0.3 while it is at least ~40% the size of the larger one.
CANDIDATE_JACCARD = 0.3
_SPACE = re.compile(r"\s+")
_MASK32 = np.uint64(0xFFFFFFFF)


def _normalise(text: str) -> str:
    return _SPACE.sub("", fold(text))


def shingles(text: str, n: int = SHINGLE) -> np.ndarray:
    """Sorted unique 32-bit hashes of the character n-grams of folded, space-free `text`."""
    chars = np.frombuffer(_normalise(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if chars.size == 0:
        return np.empty(0, dtype=np.uint32)
    if chars.size < n:
        n = int(chars.size)
    h = np.zeros(chars.size - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # polynomial hash mod 2**64, wrapping on purpose
        for k in range(n):
            h = h * np.uint64(1_000_003) + chars[k : chars.size - n + 1 + k]
        h ^= h >> np.uint64(32)
    return np.unique((h & _MASK32).astype(np.uint32))


def _minhash(hashes: np.ndarray) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, hashfunc=_identity)
    m.update_batch(hashes.tolist())
    return m


def _identity(x: int) -> int:
    return x


def _containment(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller set found in the larger."""
    small = min(a.size, b.size)
    if small == 0:
        return 0.0
    return np.intersect1d(a, b, assume_unique=True).size / small


class _Groups:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def duplicate_groups(docs: Mapping[str, str], threshold: float = 0.8) -> dict[str, str]:
    """Group exact and near-duplicate documents.

    Two documents are near duplicates when at least `threshold` of the smaller one's shingles
    (character 5-grams of the folded text) occur in the other. Exact duplicates (same folded
    text) are grouped by hash first.

    Args:
        docs: doc_id -> text.
        threshold: minimum containment, between 0 and 1.

    Returns:
        doc_id -> canonical doc_id, for every document in a group of two or more (the canonical
        one maps to itself). The canonical document of a group is the one with the longest text,
        ties broken by the lexicographically first id: it holds the most text, so keeping only
        canonical documents loses the least. Documents with no duplicate are absent.
    """
    groups = _Groups()
    first_by_hash: dict[str, str] = {}
    unique: list[str] = []
    for doc_id in sorted(docs):
        key = hashlib.sha1(_normalise(docs[doc_id]).encode()).hexdigest()
        if key in first_by_hash:
            groups.union(doc_id, first_by_hash[key])
        else:
            first_by_hash[key] = doc_id
            unique.append(doc_id)

    sets = {d: shingles(docs[d]) for d in unique}
    sets = {d: s for d, s in sets.items() if s.size}
    hashes = {d: _minhash(s) for d, s in sets.items()}
    if len(hashes) > 1:
        lsh = MinHashLSH(threshold=min(CANDIDATE_JACCARD, threshold), num_perm=NUM_PERM)
        with lsh.insertion_session() as session:
            for d, m in hashes.items():
                session.insert(d, m)
        for d, m in hashes.items():
            for other in lsh.query(m):
                if other > d and _containment(sets[d], sets[other]) >= threshold:
                    groups.union(d, other)

    members: dict[str, list[str]] = {}
    for d in groups.parent:
        members.setdefault(groups.find(d), []).append(d)
    out: dict[str, str] = {}
    for group in members.values():
        if len(group) > 1:
            canonical = min(group, key=lambda d: (-len(docs[d]), d))
            out.update({d: canonical for d in group})
    return out
