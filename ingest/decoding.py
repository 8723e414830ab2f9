"""Bytes of a text file -> clean text: encoding detected, not assumed; junk characters removed."""

from __future__ import annotations

import codecs
import functools
import itertools
import re

from charset_normalizer import from_bytes

from core.text import BREAK_CHARS, JUNK_CHARS

# What documents lose: the junk questions lose too (NUL, C0/C1 controls, zero-width characters,
# BOMs), the breaks questions read as spaces (all but tab and newline), and lone surrogates.
JUNK = re.compile(f"[{JUNK_CHARS}{BREAK_CHARS}\ud800-\udfff]")

# Byte-order marks that name their encoding (UTF-32 first: its LE mark starts with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy encodings of the product's languages (simplified and traditional Chinese), tried
# strictly in this order; on a tie the first wins.
_CHINESE = ("gb18030", "big5")
# Share of the non-ASCII characters that must be common Chinese for a strict decode to win.
_MIN_COMMON = 0.5
_SAMPLE = 4000  # non-ASCII characters scored per candidate
# A Chinese decode must also read as Chinese words: Latin-1 text read as Big5 or GB18030 turns
# each accented letter or symbol and the byte after it into one ideograph standing alone among
# Latin letters (cp1252 "Änderungen" reads as Big5 "瓏derungen", "Straße" as "Stra遝"), while
# Chinese writes ideographs in runs, even amid English terms ("VPN客户端"), or before numbers
# ("2022年9月20日", "第1条"; a digit is never the second byte of a GBK or Big5 character).
# At least half of the ideographs must have an ideograph or CJK punctuation next to them, or
# a digit after them.
_MIN_JOINED = 0.5
_HANZI = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_CJK_RUN = re.compile(f"(?:{_HANZI.pattern}|[\u3000-\u303f\uff00-\uffef])+")
# Detection ties on short Latin text (no statistics to go on) are broken in favour of Western
# European: "Réunion à l'hôtel." is as plausible in cp1250 ("ŕ") as in cp1252 for the detector.
_WESTERN = "cp1252"
# Two Latin-1-range characters that UTF-8 or GBK read as Latin-1 make ('Ã©', 'Ô±'): only then
# is a valid UTF-8 text checked for mojibake.
_MANGLED = re.compile("[\u00c0-\u00ff][\u0080-\u00ff]")
# C0 control bytes other than tab, newlines and form feed (NUL counted apart: UTF-16 has many).
_CONTROLS = frozenset(range(1, 32)) - {9, 10, 12, 13}
_MAX_CONTROLS = 0.01


def decode(data: bytes) -> str:
    """Bytes -> clean text: UTF-8 (BOM or not), UTF-16/32 with a BOM, GB18030/GBK or Big5
    when the text reads as common Chinese in one of them, else charset_normalizer's best guess.

    Short Chinese texts defeat statistical detection (four GBK characters read as Korean, a
    Big5 sentence as UTF-16), so the two Chinese encodings are tried first and judged by how
    much of the result is common Chinese, and by whether the result is mostly Chinese at all
    (short Latin-1 text is often valid Big5 too). EUC-KR Korean is also valid GB2312 and reads
    as Chinese: Korean is not one of the product's languages. Among detection results that
    score alike, Western European (cp1252) wins.

    Raises ValueError for empty, binary or undecodable data.
    """
    if not data.strip():
        raise ValueError("empty file")
    text = _decode(data)
    if "\x00" in text:
        raise ValueError("binary file (NUL bytes)")
    text = JUNK.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise ValueError("no text after cleaning")
    return text


