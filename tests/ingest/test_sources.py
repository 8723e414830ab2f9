"""Finding and reading source files: what each file, folder and JSONL line becomes."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest

from core.records import SourceDocument
from core.text import clean_question
from ingest.decoding import decode
from ingest.sources import BadLine, Failure, Root, jsonl_lines, read_root
from tests.conftest import write

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
        ("2017年5月5日", "gbk"),  # ideographs alone between digits are still Chinese
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


@pytest.mark.parametrize(
    "text",
    [
        "Sie sollten Änderungen an der Öffnungszeit melden.",  # valid Big5: "瓏derungen"
        "Réunion à l'hôtel.",  # detection alone said cp1250: "ŕ"
        "Straße",  # valid GBK and Big5: "Stra遝"
        "Größe: 5 m², Preis: 10 €.",
        "¿Dónde está la oficina? Señor Muñoz, mañana.",
    ],
)
def test_short_western_european_text_is_not_read_as_chinese(text: str) -> None:
    assert decode(text.encode("cp1252")) == text


def test_chinese_amid_english_still_reads_as_chinese() -> None:
    text = "See README.md and config.yaml to set up the VPN client on Linux and macOS; 说明见下。"
    assert decode(text.encode("gbk")) == text


# -- walking folders -----------------------------------------------------------------------

AS_ROOT = os.geteuid() == 0
PATH_MAX = os.pathconf("/", "PC_PATH_MAX")


def _too_deep_to_list(folder: Path, filename: str) -> str:
    """Nest folders under `folder` until the path is longer than PATH_MAX, with `filename` in
    the last one: walking cannot list that folder (ENAMETOOLONG), even as root. Returns the
    last folder's path relative to `folder`."""
    fd = os.open(folder, os.O_RDONLY)
    parts: list[str] = []
    try:
        while len(str(folder)) + 251 * len(parts) <= PATH_MAX:
            os.mkdir("d" * 250, dir_fd=fd)
            fd, old = os.open("d" * 250, os.O_RDONLY, dir_fd=fd), fd
            os.close(old)
            parts.append("d" * 250)
        os.close(os.open(filename, os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    return "/".join(parts)


def test_a_folder_that_cannot_be_listed_is_a_failure_naming_its_id_prefix(
    tmp_path: Path,
) -> None:
    corpus = write(tmp_path / "corpus", {"ok.txt": "可以读取的文件。", "sub/b.txt": "子目录。"})
    deep = _too_deep_to_list(corpus / "sub", "lost.txt")
    items = read(corpus)
    assert set(docs_of(items)) == {"corpus/ok.txt", "corpus/sub/b.txt"}
    failures = failures_of(items)
    assert list(failures) == [f"corpus/sub/{deep}/"]  # the pipeline keeps what is under it
    assert "cannot list folder" in failures[f"corpus/sub/{deep}/"]


@pytest.mark.skipif(AS_ROOT, reason="root lists folders whatever their permissions")
def test_unreadable_folders_and_roots_are_failures_not_empty_folders(tmp_path: Path) -> None:
    corpus = write(
        tmp_path / "corpus",
        {"ok.txt": "可以读取的文件。", "locked/a.txt": "锁住的文件。", "locked/x/b.txt": "更深。"},
    )
    (corpus / "locked").chmod(0)
    try:
        failures = failures_of(read(corpus))
        assert list(failures) == ["corpus/locked/"]
        assert "Permission denied" in failures["corpus/locked/"]
        corpus.chmod(0)
        assert list(failures_of(read(corpus))) == [""]  # '': remove nothing from this root
    finally:
        corpus.chmod(0o755)
        (corpus / "locked").chmod(0o755)


def test_symlinks_broken_out_of_the_root_or_to_folders_are_reported_links_inside_read(
    tmp_path: Path,
) -> None:
    outside = write(tmp_path / "outside", {"o.txt": "外部文件。"})
    corpus = write(tmp_path / "corpus", {"ok.txt": "正文。", "sub/in.txt": "内部文件。"})
    (corpus / "linked.txt").symlink_to(outside / "o.txt")  # out of the root: never read
    (corpus / "dotdot.txt").symlink_to(Path("..") / "outside" / "o.txt")
    (corpus / "inside.txt").symlink_to(corpus / "sub" / "in.txt")  # within the root: read
    (corpus / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "folder").symlink_to(outside)
    os.mkfifo(corpus / "pipe.txt")
    items = read(corpus)
    docs = docs_of(items)
    assert set(docs) == {"corpus/ok.txt", "corpus/inside.txt", "corpus/sub/in.txt"}
    assert not any("外部" in d.text for d in docs.values())
    failures = failures_of(items)
    assert failures["corpus/linked.txt"] == "symlink to a file outside the synced folder; not read"
    assert failures["corpus/dotdot.txt"] == failures["corpus/linked.txt"]
    assert failures["corpus/folder"] == "symlinked folder not followed"
    assert failures["corpus/gone.txt"].startswith("broken symlink")
    assert failures["corpus/loop.txt"].startswith("broken symlink")
    assert failures["corpus/pipe.txt"] == "not a regular file"
    assert len(failures) == 6


def test_a_file_name_that_is_not_utf8_is_one_failure_and_the_others_are_read(
    tmp_path: Path,
) -> None:
    corpus = write(tmp_path / "corpus", {"ok.txt": "正文。"})
    (corpus / os.fsdecode(b"bad\xff.txt")).write_text("坏名字。", encoding="utf-8")
    items = read(corpus)
    assert set(docs_of(items)) == {"corpus/ok.txt"}
    assert failures_of(items) == {"corpus/bad\\xff.txt": "file name is not valid UTF-8; rename it"}


def test_hidden_files_and_folders_are_skipped_and_files_come_sorted(tmp_path: Path) -> None:
    corpus = write(
        tmp_path / "c",
        {"b.txt": "乙。", "a/z.txt": "甲。", ".git/x.txt": "隐藏。", ".h.txt": "隐藏。"},
    )
    assert [i.doc_id for i in read(corpus)] == ["c/a/z.txt", "c/b.txt"]


def test_a_folder_given_as_dot_is_named_by_its_real_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write(tmp_path / "c", {"a.txt": "甲。"})
    monkeypatch.chdir(corpus)
    assert [i.doc_id for i in read(Path("."))] == ["c/a.txt"]


# -- size limit ----------------------------------------------------------------------------


def test_a_file_over_the_limit_fails_without_being_read(tmp_path: Path) -> None:
    corpus = write(tmp_path / "big", {"small.txt": "小文件。"})
    with (corpus / "huge.txt").open("wb") as f:
        f.truncate(64 * MiB)  # sparse: costs no disk
    tracemalloc.start()
    try:
        items = read(corpus, max_bytes=MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert set(docs_of(items)) == {"big/small.txt"}
    assert "64.0 MiB, larger than the 1 MiB limit" in failures_of(items)["big/huge.txt"]
    assert peak < 8 * MiB


# -- JSONL records -------------------------------------------------------------------------


def _jsonl(tmp_path: Path, *lines: object) -> list:
    corpus = tmp_path / "j"
    corpus.mkdir(exist_ok=True)
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    (corpus / "r.jsonl").write_text(text, encoding="utf-8")
    return read(corpus, acl=("everyone",))


def test_a_string_acl_is_one_group_never_the_default(tmp_path: Path) -> None:
    items = _jsonl(tmp_path, {"id": "p1", "text": "薪资结构每年三月调整。", "acl": "hr"})
    assert docs_of(items)["p1"].acl == ("hr",)


@pytest.mark.parametrize("acl", [[1, 2], {}, [], "", [""], [" "], ["hr", None], 5])
def test_a_bad_acl_fails_its_line_and_the_run_goes_on(tmp_path: Path, acl: object) -> None:
    items = _jsonl(
        tmp_path,
        {"id": "bad", "text": "薪资结构每年三月调整。", "acl": acl},
        {"id": "ok", "text": "食堂早上八点开门。"},
    )
    assert set(docs_of(items)) == {"ok"} and docs_of(items)["ok"].acl == ("everyone",)
    reason = failures_of(items)["j/r.jsonl"]
    assert reason.startswith("line 1: 'acl' must be a non-empty list of group names")


@pytest.mark.parametrize("doc_id", [None, {}, {"a": 1}, ["x"], "", "  ", True, 1.5])
def test_a_bad_id_fails_its_line(tmp_path: Path, doc_id: object) -> None:
    items = _jsonl(
        tmp_path, {"id": "ok", "text": "食堂早上八点开门。"}, {"id": doc_id, "text": "另一条。"}
    )
    assert set(docs_of(items)) == {"ok"}
    assert failures_of(items)["j/r.jsonl"].startswith("line 2: 'id' must be a non-empty string")


def test_integer_ids_are_kept_as_strings(tmp_path: Path) -> None:
    assert set(docs_of(_jsonl(tmp_path, {"id": 7, "text": "第七条。"}))) == {"7"}


def test_jsonl_lines_end_at_newlines_only(tmp_path: Path) -> None:
    # Raw U+2028/U+2029 are valid inside JSON strings; splitlines() cut this record in two.
    items = _jsonl(
        tmp_path,
        '{"id": "a", "text": "第一段\u2028第二段\u2029第三段"}',
        "not json",
        {"id": "b", "text": "食堂早上八点开门。"},
    )
    docs = docs_of(items)
    assert docs["a"].text == "第一段\u2028第二段\u2029第三段"
    assert docs["b"].source == "j/r.jsonl:3"
    assert failures_of(items)["j/r.jsonl"].startswith("line 2: not JSON")


def test_jsonl_with_crlf_line_ends(tmp_path: Path) -> None:
    corpus = tmp_path / "j"
    corpus.mkdir()
    (corpus / "r.jsonl").write_bytes(
        b'{"id": "a", "text": "one"}\r\n\r\n{"id": "b", "text": "two"}\r\n'
    )
    docs = docs_of(read(corpus))
    assert (docs["a"].text, docs["b"].text, docs["b"].source) == ("one", "two", "j/r.jsonl:3")


@pytest.mark.parametrize(
    ("line", "doc_id"),
    [
        ('{"id": null, "text": "x"}', None),
        ('{"id": {"a": 1}, "text": "x"}', None),
        ('{"id": "", "text": "x"}', None),
        ('{"id": true, "text": "x"}', None),
        ('{"id": "p3", "te', None),  # broken JSON
        ('["p3", "x"]', None),
        ('{"text": "x"}', None),
        ('{"id": "p3", "text": ""}', "p3"),
        ('{"id": "p3", "text": 5}', "p3"),
        ('{"id": "p3"}', "p3"),  # no text: the record is still known
        ('{"id": 3, "text": "x", "acl": []}', "3"),
    ],
)
def test_a_bad_line_names_its_id_only_when_that_id_is_valid(line: str, doc_id: str | None) -> None:
    (item,) = jsonl_lines(line, ("everyone",))
    assert isinstance(item, BadLine) and (item.lineno, item.doc_id) == (1, doc_id)


def test_bad_line_failures_carry_their_kind_and_id(tmp_path: Path) -> None:
    items = _jsonl(
        tmp_path,
        {"id": "p1", "text": ""},
        {"id": None, "text": "无编号。"},
        {"id": "p3", "text": "食堂早上八点开门。"},
    )
    failures = [(f.kind, f.doc_id, f.reason[:7]) for f in items if isinstance(f, Failure)]
    assert failures == [("line", "p1", "line 1:"), ("line_no_id", None, "line 2:")]
    assert set(docs_of(items)) == {"p3"}


def test_a_failure_built_from_its_file_alone_gets_the_kind_the_file_implies() -> None:
    assert Failure("/r", "", "gone").kind == "root"
    assert Failure("/r", "docs/locked/", "cannot list").kind == "folder"
    assert Failure("/r", "docs/a.txt", "binary").kind == "file"
    assert Failure("/r", "docs/a.jsonl", "x", "line", "p1").doc_id == "p1"


def test_only_reads_the_named_documents_and_their_failures(tmp_path: Path) -> None:
    corpus = write(
        tmp_path / "d",
        {
            "a.txt": "Badge photos are taken at reception.",
            "b.txt": "Lost badges are reported to security.",
            "bad.png": b"\x89PNG",
            "r.jsonl": "\n".join(
                [
                    json.dumps({"id": "r1", "text": "第一条。"}),
                    json.dumps({"id": "r2", "text": "第二条。"}),
                    json.dumps({"id": "r3", "text": ""}),
                    "not json",
                ]
            ),
        },
    )
    items = list(read_root(Root(corpus), ("everyone",), MiB, only={"d/a.txt", "r2"}))
    assert (set(docs_of(items)), failures_of(items)) == ({"d/a.txt", "r2"}, {})
    items = list(read_root(Root(corpus), ("everyone",), MiB, only={"r3", "d/bad.png"}))
    assert docs_of(items) == {}
    assert [(f.file, f.doc_id) for f in items] == [("d/bad.png", None), ("d/r.jsonl", "r3")]


def test_documents_lose_what_questions_lose_and_keep_tabs_and_line_breaks() -> None:
    raw = "a\tb\nc\x0cd\x1fe\x85f\u200bg\ufeffh\x07i\x9fj"
    assert decode(raw.encode()) == "a\tb\ncdefghij"
    assert clean_question(raw) == "a b c d e fghij"  # the same junk; breaks read as spaces
