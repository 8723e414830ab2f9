"""Removing site furniture from copied web pages before they are stored and quoted.

Pure functions, no I/O. `clean(text, stats)` cuts spans out of the text and records every cut
as a `Removal` (span in the original text, rule, removed text); nothing is rewritten, so the
kept text is byte-identical to the original apart from the cuts.

The rules are general signals, never phrases taken from particular sites:

- partial cuts inside a line: stray HTML tags/entities (`html_tag`), mojibake runs (`mojibake`),
  a suffix or prefix shared by most lines of the document (`watermark`);
- whole-line "anchors": view counters, relative times, dates, bare numbers, breadcrumbs
  (short segments joined by | > » ...), generic web labels (previous/next, related posts), URL
  lines, legal footers (©, ICP, "all rights reserved"), call-to-action lines (share + follow),
  lines quoting the page's own title, lines recurring across independent documents of the
  corpus (`CorpusStats`), lines emptied by the partial cuts;
- anchors that lie close together form a furniture block (`link_list`), which is removed with
  what lies between them (e.g. an article title and its blurb in a "related articles" list) and
  a few neighbouring short lines; long prose outside such blocks is never removed; a document
  with no prose keeps them (it is a list itself, not a page around one), and one whose only
  prose lies inside them keeps that prose;
- a block at the end of the document whose vocabulary does not overlap the body and which
  follows furniture (`spam_tail`);
- runs of blank lines left behind are collapsed (`blank_lines`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.text import fold, words

CLEANING_VERSION = "2"  # part of every document's identity: bump it to re-clean everything


@dataclass(frozen=True)
class Removal:
    """One cut: `text == original[start:end]`."""

    start: int
    end: int
    rule: str
    text: str


@dataclass(frozen=True)
class Cleaned:
    """Cleaned text (what gets stored and quoted) and every cut made from the original."""

    text: str
    removals: tuple[Removal, ...]

    def to_original(self, pos: int) -> int:
        """Offset in the original text of offset `pos` of the cleaned text."""
        shift = 0
        for r in self.removals:
            if r.start <= pos + shift:
                shift += r.end - r.start
            else:
                break
        return pos + shift


# --- patterns --------------------------------------------------------------------------------

_HTML_NAMES = (
    "a|abbr|acronym|address|area|article|aside|b|bdi|bdo|big|blockquote|body|br|button|caption|"
    "center|cite|code|col|colgroup|dd|del|details|dfn|div|dl|dt|em|embed|fieldset|figcaption|"
    "figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|label|legend|"
    "li|link|main|mark|meta|nav|noscript|object|ol|optgroup|option|p|param|picture|pre|q|rp|rt|"
    "ruby|s|samp|script|section|select|small|source|span|strike|strong|style|sub|summary|sup|"
    "table|tbody|td|template|textarea|tfoot|th|thead|time|title|tr|tt|u|ul|var|video|wbr"
)
_HTML = re.compile(
    rf"</?(?:{_HTML_NAMES})(?:\s+[\w:.-]+(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s<>]+))?)*\s*/?>"
    r"|&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});",
    re.IGNORECASE,
)
# U+FFFD runs, runs of 2+ '?', a '?' standing alone after a space (lost character), and UTF-8
# read as Latin-1/cp1252 ("Ã©", "å¤§"): a lead byte followed by continuation-range characters.
_MOJIBAKE = re.compile(r"\ufffd+|\?{2,}|(?<=\s)\?(?=\s|\d|$)")
_LATIN1_UTF8 = re.compile(
    "(?:[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{1,3})+"
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_BULLET = re.compile(r"^[\s\-*•·●▪◦▸►‣]+")
_WORDISH = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u3400-\u4dbf\u4e00-\u9fff]")
_SENTENCE_END = re.compile(r"[。！？!?；;…]|\.(?:\s|$|[\"”’)])")
_NUMBER_ONLY = re.compile(r"^[\d,.\s%+kKwW万]+$")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
_IMAGE = re.compile(r"^[\w\-./:]+\.(?:jpe?g|png|gif|webp|svg|bmp)$", re.IGNORECASE)
_SEGMENT_SEP = re.compile(r"\s*(?:[|｜»›→]|\s[>/·]\s)\s*")

# Generic web vocabulary (matched on folded text): counters, labels, legal footers, calls to act.
_COUNT = r"(?:浏览量?|阅读量?|学习|使用|评论|收藏|点赞|赞|回复|views?|reads?|comments?|likes?|replies|shares?)"
_COUNTER = re.compile(
    rf"\d[\d,.]*\s*[kw万]?\s*(?:次|人)?\s*{_COUNT}"
    # a label then its count, which ends there ("阅读(1234)", "views: 12k"); not a quantity
    # with a unit ("使用5天": use five days)
    rf"|{_COUNT}\s*[:：(（]?\s*\d[\d,.]*\s*[kw万]?(?![\w.])"
    r"|\d+\s*(?:秒|分钟|小时|天|周|个月|年)前|\d+\s*(?:seconds?|minutes?|mins?|hours?|days?|weeks?|months?|years?)\s+ago"
)
_DATE = re.compile(
    r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}日?|\b\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+(?:19|20)\d{2}"
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
_LABELS = frozenset(
    [
        "上一篇",
        "下一篇",
        "上一页",
        "下一页",
        "上一章",
        "下一章",
        "上一条",
        "下一条",
        "返回顶部",
        "返回首页",
        "返回列表",
        "相关阅读",
        "相关文章",
        "相关推荐",
        "热门文章",
        "热门推荐",
        "延伸阅读",
        "推荐阅读",
        "猜你喜欢",
        "您可能感兴趣",
        "你可能感兴趣",
        "最新推荐",
        "最新文章",
        "评论",
        "收藏",
        "关注",
        "+关注",
        "分享",
        "点赞",
        "举报",
        "浏览量",
        "阅读量",
        "previous",
        "next",
        "newer",
        "older",
        "related",
        "related",
        "posts",
        "related",
        "articles",
        "you",
        "may",
        "also",
        "like",
        "read",
        "more",
        "back",
        "to",
        "top",
        "recent",
        "posts",
        "popular",
        "posts",
        "share",
        "tweet",
        "like",
        "reply",
        "comment",
        "comments",
        "follow",
    ]
    + [
        "previous post",
        "next post",
        "related posts",
        "related articles",
        "you may also like",
        "read more",
        "back to top",
        "recent posts",
        "popular posts",
    ]
)
_LEGAL = re.compile(
    r"©|\(c\)\s*(?:19|20)\d\d|copyright|all rights reserved|版权所有|icp备|icp证|公网安备|"
    r"[如若]有侵权|不代表.{0,12}(?:立场|观点)|本站不承担|转载请注明|免责声明|未经.{0,6}授权.{0,6}转载"
)
_CTA = re.compile(
    r"分享|收藏|关注|公众号|点赞|转发|订阅|扫码|\bshare (?:on|this|via)\b|\bfollow us\b|\bsubscribe\b"
    r"|\blike us\b|\bsign up\b"
)

# Thresholds.
PROSE_MIN_CJK = 12  # a CJK line this long with sentence punctuation is prose
PROSE_MIN_LATIN = 40
SHORT = 50  # counter / date / URL lines are at most this long
ANCHOR_GAP = 3  # anchors at most this many non-blank lines apart form one block
WATERMARK_MIN = 4
WATERMARK_SHARE = 0.5
RECURRING_SHARE = 0.05  # of independent sources, and at least RECURRING_MIN
RECURRING_MIN = 3
SAME_SOURCE_LINES = 3  # documents sharing this many prose lines are copies of one source
SAME_SOURCE_MAX_DOCS = 20
SPAM_OVERLAP = 0.3  # a tail line with less word overlap with the body is off-topic
BODY_SHARE = 0.7  # the body vocabulary comes from this leading share of the lines
SPAM_MAX_SHARE = 0.5  # a spam tail is at most this share of the remaining lines


def _norm(line: str) -> str:
    """Normalised line for corpus statistics: folded, bullets dropped, spaces collapsed."""
    return re.sub(r"\s+", " ", _BULLET.sub("", fold(line))).strip()


@dataclass(frozen=True)
class CorpusStats:
    """In how many independent sources each short normalised line occurs.

    Documents that share SAME_SOURCE_LINES prose lines (e.g. two copies of one article) count as
    one source, so a heading shared by near-duplicates is not taken for site furniture.
    """

    sources: int = 0
    line_sources: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, texts: Iterable[str]) -> CorpusStats:
        """Count, per short normalised line, the independent sources it occurs in."""
        docs = [{_norm(line) for line in t.splitlines()} - {""} for t in texts]
        parent = list(range(len(docs)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        holders: dict[str, list[int]] = {}
        for i, lines in enumerate(docs):
            for line in lines:
                if _is_prose(line):
                    holders.setdefault(line, []).append(i)
        shared: Counter[tuple[int, int]] = Counter()
        for held in holders.values():
            if 1 < len(held) <= SAME_SOURCE_MAX_DOCS:  # wider spread: boilerplate, not content
                shared.update((a, b) for k, a in enumerate(held) for b in held[k + 1 :])
        for (a, b), n in shared.items():
            if n >= SAME_SOURCE_LINES:
                parent[find(a)] = find(b)
        by_line: dict[str, set[int]] = {}
        for i, lines in enumerate(docs):
            for line in lines:
                if not _is_prose(line):
                    by_line.setdefault(line, set()).add(find(i))
        counts = {line: len(s) for line, s in by_line.items() if len(s) >= 2}
        return cls(sources=len({find(i) for i in range(len(docs))}), line_sources=counts)

    def is_recurring(self, line: str) -> bool:
        """True when `line` occurs in >= RECURRING_MIN sources and >= RECURRING_SHARE of them."""
        n = self.line_sources.get(_norm(line), 0)
        return n >= max(RECURRING_MIN, math.ceil(RECURRING_SHARE * self.sources))


@dataclass
class _Line:
    start: int
    end: int  # excluding the newline
    stop: int  # including the newline
    text: str
    body: str = ""  # text after partial cuts, bullets and spaces stripped
    kind: str = ""  # "" (neutral), "prose", "anchor", "weak"
    rule: str = ""


def _split(text: str) -> list[_Line]:
    lines = []
    for m in re.finditer(r"[^\n]*\n|[^\n]+$", text):
        end = m.end() - 1 if m.group().endswith("\n") else m.end()
        lines.append(_Line(m.start(), end, m.end(), text[m.start() : end]))
    return lines


def _is_prose(body: str) -> bool:
    cjk = len(_CJK.findall(body))
    long_enough = len(body) >= (PROSE_MIN_CJK if cjk >= len(body) / 3 else PROSE_MIN_LATIN)
    return long_enough and bool(_SENTENCE_END.search(body))


def _affix(lines: list[str], suffix: bool) -> str:
    """The longest suffix (prefix) of >= WATERMARK_MIN characters shared by most lines."""
    lines = [ln.rstrip() if suffix else ln.lstrip() for ln in lines if ln.strip()]
    if len(lines) < 6:
        return ""
    need = WATERMARK_SHARE * len(lines)

    def cut(ln: str, k: int) -> str:
        return ln[-k:] if suffix else ln[:k]

    best = ""
    seed = Counter(cut(ln, WATERMARK_MIN) for ln in lines if len(ln) >= WATERMARK_MIN)
    for cand, n in seed.most_common(3):
        if n < need or not _WORDISH.search(cand):
            continue
        k = WATERMARK_MIN
        while True:  # grow while (almost) every line carrying it carries the longer one too
            grown = Counter(cut(ln, k + 1) for ln in lines if len(ln) > k and cut(ln, k) == cand)
            if not grown:
                break
            top, m = grown.most_common(1)[0]
            if m < 0.9 * n:
                break
            cand, k = top, k + 1
        inner = (
            "。！？!?.，,;；:：、 \t\u00a0\u3000"  # the line's own punctuation is not part of it
        )
        cand = cand.lstrip(inner) if suffix else cand.rstrip(inner)
        edge = cand[-1:] if suffix else cand[:1]
        listy = not suffix and (len(cand) < 8 or _BULLET.match(cand))  # list items share a start
        if (
            len(cand) > max(len(best), WATERMARK_MIN - 1)
            and not listy
            and not _SENTENCE_END.match(edge)
            and cand.strip() == cand
        ):
            best = cand
    return best


def _partial_cuts(text: str, lines: list[_Line]) -> list[Removal]:
    """Cuts inside lines: HTML tags/entities, mojibake, watermark (every occurrence)."""
    cuts = [Removal(m.start(), m.end(), "html_tag", m.group()) for m in _HTML.finditer(text)]
    cuts += [Removal(m.start(), m.end(), "mojibake", m.group()) for m in _MOJIBAKE.finditer(text)]
    if len(_CJK.findall(text)) > len(text) / 4:  # Latin-1 garbage only counts in Chinese text
        cuts += [
            Removal(m.start(), m.end(), "mojibake", m.group()) for m in _LATIN1_UTF8.finditer(text)
        ]
    texts = [ln.text for ln in lines]
    for mark in filter(None, (_affix(texts, True), _affix(texts, False))):
        for m in re.finditer(r"[ \t\u00a0\u3000]*" + re.escape(mark), text):
            cuts.append(Removal(m.start(), m.end(), "watermark", m.group()))
    return cuts


def _classify(line: _Line, stats: CorpusStats | None, title: str) -> None:
    body, folded = line.body, fold(line.body)
    if not _WORDISH.search(line.text):
        return
    if not _WORDISH.search(body):
        line.kind, line.rule = "anchor", "emptied"
    elif (
        _LEGAL.search(folded)
        or len({m.group() for m in _CTA.finditer(folded)}) >= 2
        and len(body) <= 200
    ):
        line.kind, line.rule = "anchor", "footer"
    elif len(title) >= 6 and body != title and re.search(rf"[《“\"「]{re.escape(title)}", body):
        line.kind, line.rule = "weak", "self_reference"  # only inside furniture
    elif folded.rstrip(":：").strip() in _LABELS or re.match(r"(?:上|下)一(?:篇|页)[:：]", folded):
        line.kind, line.rule = "anchor", "link_list"
    elif _is_prose(body):
        line.kind = "prose"
    elif (
        (_URL.search(body) and len(body) <= 2 * SHORT)
        or _IMAGE.match(body)
        or len(_SEGMENT_SEP.split(body)) >= 3
        and max(map(len, _SEGMENT_SEP.split(body))) <= 20
    ):
        line.kind, line.rule = "anchor", "link_list"
    elif _SENTENCE_END.search(body[-1]):
        return  # short sentence: not a counter, date or number line
    elif len(body) <= SHORT and _COUNTER.search(folded):
        line.kind, line.rule = "anchor", "link_list"
    elif stats is not None and stats.is_recurring(body):
        line.kind, line.rule = "recurring", "recurring_line"
    elif _NUMBER_ONLY.match(body) or (
        len(body) <= SHORT and len(_TIME.sub("", _DATE.sub("", folded)).strip()) <= 12 < len(body)
    ):
        line.kind, line.rule = "weak", "link_list"


def _blocks(lines: list[_Line]) -> set[int]:
    """Indices of lines in furniture blocks: clustered anchors, what lies between, short edges."""
    idx = [i for i, ln in enumerate(lines) if ln.text.strip()]
    pos = {i: k for k, i in enumerate(idx)}
    anchors = [i for i in idx if lines[i].kind in ("anchor", "weak")]
    removed: set[int] = set()
    groups: list[list[int]] = []
    for i in anchors:
        if groups and pos[i] - pos[groups[-1][-1]] <= ANCHOR_GAP + 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    for g in groups:
        strong = sum(lines[i].kind == "anchor" for i in g)
        if strong == 0 and len(g) < 3:
            continue
        if len(g) == 1:
            removed.add(g[0])
            continue
        lo, hi = pos[g[0]], pos[g[-1]]
        for step in (-1, 1):  # absorb a few neighbouring short (non-prose) lines
            k, edge = 0, (lo if step < 0 else hi)
            while k < ANCHOR_GAP and 0 <= edge + step < len(idx):
                nxt = edge + step + 1  # a line followed by prose is its heading: stop there
                if lines[idx[edge + step]].kind == "prose" or (
                    step > 0 and nxt < len(idx) and lines[idx[nxt]].kind == "prose"
                ):
                    break
                edge, k = edge + step, k + 1
            lo, hi = (edge, hi) if step < 0 else (lo, edge)
        removed.update(idx[lo : hi + 1])
    tail = [i for i in idx if i > max(removed, default=len(lines))]
    if len(tail) <= 2 and all(len(lines[i].body) <= 60 for i in tail):
        removed.update(tail)  # a short remnant after the footer belongs to it
    return removed


def _vocab(text: str) -> set[str]:
    return {w for w in words(fold(text)) if len(w) >= 2}


def _spam_tail(lines: list[_Line], removed: set[int]) -> set[int]:
    """A trailing block off the body's topic that follows furniture (or holds some itself)."""
    idx = [i for i, ln in enumerate(lines) if ln.body and _WORDISH.search(ln.body)]
    kept = [i for i in idx if i not in removed]
    if len(kept) < 6:
        return set()
    body = _vocab("\n".join(lines[i].body for i in kept[: int(BODY_SHARE * len(kept))]))
    block: list[int] = []
    for i in reversed(kept):
        vocab = _vocab(lines[i].body)
        if vocab and len(vocab & body) / len(vocab) >= SPAM_OVERLAP:
            break
        block.append(i)
    if len(block) < 3 or len(block) > len(kept) * SPAM_MAX_SHARE:
        return set()
    first = min(block)
    before = [i for i in idx if i < first]
    follows_furniture = bool(before) and before[-1] in removed
    if not follows_furniture and not any(
        lines[i].kind == "anchor" for i in range(first, len(lines))
    ):
        return set()
    return {i for i in range(first, len(lines)) if i not in removed}


