"""Amounts in text (pure): Chinese numerals, the unit after a number (Chinese measure words and
English unit words), the ranges a clause states for an amount ("未满5年", "5 to 10 years"), the
period a rate is given per (每天, monthly) and amounts of money. The evidence rules read
questions and sentences through these; written by hand because no maintained library parses
Chinese numerals, measure words and policy-style ranges together.
"""

from __future__ import annotations

import re

CN_DIGITS = "零〇一二两三四五六七八九十百千万亿半"
MEASURE = "个天年月周人元万亿倍次名岁位项家台件种条所座场届辆吨米克公里小时分钟秒%‰"

# The period a rate is given per: a question asking per day is not answered by a monthly figure.
PERIODS = {
    "day": re.compile(
        r"每天|每日|每个?工作日|/天|/日|\bper day\b|\bdaily\b|\beach day\b|\ba day\b"
    ),
    "week": re.compile(r"每周|每星期|/周|\bper week\b|\bweekly\b|\beach week\b|\ba week\b"),
    "month": re.compile(r"每月|每个月|/月|\bper month\b|\bmonthly\b|\beach month\b|\ba month\b"),
    "year": re.compile(r"每年|/年|\bper (?:year|annum)\b|\bannually\b|\byearly\b|\beach year\b"),
    "once": re.compile(r"一次性|\bone-(?:time|off)\b"),
}
# An amount of money: a currency sign before the number, or a currency word after it.
MONEY = re.compile(
    r"(?:[$¥€£￥]|nt\$|us\$|hk\$|rmb|usd|hkd|新台币|人民币|港币)\s*(?P<n>\d+(?:[.,]\d+)*)|"
    r"(?P<n2>\d+(?:[.,]\d+)*)\s*(?:[万亿千百]\s*)?"
    r"(?:元|美元|港元|欧元|英镑|日元|块|dollars?|yuan|euros?|pounds?|rmb|usd|hkd)"
)


# A quarter of a year: 第一季度 / 一季度 / Q1 / first quarter (not 前三季度, the first three).
_QUARTER = re.compile(
    r"(?<!前)(?:第)?([一二三四1-4])季度|(?<![a-z0-9])q([1-4])(?![\d])|"
    r"\b(first|second|third|fourth|1st|2nd|3rd|4th) quarter\b"
)
_QUARTER_NUMBER = {
    **dict(zip("一二三四", range(1, 5), strict=True)),
    **{str(n): n for n in range(1, 5)},
    **dict(zip(("first", "second", "third", "fourth"), range(1, 5), strict=True)),
    **dict(zip(("1st", "2nd", "3rd", "4th"), range(1, 5), strict=True)),
}


# Other named parts of a year: its halves and its public holidays (folded, simplified).
_PART_OF_YEAR = {
    "h1": r"上半年|first half", "h2": r"下半年|second half",
    "spring festival": r"春节|春运|chinese new year|lunar new year", "qingming": r"清明",
    "labour day": r"劳动节|五一(?:假期|黄金周)|may day", "dragon boat": r"端午|dragon boat",
    "mid-autumn": r"中秋|mid-autumn", "national day": r"国庆|十一(?:假期|黄金周)",
}  # fmt: skip


def quarters(folded_text: str) -> dict[int | str, str]:
    """The quarters of a year the text names (1..4), its halves ("h1", "h2") and its public
    holidays (by name), each with the words naming it."""
    out: dict[int | str, str] = {}
    for m in _QUARTER.finditer(folded_text):
        word = next(g for g in m.groups() if g)
        out.setdefault(_QUARTER_NUMBER[word], m.group(0))
    for name, pattern in _PART_OF_YEAR.items():
        if hit := re.search(pattern, folded_text):
            out.setdefault(name, hit.group(0))
    return out