def _decode(data: bytes) -> str:
    try:
        return _unmangled(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        _refuse_corrupt_utf8(data, exc)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    if b"\x00" not in data:  # Chinese text has no NUL bytes; UTF-16 without a BOM has
        text = _chinese(data)
        if text is not None:
            return text
    return _detect(data)


def _joined_share(text: str) -> float:
    """Share of the ideographs (in the first few thousand runs) that are not alone: next to
    another ideograph or CJK punctuation, or followed by a digit."""
    alone = joined = 0
    for run in itertools.islice(_CJK_RUN.finditer(text), _SAMPLE):
        hanzi = len(_HANZI.findall(run.group()))
        if len(run.group()) == 1 and not text[run.end() : run.end() + 1].isdigit():
            alone += hanzi
        else:
            joined += hanzi
    return joined / (alone + joined) if alone + joined else 0.0


def _refuse_corrupt_utf8(data: bytes, exc: UnicodeDecodeError) -> None:
    """ValueError when `data` is UTF-8 but for a few bytes (a corrupt file, or UTF-8 and a
    legacy encoding mixed): no legacy encoding reads it right, each would make mojibake of
    its UTF-8 characters. Pure legacy text has few valid UTF-8 sequences, by accident."""
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    valid = sum(1 for c in text if ord(c) > 0x7F) - invalid  # characters of 2-4 bytes
    if valid >= 4 * invalid:
        raise ValueError(
            f"not valid UTF-8: {invalid} invalid byte(s), the first at offset {exc.start} "
            "(a corrupt file, or UTF-8 mixed with another encoding); not indexed - save it "
            "as UTF-8"
        )


def _unmangled(text: str) -> str:
    """`text`, or its repair when it is mojibake saved as UTF-8: UTF-8 or Chinese text once
    read as Latin-1/cp1252 ('employÃ©s', 'Ô±¹¤'). Written by hand: ftfy repairs the UTF-8
    case only and is not a dependency; the Chinese case is judged as in `_decode`."""
    if not _MANGLED.search(text):
        return text
    for latin in ("latin-1", _WESTERN):
        try:
            raw = text.encode(latin)
        except UnicodeEncodeError:
            continue
        fixed: str | None
        try:
            fixed = raw.decode("utf-8")
        except UnicodeDecodeError:
            fixed = _chinese(raw)
        if fixed is not None and fixed != text:
            return fixed
    return text


def _chinese(data: bytes) -> str | None:
    """The text of `data` in GB18030 or Big5 when it reads as common Chinese, else None."""
    scored = []
    for encoding in _CHINESE:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        scored.append((_common_share(text), text))
    if scored:
        share, text = max(scored, key=lambda s: s[0])  # max keeps the first of a tie
        if share >= _MIN_COMMON and _joined_share(text) >= _MIN_JOINED:
            return text
    return None


def _detect(data: bytes) -> str:
    """charset_normalizer's best guess; of the guesses no more chaotic than the best one,
    one that cp1252 also decodes (its text is then cp1252's) is preferred: the detector's
    language coherence picks cp775 for short French ('employķs'). Data with many control
    bytes is binary, whatever the detector guesses."""
    controls = sum(data.count(bytes([b])) for b in _CONTROLS)
    if controls > _MAX_CONTROLS * len(data):
        raise ValueError("binary file (control bytes)")
    results = from_bytes(data)
    best = results.best()
    if best is None:
        raise ValueError("binary or unknown encoding")
    for match in results:
        if match.chaos > best.chaos:
            continue
        if _WESTERN in (match.encoding, *match.could_be_from_charset):
            return data.decode(_WESTERN)
    return str(best)


def _common_share(text: str) -> float:
    """Share of the (first few thousand) non-ASCII characters that are common Chinese
    characters or CJK punctuation: high for the right decode, low for mojibake, which is
    full of rare characters, kana, symbols and private-use code points."""
    sample = list(itertools.islice((c for c in text if c > "\x7f"), _SAMPLE))
    if not sample:
        return 0.0
    common = _common_chinese()
    return sum(c in common or _cjk_punctuation(c) for c in sample) / len(sample)


def _cjk_punctuation(c: str) -> bool:
    o = ord(c)
    return 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or 0x2010 <= o <= 0x2027


@functools.cache
def _common_chinese() -> frozenset[str]:
    """GB2312 level 1 (the 3,755 most used simplified characters) and Big5's frequently used
    block (5,401 traditional characters)."""
    out: set[str] = set()
    ranges = (
        ("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
        ("big5", range(0xA4, 0xC7), itertools.chain(range(0x40, 0x7F), range(0xA1, 0xFF))),
    )
    for encoding, leads, trails in ranges:
        trail_bytes = list(trails)
        for lead in leads:
            for trail in trail_bytes:
                try:
                    out.add(bytes((lead, trail)).decode(encoding))
                except UnicodeDecodeError:
                    continue
    return frozenset(out)
