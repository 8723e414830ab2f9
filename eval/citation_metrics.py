"""Sentence-level citation quality in the ALCE sense (Gao et al. 2023, "Enabling Large Language
Models to Generate Text with Citations"). Pure; support is decided by a `Judge`.

An answer sentence is a segment of core.citations.segments(answer) that holds a letter or digit,
with the distinct markers written after it. A marker is in range when it names one of the
record's citations; the evidence of a citation is its quote.

- A sentence is supported when it has markers, all in range, and their quotes together
  support it.
- A citation (marker of a sentence) is precise when its sentence is supported and the citation
  is not irrelevant. Irrelevant (ALCE): its quote alone does not support the sentence AND the
  sentence's other quotes still support it without it.
- Per answer, recall = supported sentences / sentences and precision = precise citations /
  citations; an answer with no sentences scores 0 on both, one with no citations 0 precision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.citations import CitedSegment, segments
from eval.judge import Judge

_CONTENT = re.compile(r"\w")


@dataclass(frozen=True)
class SentenceVerdict:
    """One answer sentence: its distinct markers, which name no citation, and the verdicts."""

    text: str
    markers: tuple[int, ...]
    out_of_range: tuple[int, ...]
    supported: bool
    precise: tuple[bool, ...]  # per marker, in `markers` order


@dataclass(frozen=True)
class CitationScores:
    """The sentence verdicts of one answer and its ALCE recall and precision."""

    sentences: tuple[SentenceVerdict, ...]

    @property
    def recall(self) -> float:
        if not self.sentences:
            return 0.0
        return sum(s.supported for s in self.sentences) / len(self.sentences)

    @property
    def precision(self) -> float:
        total = sum(len(s.markers) for s in self.sentences)
        return sum(sum(s.precise) for s in self.sentences) / total if total else 0.0

    @property
    def all_supported(self) -> bool:
        """At least one sentence, and every sentence supported by its cited quotes."""
        return bool(self.sentences) and all(s.supported for s in self.sentences)


def answer_sentences(answer: str) -> list[CitedSegment]:
    """Segments with content (a bare marker or a stray full stop is not a sentence), each
    with its distinct markers in order."""
    return [
        CitedSegment(s.text, tuple(dict.fromkeys(s.markers)))
        for s in segments(answer)
        if _CONTENT.search(s.text)
    ]


def judge_sentence(seg: CitedSegment, quotes: Mapping[int, str], judge: Judge) -> SentenceVerdict:
    """Support of one sentence by its cited quotes, and precision of each citation (ALCE)."""
    missing = tuple(n for n in seg.markers if n not in quotes)
    supported = bool(seg.markers) and not missing
    supported = supported and judge.supports(seg.text, [quotes[n] for n in seg.markers])
    if not supported:
        precise = (False,) * len(seg.markers)
    elif len(seg.markers) == 1:
        precise = (True,)
    else:
        precise = tuple(_needed(seg, n, quotes, judge) for n in seg.markers)
    return SentenceVerdict(seg.text, seg.markers, missing, supported, precise)


def _needed(seg: CitedSegment, n: int, quotes: Mapping[int, str], judge: Judge) -> bool:
    """Not irrelevant: it supports the sentence alone, or the others do not without it."""
    if judge.supports(seg.text, [quotes[n]]):
        return True
    return not judge.supports(seg.text, [quotes[m] for m in seg.markers if m != n])


def score(answer: str, citations: Sequence[Mapping[str, Any]], judge: Judge) -> CitationScores:
    """Judge every sentence of an answer against the quotes of the citations it names."""
    quotes = {int(c["n"]): str(c["quote"]) for c in citations}
    return CitationScores(tuple(judge_sentence(s, quotes, judge) for s in answer_sentences(answer)))