# A span of time: a number (or a Chinese numeral, 半) and a unit of time after it ("10个工作日",
# "18 months", "2-year", "两周", "30日内"); not a year (2025年) or a month's name (3月).
_DURATION = re.compile(
    rf"(?<![a-z\d.,])(?:\d+(?:\.\d+)?|[{CN_DIGITS}]+)[\s-]*(?:"
    rf"个?(?:工作日|工作天|小时|钟头|星期)|个月|分钟|秒|周|天|年(?!\d|[{CN_DIGITS}]*月)|日(?=内|以内|之内|后|之后|起)|"
    r"(?:working |business |calendar )?(?:years?|months?|weeks?|days?|hours?|hrs?|minutes?|mins?|"
    r"seconds?|decades?)\b)"
)


def durations(folded_text: str, excluded: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The spans of time the text states ("10个工作日", "18 months"), other than a 4-digit year
    and those whose number is in `excluded` (the question's own)."""
    out = []
    for m in _DURATION.finditer(folded_text):
        number = re.match(r"[\d.]+", m.group(0))
        if number and (
            number.group(0) in excluded or re.fullmatch(r"(?:19|20)\d\d", number.group(0))
        ):
            continue
        out.append(m.group(0))
    return out


# A measure of a dimension: a number and a unit of it after it ("1.2公斤", "3 lb"). Lengths were
# tried too and changed nothing on the six evaluation sets.
_NUMBER_BEFORE = rf"(?<![a-z\d.,])(?P<n>\d+(?:[.,]\d+)*|[{CN_DIGITS}]+)\s*(?:[万千百]\s*)?"
MEASURES = {
    "weight": re.compile(
        _NUMBER_BEFORE + r"(?:公斤|千克|克|斤|吨|(?:kg|g|mg|grams?|kilograms?|kilos?|pounds?|"
        r"lbs?|ounces?|oz|tons?|tonnes?)\b)"
    ),
}


def chinese_numeral(term: str) -> tuple[str, ...] | None:
    """How 1..100 is written in Chinese (2 also as 两: 两年); None for other terms."""
    if not term.isdigit() or not 0 < int(term) <= 100:
        return None
    n, units = int(term), "零一二三四五六七八九"
    if n == 100:
        return ("一百", "百")
    tens, one = divmod(n, 10)
    if tens == 0:
        written = units[one]
    else:
        written = ("" if tens == 1 else units[tens]) + "十" + (units[one] if one else "")
    return (written, "两") if n == 2 else (written,)


# fmt: off
EN_ONES = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
EN_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# fmt: on


def english_numeral(term: str) -> tuple[str, ...] | None:
    """How 2..99 is written in English words (28: twenty-eight, twenty eight); None for other
    terms (1 is left out: "one" is mostly no number)."""
    if not term.isdigit() or not 1 < int(term) < 100:
        return None
    n = int(term)
    if n < 20:
        return (EN_ONES[n - 1],)
    tens, one = divmod(n, 10)
    word = EN_TENS[tens - 2]
    if not one:
        return (word,)
    return (f"{word}-{EN_ONES[one - 1]}", f"{word} {EN_ONES[one - 1]}")


_EN_NUMERAL_AFTER = rf"(?![\s-]+(?:{'|'.join(EN_ONES[:9])})\b)"  # twenty, not twenty-eight


def unit_at(folded_text: str, pos: int) -> str:
    """The measure word right after a number ending at `pos` ('' when there is none), English
    unit words as their Chinese measure word (6 years -> 年, 3个月 -> 月)."""
    rest = folded_text[pos : pos + 12].lstrip()
    if rest[:2] == "个月":
        return "月"
    if rest[:1] and rest[0] in MEASURE:
        return rest[0]
    m = _EN_UNIT.match(rest)
    return _EN_UNITS[m.group(1)] if m else ""


_EN_UNITS = {"year": "年", "month": "月", "week": "周", "day": "天", "people": "人", "yuan": "元"}
_EN_UNIT = re.compile(r"(year|month|week|day|people|yuan)s?\b")
_UNIT_WORDS = {cn: rf"(?:个?{cn}|{en}s?\b)" for en, cn in _EN_UNITS.items()}
_CN_VALUE = {w: n for n in range(1, 101) for w in chinese_numeral(str(n)) or ()}
_AMOUNT = rf"(\d+(?:\.\d+)?|[{CN_DIGITS}]{{1,3}})"
# Bounds a clause puts on an amount in some unit (filled in with the unit): 未满5年 / less than
# 5 years (< 5), 满5年 / 5年以上 / at least 5 years (>= 5), 超过5年 / more than 5 years (> 5),
# 5年以下 / up to 5 years (<= 5), 5至10年 / 5 to 10 years (5..10).
_BOUNDS = (
    ("<", r"(?:未满|不满|少于|低于|不足|不到|小于|less than|fewer than|under|below)\s*{a}\s*{u}"),
    (
        "<=",
        r"{a}\s*{u}\s*(?:及以下|以下|以内|之内|or (?:less|fewer))|(?:up to|at most|no more than)\s*{a}\s*{u}",
    ),
    (">", r"(?:超过|高于|大于|多于|逾|more than|over|above)\s*{a}\s*{u}"),
    (
        ">=",
        r"(?:(?<![未不])满|不少于|不低于|达到|at least|no less than|a minimum of)\s*{a}\s*{u}|"
        r"{a}\s*{u}\s*(?:及以上|或以上|以上|or more|or longer)|{a}\+\s*{u}",
    ),
)
_SPAN = r"(?:between\s*)?{a}\s*{u}?\s*(?:至|到|-|~|—|－|–|to|and)\s*{a}\s*{u}"
_CLAUSE = re.compile(r"[，,；;。！？!?\n]")


def _amount(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return _CN_VALUE.get(text)


def bounds(folded_text: str, unit: str) -> bool:
    """Some clause of the text bounds an amount in `unit` ("满10年及以上", "5 to 10 years")."""
    u = _UNIT_WORDS.get(unit, re.escape(unit))
    patterns = [_SPAN, *(pattern for _, pattern in _BOUNDS)]
    return any(re.search(pattern.format(a=_AMOUNT, u=u), folded_text) for pattern in patterns)


def in_range(folded_text: str, n: float, unit: str) -> bool:
    """Some clause of the text bounds an amount in `unit` and `n` meets all its bounds."""
    u = _UNIT_WORDS.get(unit, re.escape(unit))
    tests = {"<": n.__lt__, "<=": n.__le__, ">": n.__gt__, ">=": n.__ge__}
    for clause in _CLAUSE.split(folded_text):
        found, ok = False, True
        for m in re.finditer(_SPAN.format(a=_AMOUNT, u=u), clause):
            lo, hi = _amount(m.group(1)), _amount(m.group(2))
            if lo is not None and hi is not None:
                found, ok = True, ok and lo <= n <= hi
        for op, pattern in _BOUNDS:
            for m in re.finditer(pattern.format(a=_AMOUNT, u=u), clause):
                bound = _amount(next(g for g in m.groups() if g))
                if bound is not None:
                    found, ok = True, ok and tests[op](bound)
        if found and ok:
            return True
    return False


def number_in(folded_text: str, number: str, unit: str = "") -> bool:
    """The number occurs in the text as a whole number (not part of a longer one), or as its
    Chinese numeral (7 and 七月, 12 and 十二, 2 and 两) or English words (3 and "three little
    birds", 28 and "twenty-eight"); with a `unit` (年 in "满3年"), not
    followed by another unit (3月31日), or inside a range the text states in that unit."""
    for m in re.finditer(rf"(?<![\d.]){re.escape(number)}(?![\d])", folded_text):
        if not unit or unit_at(folded_text, m.end()) in ("", unit):
            return True
    for n in chinese_numeral(number) or ():
        for m in re.finditer(rf"(?<![{CN_DIGITS}]){n}(?![{CN_DIGITS}])", folded_text):
            if not unit or unit_at(folded_text, m.end()) in ("", unit):
                return True
    for w in english_numeral(number) or ():
        for m in re.finditer(rf"(?<![\w-]){w}\b{_EN_NUMERAL_AFTER}", folded_text):
            if not unit or unit_at(folded_text, m.end()) in ("", unit):
                return True
    return bool(unit) and in_range(folded_text, float(number.replace(",", "")), unit)
