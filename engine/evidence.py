"""Evidence selection for extractive answers: pure functions, no I/O.

A question becomes weighted key terms plus critical terms (numbers, years, model names, names,
quoted phrases) that the evidence must contain. Retrieved chunks are split into sentences with
document offsets; the answer is the smallest set of sentences that covers the question's terms.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import jieba.posseg
from py_rust_stemmers import SnowballStemmer

from core.records import Chunk, Passage
from core.sentences import sentence_spans
from core.text import STOPWORDS, fold, idf, words
from engine.quantities import (
    CN_DIGITS,
    MEASURE,
    MEASURES,
    MONEY,
    PERIODS,
    bounds,
    durations,
    number_in,
    quarters,
    unit_at,
)

CRITICAL_WEIGHT = 3.0
# Part-of-speech tags (jieba) of proper names: person, place, organisation, other proper noun.
_LOOKS_LIKE_MARKER = re.compile(r"\s\[\d+\]")
# ... and a sentence that markers follow on its line ("... 50000元。 [1][2]") is dressed up as
# cited. Reference marks glued to the text ("该协议[61][62]。", encyclopedia style) are not.
_MARKER_AFTER = re.compile(r"[ \t\u3000]+\[\d+\]")
# A line this short without end punctuation is a heading or a label, not a statement.
_ENDS_SENTENCE = re.compile(r"[。！？!?.;；:：…」』”]$")
# Person names (jieba guesses "nr" for many unknown words, so a common surname is required).
_PERSON_FLAGS = {"nr", "nrt"}
# Place names (jieba "ns") are critical too: a question about another city or office must not
# be answered from this one's figures. Words naming a scope rather than a place are not.
_SCOPE_WORDS = frozenset(
    [
        "中国",
        "我国",
        "全国",
        "国内",
        "国外",
        "海外",
        "全球",
        "世界",
        "国际",
        "各地",
        "当地",
        "本地",
        "地区",
        "中央",
        "地方",
        # common nouns that jieba's dictionary tags as places ("哪个城市", "这个东西")
        "城市",
        "城镇",
        "外国",
        "东西",
        "南北",
        "平原",
        "爱国",
        "英雄",
        "朝廷",
        "太阳",
    ]
)
# Characters jieba sometimes glues onto the end of a two-character name (孙恩曾 in 孙恩曾于).
_GLUED = frozenset("曾于在是和与将也又就的被把对向从给为")
# jieba tags unknown words as names by guesswork; a real name starts with a common surname.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_NUMBER = re.compile(r"(?<![A-Za-z0-9.])\d+(?:[.,]\d+)*(?![A-Za-z0-9])")
# Model names: letters and digits together (x2, gpt4, c919), also when Chinese follows (GPT4的).
_MODEL = re.compile(
    r"(?<![a-z0-9-])(?=[a-z0-9-]*\d)(?=[a-z0-9-]*[a-z])[a-z0-9][a-z0-9-]*(?<!-)(?![a-z0-9])"
)
_ORDINAL = re.compile(r"第[一二三四五六七八九十百零两\d]+")
# A capitalised English word after the first word of a question is a proper name.
_PROPER = re.compile(r"(?<=[\w,] )[A-Z][A-Za-z]+")
_QUOTED = re.compile(r"[\"“「『《]([^\"”」』》]{2,40})[\"”」』》]")
_APPROX_AFTER = re.compile(r"\s*(?:成|世纪|多|余)")
_APPROX_BEFORE = re.compile(r"(?:将近|接近|大约|约|超过|逾)\s*$")
_ASKS = re.compile(r"[?？]\s*$")
_EN_QUESTION = re.compile(
    r"\s*(?:what|who|whom|whose|which|when|where|why|how|is|are|was|were|do|does|did|can|could|"
    r"should|will|would)\b"
)
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
# Critical terms that have rivals of the same shape: a year (2025 for 2024) and a model with a
# letter prefix (x2 for x1, gpt-3 for gpt4). A sentence naming a rival but not the asked term
# is about something else, however well it covers the rest of the question.
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_MODEL_PARTS = re.compile(r"([a-z]+)-?(\d+)")


# What kind of answer a question asks for, and how to recognise a sentence that can give it.
# Answer values: an Arabic number (with what follows it), or a Chinese numeral before a measure word.
# A number: digits (not glued to a preceding letter: "S1", "R300" and "IP67" name a model or a
# code, not a value), or Chinese numerals before a measure word.
_VALUE = re.compile(rf"(?<![a-z\d.,])(\d+(?:[.,]\d+)*)\s*(\S?)|([{CN_DIGITS}]+)(?=[{MEASURE}])")
_MONTHS = r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
_WEEKDAYS = r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|周[一二三四五六日]|星期|週"
# What kind of answer a question asks for.
_WANTS = {
    "quantity": re.compile(
        # 几月 and 几号 ask for a date, 几个月 for a quantity
        r"多少|几[个天年次位名岁小周项种家台]|多久|多长|多大|多高|多远|how (?:many|much|long|old|far)|what (?:percentage|number|amount)"
    ),
    # a price or a cost: the answer is an amount of money, not a count ("卖多少钱" is not
    # answered by "销量为9,500台")
    "money": re.compile(
        r"多少钱|價錢|价钱|价格|價格|售价|售價|票价|票價|多少元|什么价|"
        r"how much (?:does|do|did|is|are|was|were|will)\b.{0,60}\b(?:cost|charge|pay)|"
        r"\bprice\b|\bcost of\b"
    ),
    # a span of time: the answer states one ("10个工作日", "18 months"), not any number (几年
    # is left out: "民國幾年" asks for a year)
    "duration": re.compile(
        r"多久|多长时间|多少个?(?:年|周|星期|天|小时|分钟|秒|工作日|工作天)|多少个月|"
        r"几(?:个?(?:星期|小时|工作日|工作天)|个月|周|天|分钟|秒)|how long\b(?! (?:is|was|are|were)\b)|"
        r"how many (?:working |business |calendar )?(?:years|months|weeks|days|hours|minutes|"
        r"seconds|decades)\b"
    ),
    # a weight: the answer states one in a unit of weight ("1.2公斤", "3 lb"), not a price
    "weight": re.compile(r"多重|多少(?:公斤|千克|克|斤|吨)|重量|\bweigh|how heavy"),
    "date": re.compile(
        r"何时|什么时候|哪一?年|哪一?天|几月|几号|日期|(?<!长)(?<!少)(?<!段)时间|when\b|what (?:date|year|day)"
    ),
}
# A question that can only ask for a date (not "时间" or a "when" inside a clause, which may ask
# for a time of day or be a conjunction).
_ASKS_DATE = re.compile(
    r"什么时候|何时|哪一?年|哪一?天|几月|几号|^\s*when\b|\bwhat (?:date|year)\b"
)
# A question about a rate, a share or a change, which a percentage answers.
_ASKS_SHARE = re.compile(
    r"率|比例|比重|占比|百分|份额|幅度|增长|增速|增幅|涨幅|跌幅|降幅|下降|下跌|上涨|提高|降低|减少|增加|"
    r"percent|rate\b|share|grow|increase|decrease|rise|fall|drop|decline|change"
)
# An amount of money asked by what it is (revenue, profit, pay); a rank asked of it.
_ASKS_EARNINGS = re.compile(
    r"营收|收入|收益|利润|营业额|销售额|市值|估值|工资|薪资|薪水|奖金|罚款|"
    r"revenue|profit|income|earnings|salary|valuation"
)
_ASKS_RANK = re.compile(r"第几|排名|排第|\brank")
# What comes before a year that a figure is compared with (the figure is for another year).
_COMPARED_BEFORE = re.compile(
    r"(?:相比|相较|对比|比|较|高于|低于|超过|超出|不及|compared (?:with|to)|than|versus|vs\.?)"
    r"\s*(?:于|去年)?\s*$"
)
# What follows a number given in percent (or per mille, or in percentage points).
_PERCENT_AFTER = re.compile(r"\s*(?:%|‰|个?百分点|percent|per cent|pct\b)")
# Words that make a measure another one: a per-head, average or one-day figure is not the total
# ("人均GDP为2.69万美元" does not give Shanghai's GDP, "首日票房" not the season's box office).
_QUALIFIER = re.compile(
    r"人均|日均|月均|年均|平均|单日|首日|per capita|per head|average|a single day"
)
# A question with no question word that ends on a measured noun asks for its value
# ("2022年全国棉花产量", "高考报名人数"); with one, it asks for something else
# ("哪种人为世族控制的人口?").
_QUANTITY_NOUN_END = re.compile(
    r"(?:营收|收入|利润|票房|产量|销量|交付量|出货量|出口量|进口量|成交量|发行量|人数|人次|"
    r"价格|售价|票价|gdp|市值|估值|预算|工资|薪资|增速|增幅|总额|总量|面积|人口|数量|比分|"
    r"[\u4e00-\u9fff]{1,3}率)(?:是|有|为)?[?？。.!！\s]*$"
)
WANT_BONUS = 0.25  # share of the question's weight a sentence of the asked-for kind earns
# A neighbour of the first sentence joins the evidence when the model gives it at least this
# share of the first sentence's p: the answer is often next to the sentence naming the topic.
NEIGHBOUR_SHARE = 0.5
# When the model thinks the first sentence more likely does not answer than does (p below this),
# its best neighbour joins whatever its score: a sentence that restates the question's topic
# ("蒙古各部与清政府关系，各有不同；") is often followed by the one that answers it, which the
# sentence model, seeing one sentence at a time, rates low.
UNSURE_FIRST = 0.5
EXTRA_MIN_GAIN = 0.1  # share of the question's weight a further sentence must add
# Words that ask rather than say; removed before terms are taken (几天 -> 天).
QUESTION_WORDS = re.compile(
    r"多少|几|什么|哪些|哪个|哪里|哪儿|哪|谁|怎么样|怎么|怎样|如何|为什么|为何|是否|是不是|吗|呢|请问"
    r"|因何|何时|何地|何处|何人|何种|何以|何者"  # not 何 alone: it is also a surname
)


@dataclass(frozen=True)
class QuestionTerms:
    """Folded key terms with weights, the critical ones as (as written, folded), and the kinds
    of answer the question asks for (quantity, amount, money, duration, weight, date)."""

    weights: dict[str, float]
    critical: tuple[tuple[str, str], ...]
    wants: tuple[str, ...] = ()
    # the measure word after a critical number in the question (3 -> 年 in "入职满3年")
    units: dict[str, str] = field(default_factory=dict)
    # the period a rate is asked per, as written ("每天" in "每天的午餐补助是多少"), and its kind
    period: tuple[str, str] | None = None
    # the question can only ask for a date ("什么时候上市", "When was ..."; judged_wants)
    asks_date: bool = False
    # the qualifiers of a measure the question names itself (人均 in "人均GDP是多少")
    qualifiers: frozenset[str] = frozenset()
    # the parts of a year asked about (quarters, halves, public holidays: "第二季度", "Q2",
    # "中秋"), as written, and their keys (quantities.quarters)
    quarter: tuple[str, frozenset[int | str]] | None = None

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def has(self, folded_text: str, critical: str) -> bool:
        """A critical term occurs in the text (a number with the question's unit, or inside a
        range the text states for that unit: 3 years is in "未满5年")."""
        if _YEAR.fullmatch(critical):
            # a year that is only the base of a comparison ("相比2021年增长65%", "超过2022年")
            # is not the year the sentence's figure is for
            return any(
                not _COMPARED_BEFORE.search(folded_text[max(0, m.start() - 8) : m.start()])
                for m in re.finditer(rf"(?<!\d){critical}(?!\d)", folded_text)
            )
        return contains(folded_text, critical, self.units.get(critical, ""))


@dataclass(frozen=True)
class Sentence:
    """One sentence of a retrieved chunk: `doc_id` and exact document offsets."""

    passage: Passage
    rank: int
    start: int
    end: int
    text: str
    folded: str
    heading: bool = False


@dataclass(frozen=True)
class Evidence:
    """The chosen sentences (in answer order) and what they cover of the question."""

    sentences: tuple[Sentence, ...]
    coverage: float
    missing_critical: tuple[str, ...]
    answers_kind: bool = True
    # p(answers) of the first sentence when a model scored the sentences; the answer engine
    # replaces it with the model's p(the question is answerable from this evidence)
    answerability: float | None = None


def question_terms(question: str) -> QuestionTerms:
    """Key terms of a question, weighted by IDF; critical terms weigh CRITICAL_WEIGHT x more."""
    shown = unicodedata.normalize("NFKC", question)
    asked = fold(question)
    folded = QUESTION_WORDS.sub(" ", asked)
    critical: dict[str, str] = {}
    for m in _QUOTED.finditer(shown):
        critical.setdefault(fold(m.group(1)), m.group(1))
    units: dict[str, str] = {}
    for m in _NUMBER.finditer(shown):
        if not _approximate(shown, m):
            critical.setdefault(m.group(0), m.group(0))
            if unit := unit_at(fold(shown), m.end()):
                units.setdefault(m.group(0), unit)
    for m in _MODEL.finditer(folded):  # shown as the question spells it (X1, not x1)
        written = re.search(re.escape(m.group(0)), shown, re.IGNORECASE)
        critical.setdefault(m.group(0), written.group(0) if written else m.group(0))
    for m in _ORDINAL.finditer(folded):
        critical.setdefault(m.group(0), m.group(0))
    for m in _PROPER.finditer(shown):
        if m.group(0).lower() not in STOPWORDS:
            critical.setdefault(_stem(m.group(0).lower()), m.group(0))
    for tok in jieba.posseg.lcut(folded):
        word = tok.word
        if tok.flag in _PERSON_FLAGS and len(word) == 3 and word[-1] in _GLUED:
            word = word[:2]  # jieba glues a following word onto a name: 孙恩曾(于) -> 孙恩
        person = tok.flag in _PERSON_FLAGS and 2 <= len(word) <= 4 and word[0] in SURNAMES
        place = tok.flag == "ns" and len(word) >= 2 and word not in _SCOPE_WORDS
        if person or place:
            critical.setdefault(word, _as_written(word, asked, shown))
    weights = {_stem(t): idf(t) for t in words(folded) if len(t) > 1 or not t.isascii()}
    for f in critical:
        weights[f] = max(weights.get(f, 0.0), idf(f)) * CRITICAL_WEIGHT
    # A critical term written with its own sub-words counts once, via the critical term.
    wants = tuple(kind for kind, asks in _WANTS.items() if asks.search(asked))
    if (
        "quantity" not in wants
        and _QUANTITY_NOUN_END.search(asked)
        and not QUESTION_WORDS.search(asked)
    ):
        wants = ("quantity", *wants)
    if "quantity" in wants and not _ASKS_SHARE.search(asked):
        # an amount (a total, a count, a price), which a share or a change in percent does not
        # give ("总产量是多少" is not answered by "占全国的26.1%")
        wants = (*wants, "amount")
        ranked = _ASKS_RANK.search(asked) is not None  # 市值名列第几: a rank, not the sum
        if "money" not in wants and not ranked and _ASKS_EARNINGS.search(asked):
            wants = (*wants, "money")  # 营收 is given in money, not in 人次
    period = next(
        (
            (_as_written(hit.group(0), asked, shown), kind)
            for kind, rx in PERIODS.items()
            if (hit := rx.search(asked))
        ),
        None,
    )
    asked_quarters = quarters(asked)
    quarter = (
        (_as_written(next(iter(asked_quarters.values())), asked, shown), frozenset(asked_quarters))
        if asked_quarters
        else None
    )
    return QuestionTerms(
        weights,
        tuple((shown_t, f) for f, shown_t in critical.items()),
        wants,
        units,
        period,
        _ASKS_DATE.search(asked) is not None,
        frozenset(m.group(0) for m in _QUALIFIER.finditer(asked)),
        quarter,
    )


def _as_written(word: str, asked: str, shown: str) -> str:
    """The question's own spelling of a word found in its folded text (霍布斯出生於英國: 英國,
    not 英国): a refusal names what is missing as the asker wrote it."""
    i = asked.find(word)
    if i < 0 or len(asked) != len(shown):  # folding changed the length: keep the folded word
        return word
    return shown[i : i + len(word)]


def _approximate(shown: str, m: re.Match[str]) -> bool:
    """The number is a rough magnitude ("将近5万人", "9成以上", "21世纪初", "300多"), which a
    document writes in its own way (49,736; 90%; 2005年): a key term, not one that must occur."""
    after = fold(shown[m.end() : m.end() + 3])
    before = fold(shown[max(0, m.start() - 3) : m.start()])
    return _APPROX_AFTER.match(after) is not None or _APPROX_BEFORE.search(before) is not None


def unstated_numbers(terms: QuestionTerms, folded_text: str) -> tuple[str, ...]:
    """The question's critical numbers written in digits ("2.6", "2025") that the text does not
    state (`contains`): digits read the same in every language, so this part of the
    critical-term check holds across languages too (no unit is compared: "3 years" may be
    "3年")."""
    return tuple(
        shown
        for shown, f in terms.critical
        if _NUMBER.fullmatch(f) and not contains(folded_text, f)
    )


def conflicts(terms: QuestionTerms, folded_sentence: str) -> tuple[str, ...]:
    """The question's critical terms that the sentence contradicts: it names a rival of the same
    shape (another year, the same model line with another number) and not the term itself; and
    the period a rate is asked per, when the sentence gives the rate per another period."""
    out = []
    for shown, f in terms.critical:
        if terms.has(folded_sentence, f):
            continue
        if _YEAR.fullmatch(f):
            rival = _YEAR.pattern
        elif m := _MODEL_PARTS.fullmatch(f):
            rival = rf"(?<![a-z]){m.group(1)}-?\d+"
        elif f[:1].isdigit() and (unit := terms.units.get(f, "")) and bounds(folded_sentence, unit):
            out.append(shown)  # another tier: "满10年及以上" where 6 years was asked
            continue
        else:
            continue
        if re.search(rival, folded_sentence):
            out.append(shown)
    if terms.period is not None:  # 每月 800元 does not answer 每天多少
        shown, kind = terms.period
        named = {k for k, rx in PERIODS.items() if rx.search(folded_sentence)}
        if named and kind not in named:
            out.append(shown)
    # a value asked: the per-head figure (人均GDP) is not the GDP asked
    for m in _QUALIFIER.finditer(folded_sentence) if "amount" in terms.wants else ():
        asked_term = next(
            (t for t in terms.weights if len(t) > 1 and folded_sentence.startswith(t, m.end())),
            None,
        )
        if m.group(0) not in terms.qualifiers and asked_term is not None:
            out.append(asked_term)
            break
    if terms.quarter is not None:  # 第一季度 does not answer the second quarter, 端午 not 中秋
        shown, asked = terms.quarter
        named_quarters = quarters(folded_sentence)
        if named_quarters and not asked & named_quarters.keys():
            out.append(shown)
    return tuple(out)


def answers_kind(terms: QuestionTerms, folded_sentence: str) -> bool:
    """The sentence holds a value of the kind the question asks for (a quantity, an amount
    that is no percentage, a sum of money, a span of time, a weight, a date) that is not just
    one of the question's own numbers (2021 in "2021年的产量是多少" is no answer)."""
    asked = {f for _, f in terms.critical if f[:1].isdigit()}
    for kind in terms.wants:
        values = []
        for m in _VALUE.finditer(folded_sentence):
            number, after = m.group(1), m.group(2) or ""
            if number is None:
                values.append(("quantity", m.group(3), m.end(3)))
            elif number not in asked:
                year = len(number) == 4 and number[:2] in ("19", "20")
                is_date = year or (after != "" and after in "月日号")  # "10年" is a duration
                values.append(("date" if is_date else "quantity", number, m.end(1)))
        if kind == "date":
            named = re.search(f"{_MONTHS}|{_WEEKDAYS}", folded_sentence) is not None
            found = named or any(k == "date" for k, _, _ in values)
        elif kind == "amount":
            found = any(
                k == "quantity" and not _PERCENT_AFTER.match(folded_sentence, end)
                for k, _, end in values
            )
        elif kind in MEASURES:
            found = any(m.group("n") not in asked for m in MEASURES[kind].finditer(folded_sentence))
        elif kind == "duration":
            found = bool(durations(folded_sentence, asked))
        elif kind == "money":
            found = any(
                (m.group("n") or m.group("n2")) not in asked
                for m in MONEY.finditer(folded_sentence)
            )
        else:
            found = any(k == "quantity" for k, _, _ in values)
        if not found:
            return False
    return True


