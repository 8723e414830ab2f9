"""Questions about two things at once: "Nimbus X2 和 Aurora L5 的保修期分别是多久？", "What is
the price of the Orion R300 and the Aurora L5?". Their facts sit in two documents, so no one
sentence answers them: the engine splits such a question into one question per thing and
answers each from its own evidence (`AnswerEngine.answer`). Pure.

A question is a pair when two names of one kind (two years, quarters or months; two product,
model or proper names) are joined by a coordinator (和 与 及 还是 或 对比, and, or, vs), the
first not itself the tail of a list; or when each of the two names is asked its own attribute
in its own clause (`_two_clauses`). Written by hand: no library here splits coordinated
questions, and no LLM runs here to rewrite them.
"""

from __future__ import annotations

import itertools
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
# an English question's lead that a second clause shares: "What is the", "How many ... are"
_LEAD = re.compile(
    r"\s*(?:what|which|how\s+\w+|when|where|who)\s+(?:is|are|was|were)\s+(?:the\s+)?", re.I
)
_WH = re.compile(r"\s*(?:what|which|how|when|where|who)\b", re.I)
# what may follow an English question's last name: "respectively", its closing mark
_ENDS = re.compile(r"\s*(?:respectively|both|each)?\s*[?？.!]?\s*$", re.I)
# where a Chinese question's predicate starts after its last attribute: 分别是多少, 各为何
_PREDICATE = re.compile(r"分别|分別|各自|各|是|为|為|多少|几|幾|什么|什麼|哪|多久|多长|多長|何")
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
    return _two_clauses(question, units)


def _two_clauses(question: str, units: list[tuple[str, int, int]]) -> Pair | None:
    """Two things each asked its own attribute: "What is the number of VPN tunnels of the Orion
    R300 and the number of fingerprints of the Aurora L5?" (the second clause takes the first's
    lead, "What is the"), "Orion R300 的 VPN 通道数和 Aurora L5 的指纹数分别是多少？" (the first
    clause takes the second's predicate, "是多少？"). None when the question has neither form."""
    names = [(a, b) for kind, a, b in units if kind in _NAMES]
    for (a1, b1), (a2, b2) in itertools.combinations(names, 2):
        between = question[b1:a2]
        name_pair = (question[a1:b1], question[a2:b2])
        coordinator = _COORDINATOR.match(between)
        if coordinator and between[coordinator.end() :].strip() and _ENDS.fullmatch(question[b2:]):
            # English: the first clause ends at the first name, the second at the second name
            rest = between[coordinator.end() :] + question[a2:]
            lead = _LEAD.match(question)
            if _WH.match(rest):  # "... of the Orion R300 and how many fingerprints does ..."
                second = rest
            elif lead and lead.end() <= a1:
                second = lead.group(0) + rest
            else:
                continue
            mark = question.rstrip()[-1:]  # the question's own mark, if it has one
            first = question[:b1].rstrip(" ,") + (mark if mark in ("?", "？") else "")
            return Pair(name_pair, (_ONE.sub("", first), _ONE.sub("", second).strip()))
        if between.lstrip().startswith("的") and question[b2:].lstrip().startswith("的"):
            # Chinese: "A 的 X 和 B 的 Y 分别是多少": the first clause borrows the predicate
            tail = [m for m in _COORDINATOR.finditer(between) if m.end() == len(between)]
            predicate = _PREDICATE.search(question, b2)
            if len(tail) != 1 or predicate is None or not between[: tail[0].start()].strip("的 "):
                continue
            first = question[: b1 + tail[0].start()] + question[predicate.start() :]
            second = question[:a1] + question[a2:]
            return Pair(name_pair, (_ONE.sub("", first), _ONE.sub("", second)))
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
