"""Finding and reading source files: what each file, folder and JSONL line becomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.records import SourceDocument
from ingest.decoding import decode
from ingest.sources import Failure, Root, read_root

MiB = 2**20


def read(path: Path, acl: tuple[str, ...] = ("everyone",), max_bytes: int = MiB) -> list:
    return list(read_root(Root(path), acl, max_bytes))


def docs_of(items: list) -> dict[str, SourceDocument]:
    return {i.doc_id: i for i in items if isinstance(i, SourceDocument)}


def failures_of(items: list) -> dict[str, str]:
    return {i.file: i.reason for i in items if isinstance(i, Failure)}


# -- decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("会议纪要", "gbk"),  # was read as Korean (cp949)
        ("年假", "gbk"),  # valid Big5 too: simplified wins a tie
        ("会议纪要：下周一上午九点在三楼会议室开会。", "gb18030"),
        ("會議室預訂須提前一天。", "big5"),  # was read as UTF-16-BE
        ("請假規定：員工請事假須提前兩天告知主管。", "big5"),
        ("加班餐补每人每次三十元，须附发票。", "utf-16"),  # with a BOM
        ("Overtime meals: 30 yuan, receipt required.", "utf-16"),
        ("加班餐补每人每次三十元。", "utf-32"),
    ],
)
def test_short_chinese_and_bom_files_decode_to_their_text(
    tmp_path: Path, text: str, encoding: str
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "note.txt").write_bytes(text.encode(encoding))
    assert decode(text.encode(encoding)) == text
    assert docs_of(read(tmp_path / "d"))["d/note.txt"].text == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет, как дела? Всё хорошо, спасибо.", "cp1251"),
        ("こんにちは世界、今日は良い天気ですね。", "shift_jis"),
    ],
)
def test_other_legacy_encodings_still_go_to_detection(text: str, encoding: str) -> None:
    # Cyrillic is not valid GB18030/Big5; Shift_JIS is, but reads as rare characters there.
    assert decode(text.encode(encoding)) == text