@functools.cache
def _stemmer() -> SnowballStemmer:
    return SnowballStemmer("english")


def _stem(term: str) -> str:
    """English words by their stem ('employees' -> 'employe'), which also matches as a substring
    of the other forms; Chinese words as they are."""
    return _stemmer().stem_word(term) if term.isascii() and term.isalpha() else term


def credit(folded_text: str, term: str) -> float:
    """1 when the term occurs; for a Chinese word that does not, half the share of its
    characters that do (jieba splits unknown compounds unpredictably: 年假 -> 年 + 假)."""
    if contains(folded_text, term):
        return 1.0
    if term.isascii() or len(term) < 2:
        return 0.0
    return 0.5 * sum(ch in folded_text for ch in term) / len(term)


def contains(folded_text: str, term: str, unit: str = "") -> bool:
    """Term occurs in the text; numbers must not be part of a longer number, and a small
    whole number also matches its Chinese numeral (7 and 七月, 12 and 十二); 第一 also matches
    首 before a measure word (第一任校长 and 首任校长). A number asked with a `unit` (年 in
    "满3年") does not match the same number with another unit (3月31日), and matches a range
    the text states in that unit ("未满5年", "5至10年")."""
    if term[:1].isdigit():
        return number_in(folded_text, term, "" if _YEAR.fullmatch(term) else unit)
    if term == "第一" and term not in folded_text:
        return re.search(r"首[任届次位个家批部座架艘款]", folded_text) is not None
    if term[-1:] == "i" and term.isascii() and term.isalpha() and term not in folded_text:
        # an English stem that turned y into i ("warranti", "germani") is not a substring of
        # the word's own form: "warranty", "Germany"
        return f"{term[:-1]}y" in folded_text
    return term in folded_text


