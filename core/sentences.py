"""Sentence spans with exact character offsets, for Chinese and English.

Written by hand: llama-index's and nltk's splitters return strings, not offsets, and do not know
Chinese end punctuation; citations need `text[start:end]` to be exact.
"""

from __future__ import annotations

import re

# A sentence ends after Chinese end punctuation (with closing quotes/brackets), after . ! ? when
# whitespace follows, or at a line break.
_END = re.compile(
    r"[。！？!?；;…]+[”’」』）)\]】》]*"
    r"|(?<![A-Z][a-z])(?<!\b[A-Za-z])(?<!\be\.g)(?<!\bi\.e)(?<!\betc)\.[”’\")\]]*(?=\s)"
    r"|\n"
)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split text[start:end] into sentences; return (start, end) offsets into `text`.

    Spans exclude surrounding whitespace; empty sentences are dropped.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _END.finditer(text, start, end):
        _add_span(text, pos, m.end(), spans)
        pos = m.end()
    _add_span(text, pos, end, spans)
    return spans


# Markdown list bullets, numbering and heading marks before a sentence are not part of it.
_LEAD = re.compile(r"\s*(?:[-*+•]\s+|#{1,6}\s+|\d{1,3}[.)]\s+|>\s*)?")


def _add_span(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> None:
    m = _LEAD.match(text, s, e)
    if m:
        s = m.end()
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        spans.append((s, e))
