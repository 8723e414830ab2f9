"""Questions about two things at once: "Nimbus X2 和 Aurora L5 的保修期分别是多久？", "What is
the price of the Orion R300 and the Aurora L5?". Their facts sit in two documents, so no one
sentence answers them: the engine splits such a question into one question per thing and
answers each from its own evidence (`AnswerEngine.answer`). Pure.

A question is a pair when two names of one kind (two years, quarters or months; two product,
model or proper names) are joined by a coordinator (和 与 及 还是 或 对比, and, or, vs), the
first not itself the tail of a list. Written by hand: no library here splits coordinated
questions, and no LLM runs here to rewrite them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text import STOPWORDS, fold, script_of
from engine.followup import slots

# the words that join the two names (with an article after an English one)
_COORDINATOR = re.compile(
    r"\s*(?:和|与|與|跟|同|及|以及|还是|還是|或者|或|对比|對比|\band\b|\bor\b|\bvs\.?|\bversus\b)"
    r"\s*(?:the\s+)?",
    re.I,
)
# a run of capitalised or digit-led Latin words: "Orion R300", "Aurora L5", "Q1", "2024"
_WORD = r"(?:[A-Z][A-Za-z0-9+&'-]*|\d[A-Za-z0-9+-]*)(?:\.[A-Za-z0-9]+)*"
_LATIN = re.compile(rf"{_WORD}(?:[ \t]+{_WORD})*")
# what may follow both names in Chinese: "2023年和2024年", "3月和4月"
_SUFFIXES = ("季度", "年", "月", "")
# "each" words, which a question about one thing drops: 分别是多少 -> 是多少
_ONE = re.compile(r"分别|分別|各自|\s*\b(?:respectively|both|each)\b", re.I)
_NAMES = {"latin", "model", "proper", "place", "person", "org", "name"}
_KINDS = {"year", "quarter", "month"}


@dataclass(frozen=True)
class Pair:
    """The two names as the question writes them, and the question asked of each."""

    names: tuple[str, str]
    questions: tuple[str, str]


def split_pair(question: str) -> Pair | None:
    """The question's two coordinated names and one question for each, or None."""
    if not _COORDINATOR.search(question):  # most questions: no tagging needed
        return None
    units = _units(question)
    for (k1, a1, b1), (k2, a2, b2) in zip(units, units[1:], strict=False):
        if not (k1 == k2 and k1 in _KINDS or {k1, k2} <= _NAMES):
            continue
        if question[:a1].rstrip().endswith(("、", ",", "，")):  # "A、B和C": a list, not a pair
            continue
        between = question[b1:a2]
        for suffix in _SUFFIXES:
            if (
                between.startswith(suffix)
                and question[b2 : b2 + len(suffix)] == suffix
                and _COORDINATOR.fullmatch(between[len(suffix) :])
            ):
                first = question[: b1 + len(suffix)] + question[b2 + len(suffix) :]
                second = question[:a1] + question[a2:]
                names = (question[a1:b1], question[a2:b2])
                return Pair(names, (_ONE.sub("", first), _ONE.sub("", second)))
    return None


def _units(question: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of the names in the question, in order: Latin runs, then the
    follow-up rules' slots (years, quarters, months, models, jieba's proper names) outside them.
    Slots are found in the folded question (jieba segments simplified text better) and placed
    back by offset when folding kept the length."""
    found: list[tuple[str, int, int]] = []
    for m in _LATIN.finditer(question):
        start, text = m.start(), m.group(0)
        words = text.split()
        # an English question's first word is capitalised anyway ("What", "Compare")
        if words[0].lower() in STOPWORDS or start == 0 and script_of(question) == "en":
            if len(words) < 2:
                continue
            start = m.start() + text.index(words[1], len(words[0]))
        found.append(("latin", start, m.end()))
    folded = fold(question)
    text = folded if len(folded) == len(question) else question
    taken = [(a, b) for _, a, b in found]
    for kind, span in slots(text):
        i = text.find(span)
        while i >= 0 and any(a <= i < b for a, b in taken):
            i = text.find(span, i + 1)
        if i < 0 or kind == "number":
            continue
        taken.append((i, i + len(span)))
        found.append((kind, i, i + len(span)))
    return sorted(found, key=lambda u: u[1])
