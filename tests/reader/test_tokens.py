"""Reader pairs: the same ids as core.encoder, and token spans that map back to characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.encoder import Encoder
from reader.tokens import PairTokenizer
from tests.reader.tiny_e5 import tiny_weights, write_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(tiny_weights(), tmp_path_factory.mktemp("tiny") / "enc")


@pytest.mark.parametrize(
    "text",
    ["the year paris was founded", "北京大学创建于哪一年？", "Ａbc  the\u200b   rollo", "x ~ ☃ y"],
)
def test_ids_equal_the_encoders(folder: Path, text: str) -> None:
    tok = PairTokenizer(folder)
    ids, starts, ends = tok.encode(text)
    assert ids == Encoder(folder, threads=1).tokenize([text])[0]
    assert all(0 <= s < e <= len(text) for s, e in zip(starts, ends, strict=True))


def test_pair_layout_and_span_round_trip(folder: Path) -> None:
    tok = PairTokenizer(folder)
    window = "T\nparis was founded in 1898 by rollo."
    pair = tok.pair("who founded paris?", window, seq_len=64)
    q = tok.encode("who founded paris?")[0]
    assert pair.ids[: len(q) + 3] == [0, *q, 2, 2] and pair.ids[-1] == 2
    a = window.index("1898")
    s, e = pair.token_span(a, a + 4)
    cs, ce = pair.char_span(s, e)
    assert window[cs:ce].strip() == "1898"


def test_a_span_past_the_cut_is_none(folder: Path) -> None:
    tok = PairTokenizer(folder)
    window = "T\n" + "the year " * 30 + "rollo"
    pair = tok.pair("who?", window, seq_len=20)
    a = window.index("rollo")
    assert pair.token_span(a, a + 5) is None
    assert len(pair.ids) <= 20
