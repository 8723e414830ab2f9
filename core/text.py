"""Text folding and terms: traditional -> simplified (OpenCC), full-width -> half-width, lower case.

Folded text is for matching and sparse terms only, never for what is displayed or quoted.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterator

import jieba
import opencc

jieba.setLogLevel(logging.WARNING)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[0-9a-z][0-9a-z._%+\-]*|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# Function words and question words that say nothing about the topic. Small on purpose:
# jieba's IDF table (used for weights) already gives common words little weight.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "也",
        "都",
        "就",
        "而",
        "被",
        "把",
        "对",
        "从",
        "向",
        "于",
        "以",
        "为",
        "之",
        "其",
        "这",
        "那",
        "这个",
        "那个",
        "这些",
        "那些",
        "有",
        "没有",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "什么",
        "哪些",
        "哪个",
        "哪里",
        "哪",
        "谁",
        "多少",
        "几",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "是否",
        "是不是",
        "请问",
        "请",
        "一下",
        "可以",
        "能",
        "能否",
        "会",
        "要",
        "需要",
        "应该",
        "么样",
        "多久",
        "多长",
        "时间",
        "何时",
        "什么时候",
        "哪一年",
        "哪天",
        "个",
        "一个",
        "我",
        "我们",
        "你",
        "你们",
        "他",
        "她",
        "它",
        "他们",
        "公司",
        "吗？",
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "much",
        "many",
        "long",
        "is",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "we",
        "you",
        "he",
        "she",
        "they",
        "our",
        "your",
        "my",
        "me",
        "us",
        "there",
        "their",
        "about",
        "as",
        "if",
        "than",
        "then",
        "so",
        "not",
        "no",
        "yes",
        "please",
        "tell",
    ]
)


@functools.cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese only (no width or case folding)."""
    return _t2s().convert(text)


def fold(text: str) -> str:
    """Fold for matching: NFKC (full-width -> half-width), traditional -> simplified, lower case."""
    return _t2s().convert(unicodedata.normalize("NFKC", text)).lower()


_LATIN_WORDS = re.compile(r"[A-Za-z]{2,}")


def language_of(text: str) -> str:
    """'zh' or 'en': what a text is mostly written in, Chinese characters counted against
    words of Latin letters (a Chinese passage naming "Aurora S2" is still Chinese)."""
    cjk = len(_CJK.findall(text))
    return "zh" if cjk and cjk >= len(_LATIN_WORDS.findall(text)) else "en"


def script_of(text: str) -> str:
    """'zh-Hant', 'zh-Hans' or 'en': the script a message to this text's writer should use."""
    if not _CJK.search(text):
        return "en"
    return "zh-Hant" if _t2s().convert(text) != text else "zh-Hans"


# Characters no text keeps, as a regex class body: C0 and C1 controls other than tab, line
# breaks and BREAK_CHARS, zero-width characters and byte-order marks. Documents
# (ingest.decoding) and questions (`clean_question`) both remove them.
JUNK_CHARS = "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200b-\u200d\u2060\ufeff"
# Vertical tab, form feed, the C0 information separators and NEL (a regex class body):
# questions read them as spaces, documents lose them (their tabs and line breaks are kept).
BREAK_CHARS = "\x0b\x0c\x1c-\x1f\x85"
# Questions: tabs and line breaks read as spaces, junk is removed.
_QUESTION_SPACE = re.compile(f"[\t\n\r\u2028\u2029{BREAK_CHARS}]")
_QUESTION_JUNK = re.compile(f"[{JUNK_CHARS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_question(text: str) -> str:
    """A question as retrieval should read it: tabs and line breaks become spaces, other C0/C1
    control characters and zero-width characters are removed, and the ends are stripped.

    Raises ValueError naming the position of a lone UTF-16 surrogate (text that is not Unicode,
    such as an emoji cut in half by the client), which no embedder or tokenizer can encode.
    """
    bad = _SURROGATE.search(text)
    if bad is not None:
        raise ValueError(
            f"question has a lone UTF-16 surrogate {ascii(bad.group())} at character "
            f"{bad.start()} - send valid Unicode text (an emoji cut in half?)"
        )
    return _QUESTION_JUNK.sub("", _QUESTION_SPACE.sub(" ", text)).strip()


def words(folded: str) -> Iterator[str]:
    """Word tokens of folded text: jieba search-mode for Chinese, alphanumeric runs otherwise.

    Search mode also yields the sub-words of long words (e.g. 带薪年假 -> 带薪, 年假), which
    makes sparse matching robust to how a question phrases a compound.
    """
    for run in _WORD.findall(folded):
        if _CJK.match(run):
            for tok in jieba.cut_for_search(run):
                if tok not in STOPWORDS:
                    yield tok
        elif run not in STOPWORDS:
            yield run.strip("._-+%")  # trailing punctuation glued to a word


@functools.cache
def _idf_table() -> tuple[dict[str, float], float]:
    import jieba.analyse

    table = jieba.analyse.default_tfidf.idf_freq
    return table, jieba.analyse.default_tfidf.median_idf


def idf(term: str) -> float:
    """A general-language IDF for weighting question terms (jieba's table; median if unknown)."""
    table, median = _idf_table()
    return table.get(term, median)
