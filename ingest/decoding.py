"""Bytes of a text file -> clean text: encoding detected, not assumed; junk characters removed."""

from __future__ import annotations

import re

from charset_normalizer import from_bytes

# NUL, C0/C1 controls except tab and newline, zero-width characters, BOMs, lone surrogates.
JUNK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\ud800-\udfff]")


def decode(data: bytes) -> str:
    """Bytes -> clean text: UTF-8 (BOM or not), else the detected encoding (GBK, Big5, UTF-16...).

    Raises ValueError for empty, binary or undecodable data.
    """
    if not data.strip():
        raise ValueError("empty file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        if best is None:
            raise ValueError("binary or unknown encoding") from None
        text = str(best)
    if "\x00" in text:
        raise ValueError("binary file (NUL bytes)")
    text = JUNK.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise ValueError("no text after cleaning")
    return text