def _is_menu_item(ln: _Line) -> bool:
    """A short bulleted or indented label, not a "key: value" line."""
    indented = ln.text != ln.text.lstrip(" \t-*•·●")
    return indented and len(ln.body) <= 12 and not re.search(r"[:：]", ln.body)


def _line_cuts(text: str, lines: list[_Line], stats: CorpusStats | None) -> list[Removal]:
    partial = sorted(_partial_cuts(text, lines), key=lambda r: (r.start, -r.end))
    for ln in lines:
        inside = [r for r in partial if ln.start <= r.start and r.end <= ln.end]
        kept, at = [], ln.start
        for r in inside:
            if r.start >= at:
                kept.append(text[at : r.start])
                at = r.end
        kept.append(text[at : ln.end])
        ln.body = _BULLET.sub("", "".join(kept)).strip()
    title = next((ln.body for ln in lines if ln.body), "")
    title = title if len(title) <= 60 and not _SENTENCE_END.search(title) else ""
    first_prose = len(lines)
    for i, ln in enumerate(lines):
        _classify(ln, stats, title)
        if ln.kind == "prose" and first_prose == len(lines):
            first_prose = i
    nonblank = [i for i, ln in enumerate(lines) if ln.body]
    for k, i in enumerate(nonblank):
        ln = lines[i]
        nxt = lines[nonblank[k + 1]].kind if k + 1 < len(nonblank) else ""
        if ln.kind == "recurring":  # a heading shared by many documents stays
            ln.kind = "" if nxt == "prose" else "anchor"
        elif not ln.kind and i < first_prose and _is_menu_item(ln):
            ln.kind, ln.rule = "weak", "link_list"  # menu items above the article
    removed = _blocks(lines)
    prose = {i for i, ln in enumerate(lines) if ln.kind == "prose"}
    if not prose:
        # Furniture frames an article: a document with no prose at all is itself a list (a
        # schedule, bulleted rules), and its lines are its content.
        removed = set()
    elif prose <= removed:
        removed -= prose  # the blocks swallowed the only prose: it is the article, keep it
    spam = _spam_tail(lines, removed)
    cuts = []
    for i, ln in enumerate(lines):
        if i in removed or i in spam:
            rule = "spam_tail" if i in spam else (ln.rule or "link_list")
            cuts.append(Removal(ln.start, ln.stop, rule, text[ln.start : ln.stop]))
        else:
            cuts += [r for r in partial if ln.start <= r.start and r.end <= ln.end]
    return cuts