def never_evidence(chunk: Chunk, start: int, end: int) -> bool:
    """Whether the sentence chunk.text[start:end] may never be evidence: it overlaps a span
    marked at ingest as addressing the assistant, or quoting it would read as a citation
    marker ("... 500 dollars [1][2].")."""
    if _LOOKS_LIKE_MARKER.search(chunk.text, start, end) or _MARKER_AFTER.match(chunk.text, end):
        return True
    return any(ps < end and start < pe for ps, pe in chunk.planted)


def withheld(chunk: Chunk) -> list[tuple[int, int]]:
    """The sentences of the chunk (offsets in chunk.text) that may never be evidence."""
    return [(s, e) for s, e in sentence_spans(chunk.text) if never_evidence(chunk, s, e)]


def split_sentences(passages: Sequence[Passage]) -> list[Sentence]:
    """Sentences of the passages with document offsets, each span once."""
    seen: set[tuple[str, int]] = set()
    seen_text: set[str] = set()
    out = []
    for rank, p in enumerate(passages):
        c = p.chunk
        for s, e in sentence_spans(c.text):
            key = (c.doc_id, c.char_start + s)
            folded = fold(c.text[s:e])
            if key in seen or folded in seen_text:  # chunk overlap, or the same text elsewhere
                continue
            seen.add(key)
            seen_text.add(folded)
            text = c.text[s:e]
            heading = len(text) <= 40 and not _ENDS_SENTENCE.search(text)
            if never_evidence(c, s, e):
                continue
            out.append(Sentence(p, rank, c.char_start + s, c.char_start + e, text, folded, heading))
    return out


