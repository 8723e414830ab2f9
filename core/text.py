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


def fold(text: str) -> str:
    """Fold for matching: NFKC (full-width -> half-width), traditional -> simplified, lower case."""
    return _t2s().convert(unicodedata.normalize("NFKC", text)).lower()


def script_of(text: str) -> str:
    """'zh-Hant', 'zh-Hans' or 'en': the script a message to this text's writer should use."""
    if not _CJK.search(text):
        return "en"
    return "zh-Hant" if _t2s().convert(text) != text else "zh-Hans"


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
