"""Follow-up questions by rules (pure): "那2023年呢？" after "2022年营收是多少？" retrieves with
"2023年营收是多少？". Only the retrieval question is rewritten; quotes still come from passages.

A turn is a follow-up when it is short and elliptical (a cue such as 那/还有/呢/what about/and,
or nothing but a year, quarter, model or name) and asks nothing of its own: "VPN 多久自动断开呢？"
has a question word and is a question by itself. Its slots (years, quarters, months, model names,
numbers, proper names) replace the slots of the same kind in the previous question; a follow-up
that names a thing sharing its head with one in the previous question replaces that thing (丧假
for 年假, "sick leave" for "annual leave"); any other follow-up is prepended to the previous
question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import jieba.posseg

from core.text import STOPWORDS

MAX_FOLLOWUP_CHARS = 24  # longer turns are questions of their own

_LEAD = re.compile(
    r"^\s*(?:那么|那麼|那|还有|還有|另外|and\s+(?:what\s+about|how\s+about|for|in)?|"
    r"what\s+about|how\s+about|and)\s*",
    re.I,
)
_TAIL = re.compile(r"\s*(?:呢|的呢|又如何|怎么样|怎麼樣|如何|then)?\s*[?？。!！.]*\s*$", re.I)
_CUE = re.compile(r"^\s*(?:那|还有|還有|另外|and\b|what about|how about)|呢\s*[?？]?\s*$", re.I)

# (kind, pattern) in the order slots are looked for; a span is claimed by the first kind.
_SLOTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("year", re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")),
    ("quarter", re.compile(r"第[一二三四1-4]季度?|[一二三四]季度|\bQ[1-4]\b", re.I)),
    ("month", re.compile(r"(?<!\d)\d{1,2}月|[一二三四五六七八九十]{1,2}月")),
    ("model", re.compile(r"\b[A-Za-z]+-?\d+[A-Za-z0-9-]*\b")),
    ("number", re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])")),
)
_NAME_FLAGS = {"ns": "place", "nr": "person", "nrt": "person", "nt": "org", "nz": "name"}
# Words that ask: a turn with one of these (after its cue) is a question of its own.
_ASKS = re.compile(
    r"多少|几|什么|甚麼|哪|谁|誰|多久|多长|多長|怎么|怎麼|如何|为什么|為什麼|是否|吗|嗎|"
    r"\b(?:how|what|when|where|which|who|whom|whose|why|is|are|do|does|did|can|could|will)\b",
    re.I,
)


def retrieval_question(user_turns: Sequence[str]) -> str:
    """The question to retrieve with for the last user turn, resolving follow-ups in order
    (a follow-up of a follow-up builds on the rewritten question)."""
    question = ""
    for turn in user_turns:
        question = merge(question, turn) if question and is_followup(turn) else turn.strip()
    return question


def is_followup(turn: str) -> bool:
    """A short turn with an elliptical cue, or one that is nothing but slots."""
    text = turn.strip()
    if not text or len(text) > MAX_FOLLOWUP_CHARS:
        return False
    core = _core(text)
    if _ASKS.search(core):
        return False
    if _CUE.search(text):
        return True
    rest = core
    for _, span in slots(core):
        rest = rest.replace(span, "")
    return bool(core) and not re.sub(r"[\s年的]", "", rest)


def merge(previous: str, followup: str) -> str:
    """The previous question with the follow-up's slots put in place of the same kinds."""
    core = _core(followup)
    if not core:
        return previous
    merged, replaced = previous, False
    for kind, new in slots(core):
        old = next((span for k, span in slots(merged) if k == kind and span != new), None)
        if old is not None:
            merged, replaced = merged.replace(old, new, 1), True
        elif any(k == kind and span == new for k, span in slots(merged)):
            replaced = True
    if replaced:
        return merged
    if (same_head := _same_head(previous, core)) is not None:
        return previous.replace(same_head, core, 1)
    sep = "" if _is_cjk(core[-1]) and _is_cjk(previous[:1] or "a") else " "
    return f"{core}{sep}{previous}"


def _same_head(previous: str, core: str) -> str | None:
    """The span of `previous` naming a thing of the same head as `core`, if any: the
    characters ending in the same one for Chinese (年假 for 丧假, 营业额 for 销售额), the words
    before the same last word for English ("annual leave" for "sick leave")."""
    if _is_cjk(core[-1]):
        # by characters: jieba does not know many such compounds (年假 -> 年 + 假)
        for n in sorted({len(core), 2}, reverse=True):
            for i in range(n - 1, len(previous)):
                span = previous[i - n + 1 : i + 1]
                if span[-1] == core[-1] and span != core and all(map(_is_cjk, span)):
                    return span
        return None
    words, before = core.split(), previous.split()
    head = words[-1].lower()
    for i, w in enumerate(before):
        if w.lower().strip("?.,!") == head and i >= len(words) - 1:
            span = " ".join(before[i - len(words) + 1 : i + 1]).rstrip("?.,!")
            return span if span.lower() != core.lower() else None
    return None


def _core(turn: str) -> str:
    """The turn without its follow-up cue words and closing punctuation."""
    text = _LEAD.sub("", turn.strip())
    return _TAIL.sub("", text).strip()


def slots(text: str) -> list[tuple[str, str]]:
    """(kind, span) of the slots of `text`, in the order of `_SLOTS`, then proper names."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _SLOTS:
        for m in pattern.finditer(text):
            if not any(m.start() < e and s < m.end() for s, e in taken):
                taken.append(m.span())
                found.append((kind, m.group(0)))
    found += [(kind, word) for kind, word in _names(text) if all(word != s for _, s in found)]
    return found


def _names(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for pair in jieba.posseg.cut(text):
        word, flag = pair.word, pair.flag
        kind = _NAME_FLAGS.get(flag)
        if kind and len(word) >= 2:
            out.append((kind, word))
        elif (
            word[:1].isupper()
            and word.isalpha()
            and word.isascii()
            and len(word) > 1
            and word.lower() not in STOPWORDS  # How, What, The: not names
        ):
            out.append(("proper", word))
    return out


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"