def select(
    terms: QuestionTerms,
    sentences: Sequence[Sentence],
    max_sentences: int,
    scores: Sequence[float] | None = None,
    rank: Sequence[float] | None = None,
    first: Sentence | None = None,
) -> Evidence:
    """Greedy weighted set cover within one document.

    The first sentence chooses the document: the one the answerability model scores highest
    when `scores` (one per sentence) are given (by `rank`, one per sentence, when given: the
    model's question stage, `answerability.Model.ranking`), else the one that covers the
    question best (ties broken by the kind of answer asked for and by retrieval rank); or
    `first`, when given (a candidate the reader's pick stage chose). Further sentences of that
    document join while they add whole words of the question not yet covered, so evidence
    never stitches a year from one document onto a figure from another; with `scores`, one the
    model rates below NEIGHBOUR_SHARE of the first's p is context, counted but not quoted.
    Coverage counts the non-critical terms found in the chosen sentences, that context or the
    document's title; each critical term must occur in the first
    sentence's context (its neighbours, the heading above it) or in the document's title.
    """
    all_missing = tuple(shown for shown, _ in terms.critical)
    score_of = dict(zip(map(id, sentences), scores, strict=True)) if scores is not None else None
    candidates = answer_candidates(terms, sentences)
    if not candidates or terms.total == 0:
        return Evidence((), 0.0, all_missing, False, 0.0 if score_of is not None else None)

    def gain(s: Sentence, covered: dict[str, float]) -> float:
        return sum(
            w * max(0.0, credit(s.folded, t) - covered.get(t, 0.0))
            for t, w in terms.weights.items()
        )

    def prior(s: Sentence) -> float:  # answer kind, then retrieval rank, break ties
        kind = WANT_BONUS if terms.wants and answers_kind(terms, s.folded) else 0.0
        return kind + 0.05 * s.passage.dense_score + 0.02 / (1 + s.rank)

    if first is None or all(c is not first for c in candidates):
        if score_of is not None:
            rank_of = dict(zip(map(id, sentences), rank, strict=True)) if rank else score_of
            first = max(candidates, key=lambda s: (rank_of[id(s)], prior(s)))
        else:
            first = max(candidates, key=lambda s: gain(s, {}) / terms.total + prior(s))
    p_first = score_of[id(first)] if score_of is not None else None
    title = fold(first.passage.chunk.title)
    about = {t: credit(title, t) for t in terms.weights} if title else {}
    if gain(first, {}) <= 0 and not any(about.values()):
        return Evidence((), 0.0, all_missing, False, 0.0 if score_of is not None else None)
    chosen = [first]
    if score_of is not None and p_first is not None and max_sentences > 1:
        near = [s for s in _neighbours(first, sentences) if not conflicts(terms, s.folded)]
        least = 0.0 if p_first < UNSURE_FIRST else NEIGHBOUR_SHARE * p_first
        scored = [s for s in near if score_of[id(s)] >= least]
        if scored:  # the answer is often in the sentence next to the one naming the topic
            chosen.append(max(scored, key=lambda s: score_of[id(s)]))
    covered = {t: max(credit(s.folded, t) for s in chosen) for t in terms.weights}
    same_doc = [
        s
        for s in candidates
        if s.passage.chunk.doc_id == first.passage.chunk.doc_id and not conflicts(terms, s.folded)
    ]

    def whole_gain(s: Sentence) -> float:
        # whole words only: "每年享有12天全薪病假" adds nothing to "年假要提前几天申请" (jieba
        # cuts it 年 / 假要 / 提前 / 天 / 申请; single characters say little)
        return sum(
            w * max(0.0, float(contains(s.folded, t)) - covered.get(t, 0.0))
            for t, w in terms.weights.items()
            if len(t) > 1
        )

    unquoted: list[Sentence] = []  # sentences that cover the question's words, not quoted
    while same_doc and len(chosen) + len(unquoted) < max_sentences:
        best = max(same_doc, key=whole_gain)
        if best in chosen or best in unquoted or whole_gain(best) / terms.total < EXTRA_MIN_GAIN:
            break
        if (
            score_of is not None
            and p_first is not None
            and score_of[id(best)] < NEIGHBOUR_SHARE * p_first
        ):
            # the model does not rate it as answering: it says what the quote is about (as a
            # title does) and counts towards coverage, but is not quoted
            unquoted.append(best)
        else:
            chosen.append(best)
        covered = {t: max(c, credit(best.folded, t)) for t, c in covered.items()}
    critical = {f for _, f in terms.critical}
    plain = {t: w for t, w in terms.weights.items() if t not in critical}
    # The document's title says what its sentences are about ("Reichstag fire" for "the arson
    # was planned ..."): what it covers counts, as it does for the critical terms below.
    covered = {t: max(c, about.get(t, 0.0)) for t, c in covered.items()}
    coverage = sum(w * covered[t] for t, w in plain.items()) / sum(plain.values()) if plain else 1.0
    context = " ".join([title, *(s.folded for s in _context(first, sentences))])
    missing = tuple(shown for shown, f in terms.critical if not terms.has(context, f))
    # The best sentence naming another year or model than the one asked (X2's price for a
    # question about X1) means the evidence is about something else: the term counts as missing.
    missing += tuple(t for t in conflicts(terms, first.folded) if t not in missing)
    if score_of is not None:
        terms = judged_wants(terms)
    kind = any(answers_kind(terms, s.folded) for s in chosen)
    return Evidence(tuple(sorted(chosen, key=lambda s: s.start)), coverage, missing, kind, p_first)