def _blank_cuts(text: str, lines: list[_Line], cuts: list[Removal]) -> list[Removal]:
    """Collapse runs of blank lines (left over or original) to one; none at the start or end."""
    gone = {(r.start, r.end) for r in cuts}
    out, prev_blank = [], True
    kept = [ln for ln in lines if (ln.start, ln.stop) not in gone]
    for k, ln in enumerate(kept):
        blank = not ln.text.strip()
        last = all(not x.text.strip() for x in kept[k:])
        if blank and (prev_blank or last):
            out.append(Removal(ln.start, ln.stop, "blank_lines", text[ln.start : ln.stop]))
        prev_blank = blank
    return out


def _merge(text: str, cuts: list[Removal]) -> tuple[Removal, ...]:
    out: list[Removal] = []
    for r in sorted(cuts, key=lambda r: (r.start, -r.end)):
        if out and r.start < out[-1].end:  # overlapping: keep the first, extend it
            if r.end > out[-1].end:
                prev = out.pop()
                out.append(Removal(prev.start, r.end, prev.rule, text[prev.start : r.end]))
        elif out and r.start == out[-1].end and r.rule in (out[-1].rule, "blank_lines"):
            prev = out.pop()
            out.append(Removal(prev.start, r.end, prev.rule, text[prev.start : r.end]))
        else:
            out.append(r)
    return tuple(out)


