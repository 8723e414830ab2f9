"""`eval.datasets.load`: every questions.jsonl line is checked before anything runs, and each
problem names the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from eval import datasets

GOOD: dict[str, Any] = {
    "id": "q1",
    "question": "How long before the VPN disconnects?",
    "answerable": True,
    "answers": ["30 minutes"],
    "answer_alternatives": [["30 minutes", "30 min"]],
    "supporting_ids": ["corpus/it/vpn.txt"],
}
UNANSWERABLE: dict[str, Any] = {"id": "q2", "question": "Wi-Fi password?", "answerable": False}


def folder(tmp_path: Path, *lines: object, raw: bytes | None = None) -> Path:
    (tmp_path / "corpus.jsonl").write_text('{"id": "d", "text": "x"}\n', encoding="utf-8")
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    (tmp_path / "questions.jsonl").write_bytes(raw if raw is not None else text.encode())
    return tmp_path


def test_a_good_set_loads_with_its_fields(tmp_path: Path) -> None:
    ds = datasets.load(folder(tmp_path, GOOD, "", UNANSWERABLE, {**UNANSWERABLE, "id": 7}))
    q = ds.questions[0]
    assert (q.id, q.answers, q.supporting_ids) == ("q1", ("30 minutes",), ("corpus/it/vpn.txt",))
    assert q.accepted() == [("30 minutes", "30 min")]
    assert [x.id for x in ds.questions] == ["q1", "q2", "7"]  # an integer id is its text
    assert [x.id for x in datasets.load(tmp_path, limit=2).questions] == ["q1", "q2"]


def test_a_repeated_id_names_it_and_both_lines(tmp_path: Path) -> None:
    path = folder(tmp_path, GOOD, UNANSWERABLE, {**UNANSWERABLE, "id": "q1"})
    with pytest.raises(ConfigError) as err:
        datasets.load(path)
    msg = str(err.value)
    assert f"{path / 'questions.jsonl'}:3:" in msg
    assert "'q1'" in msg and "line 1" in msg


BAD_FIELDS = [
    # (changes to GOOD, field named, words of the message)
    ({"answers": "45 minutes"}, "answers", "list of strings"),
    ({"answers": ["45 minutes", 3]}, "answers", "list of strings"),
    ({"answers": [""]}, "answers", "empty strings"),
    ({"answers": []}, "answers", "answerable question needs"),
    ({"answers": None}, "answers", "answerable question needs"),
    ({"answerable": "false"}, "answerable", "true or false"),
    ({"answerable": 1}, "answerable", "true or false"),
    ({"answerable": None}, "answerable", "missing"),
    ({"question": None}, "question", "missing"),
    ({"question": 12345}, "question", "non-empty text"),
    ({"question": "  "}, "question", "non-empty text"),
    ({"question": "\ud800 VPN?"}, "question", "lone surrogate"),
    ({"id": True}, "id", "non-empty string or an integer"),
    ({"answer_alternatives": ["30 min"]}, "answer_alternatives", "list of lists"),
    ({"answer_alternatives": [["a"], ["b"]]}, "answer_alternatives", "2 lists for 1"),
    ({"supporting_ids": "corpus/it/vpn.txt"}, "supporting_ids", "list of strings"),
    ({"evidence_sentences": [1]}, "evidence_sentences", "list of strings"),
]


@pytest.mark.parametrize(("change", "field", "words"), BAD_FIELDS)
def test_a_bad_field_names_file_line_and_field(
    tmp_path: Path, change: dict[str, Any], field: str, words: str
) -> None:
    path = folder(tmp_path, UNANSWERABLE, {**GOOD, **change})
    with pytest.raises(ConfigError) as err:
        datasets.load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path / 'questions.jsonl'}:2: field {field!r}")
    assert words in msg
    msg.encode("utf-8")  # printable: a lone surrogate is shown escaped


def test_an_unanswerable_question_with_answers_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":1: field 'answers' must be empty"):
        datasets.load(folder(tmp_path, {**UNANSWERABLE, "answers": ["x"]}))


@pytest.mark.parametrize("line", ["[1, 2]", "not json", '"q"'])
def test_a_line_that_is_not_a_record_is_named(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError, match=r"questions.jsonl:2: not"):
        datasets.load(folder(tmp_path, GOOD, line))


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    chinese = {**UNANSWERABLE, "question": "公司的股票代码是什么？"}
    gbk = (json.dumps(GOOD) + "\n" + json.dumps(chinese, ensure_ascii=False)).encode("gbk")
    with pytest.raises(
        ConfigError, match=r"questions.jsonl:2: not UTF-8 .* save the file as UTF-8"
    ):
        datasets.load(folder(tmp_path, raw=gbk))


def test_a_byte_order_mark_and_a_raw_line_separator_are_text(tmp_path: Path) -> None:
    q = {**GOOD, "question": "VPN\u2028timeout?"}
    raw = b"\xef\xbb\xbf" + json.dumps(q, ensure_ascii=False).encode() + b"\n"
    ds = datasets.load(folder(tmp_path, raw=raw))
    assert [x.question for x in ds.questions] == ["VPN\u2028timeout?"]