def judged_wants(terms: QuestionTerms, dates: bool = False) -> QuestionTerms:
    """The kinds of value that must show when a model judges the sentences: only a quantity
    or a price must show as a number; a date may be an era, a season or a time of day ("宋代",
    "当天下午", "10:00 to 15:00"), which the model weighs. `dates`: a question that can only ask
    for a date keeps the date kind (read across languages, where it measured better; in the
    same language DRCD's dates (1862年, 中世紀, 當天下午) are no date to answers_kind)."""
    keep = dates and terms.asks_date
    return replace(terms, wants=tuple(k for k in terms.wants if k != "date" or keep))


def answer_candidates(terms: QuestionTerms, sentences: Sequence[Sentence]) -> list[Sentence]:
    """The sentences that may start an answer: not headings, not questions, and not a mere
    repetition of the question ("卡塔尔世界杯决赛队伍."): a candidate has two characters
    (Chinese) or words (English) that the question does not have."""
    asked_chars = {ch for k in terms.weights if not k.isascii() for ch in k}
    asked_words = [k for k in terms.weights if k.isascii()]

    def states_something(s: Sentence) -> bool:
        if _ASKS.search(s.text) and (_CJK_CHAR.search(s.text) or _EN_QUESTION.match(s.folded)):
            return False  # a question ("沉香如屑的主演有谁？"), not a title ending on "?"
        novel = sum(ch not in asked_chars for ch in _CJK_CHAR.findall(s.folded))
        for w in _LATIN_WORD.findall(s.folded):
            if novel >= 2:
                break
            if w not in STOPWORDS and not any(w.startswith(k) for k in asked_words):
                novel += 1
        return novel >= 2

    return [s for s in sentences if not s.heading and states_something(s)]


def _neighbours(first: Sentence, sentences: Sequence[Sentence]) -> list[Sentence]:
    """The sentences just before and after `first` in its chunk (not headings)."""
    return [s for s in _window(first, sentences)[0] if s is not first and not s.heading]


def _context(first: Sentence, sentences: Sequence[Sentence]) -> list[Sentence]:
    """The sentence, its neighbours and the nearest heading above it in its chunk: where the
    critical terms of a question (year, place, model, name) must be for it to answer it."""
    near, heading = _window(first, sentences)
    return [*near, *([heading] if heading else [])]


def _window(
    first: Sentence, sentences: Sequence[Sentence]
) -> tuple[list[Sentence], Sentence | None]:
    """`first` with the sentences next to it in its chunk, and the nearest heading above it."""
    same = [s for s in sentences if s.passage is first.passage]
    i = same.index(first)
    heading = next((s for s in reversed(same[:i]) if s.heading), None)
    return same[max(0, i - 1) : i + 2], heading
