"""The citation check: does an answer's every sentence carry markers that resolve to exact,
verbatim spans of stored documents? Pure; the caller supplies document texts.

Deliberately independent of how answers are produced, so eval can judge the service with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A marker is "[n]" after whitespace: "[11]" glued to a word is quoted text (a footnote).
_CITED = re.compile(r"(.*?)((?:\s+\[\d+\])+)", re.S)
_MARK = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class CitedSegment:
    """A piece of answer text and the marker numbers that follow it."""

    text: str
    markers: tuple[int, ...]


def segments(answer: str) -> list[CitedSegment]:
    """Split an answer into text pieces, each with the markers written right after it.
    Trailing text with no marker is a segment with no markers. Markers follow whitespace."""
    out, pos = [], 0
    for m in _CITED.finditer(answer):
        out.append(
            CitedSegment(m.group(1).strip(), tuple(int(n) for n in _MARK.findall(m.group(2))))
        )
        pos = m.end()
    tail = answer[pos:].strip()
    if tail:
        out.append(CitedSegment(tail, ()))
    return [s for s in out if s.text or s.markers]


def problems(
    answer: str,
    citations: Sequence[Mapping[str, Any]],
    document_text: Callable[[str], str | None],
    *,
    verbatim: bool = True,
) -> list[str]:
    """Everything wrong with an answer's citations (empty list = grounded).

    Checks: every segment has a marker; every marker names a citation; every citation's quote
    is exactly `text[start:end]` of its document; with `verbatim`, every segment's text is found
    in the quotes it cites (extractive answers quote, they never paraphrase).
    """
    found: list[str] = []
    by_n = {int(c["n"]): c for c in citations}
    for c in citations:
        text = document_text(str(c["doc_id"]))
        if text is None:
            found.append(f"citation [{c['n']}]: document {c['doc_id']!r} not found")
        elif text[int(c["start"]) : int(c["end"])] != c["quote"]:
            found.append(
                f"citation [{c['n']}]: quote is not text[{c['start']}:{c['end']}] of {c['doc_id']!r}"
            )
    segs = segments(answer)
    if not segs:
        found.append("empty answer")
    for seg in segs:
        if not seg.markers:
            found.append(f"uncited text: {seg.text[:40]!r}")
            continue
        missing = [n for n in seg.markers if n not in by_n]
        if missing:
            found.append(f"marker(s) {missing} name no citation")
        elif (
            verbatim
            and seg.text
            and not any(_norm(seg.text) in _norm(str(by_n[n]["quote"])) for n in seg.markers)
        ):
            found.append(f"text not in its cited quotes: {seg.text[:40]!r}")
    return found


def _norm(s: str) -> str:
    return " ".join(s.split())