def clean(text: str, stats: CorpusStats | None = None) -> Cleaned:
    """Remove site furniture from one document.

    Args:
        text: the document as decoded.
        stats: statistics over the whole set being ingested (enables `recurring_line`).

    Returns:
        The cleaned text and every removal, with spans in `text`.
    """
    lines = _split(text)
    cuts = _line_cuts(text, lines, stats)
    cuts += _blank_cuts(text, lines, cuts)
    removals = _merge(text, cuts)
    parts, at = [], 0
    for r in removals:
        parts.append(text[at : r.start])
        at = r.end
    parts.append(text[at:])
    return Cleaned("".join(parts), removals)


def explain(cleaned: Cleaned) -> str:
    """A human-readable report: the cleaned text, then each removal with its rule and text."""
    counts = Counter(r.rule for r in cleaned.removals)
    out = ["=== cleaned text ===", cleaned.text.rstrip("\n"), "", "=== removals ==="]
    out.append(", ".join(f"{rule}: {n}" for rule, n in sorted(counts.items())) or "none")
    for r in cleaned.removals:
        if r.rule != "blank_lines":
            shown = r.text.rstrip("\n").replace("\n", "\n    ")
            out.append(f"[{r.start}:{r.end}] {r.rule}\n    {shown}")
    return "\n".join(out)
