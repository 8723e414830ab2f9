"""Bad bytes: each text either decodes to the right text or is a failure with its reason;
never mojibake."""

from __future__ import annotations

import random

import pytest

from ingest.decoding import decode

ZH = "员工每年享有十五天带薪年假，未使用的假期可以结转到下一年度。请假需提前两周向主管申请。"
ZH_TW = "員工每年享有十五天帶薪年假，未使用的假期可以結轉到下一年度。"
FR = "Les employés ont droit à quinze jours de congés payés par année; la demande se fait à l'avance."


def _insert(data: bytes, at: int, bad: bytes) -> bytes:
    return data[:at] + bad + data[at:]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        pytest.param(ZH.encode(), ZH, id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + ZH.encode(), ZH, id="utf-8 with BOM"),
        pytest.param(ZH.encode("gbk"), ZH, id="gbk"),
        pytest.param(ZH_TW.encode("big5"), ZH_TW, id="big5"),
        pytest.param(ZH.encode("utf-16"), ZH, id="utf-16 with BOM"),
        pytest.param(FR.encode("cp1252"), FR, id="cp1252 (was read as cp775: employķs)"),
        pytest.param(ZH.encode("gbk").decode("latin-1").encode(), ZH, id="gbk read as latin-1"),
        pytest.param(FR.encode().decode("latin-1").encode(), FR, id="utf-8 read as latin-1"),
        pytest.param(FR.encode().decode("cp1252").encode(), FR, id="utf-8 read as cp1252"),
    ],
)
def test_text_decodes_to_what_was_written(data: bytes, text: str) -> None:
    assert decode(data) == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            _insert((FR * 3).encode(), 100, b"\xff"), "not valid UTF-8", id="utf-8 bad byte"
        ),
        pytest.param(_insert((ZH * 3).encode(), 99, b"\xff"), "offset 99", id="utf-8 zh bad byte"),
        pytest.param(
            ZH.encode() * 3 + (ZH * 2).encode("gbk")[:20], "not valid UTF-8", id="utf-8+gbk"
        ),
        pytest.param(ZH.encode() + b"\n" + ZH.encode("gbk"), "unknown encoding", id="utf-8|gbk"),
        pytest.param(random.Random(1).randbytes(3000), "binary", id="random bytes"),
        pytest.param(random.Random(2).randbytes(100), "binary", id="short random bytes"),
    ],
)
def test_bad_bytes_are_a_failure_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode(data)


def test_latin_text_with_accents_is_left_as_it_is() -> None:
    # legitimately non-ASCII text that only looks like mojibake in places is not "repaired"
    assert decode("Ã la carte: Ôte-toi, señor.".encode()) == "Ã la carte: Ôte-toi, señor."
