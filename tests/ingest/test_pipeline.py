import json
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from ingest import formats
from ingest.pipeline import Ingestor
from ingest.sources import Failure, Root
from tests.conftest import write

DOCS = {
    "hr/leave.md": "# 年假政策\n员工每年享有15个工作日的带薪年假。年假须提前3天在系统中申请。\n病假需要提交医院证明。",
    "it/vpn.txt": "VPN guide\nConnect with the Acme VPN client. The server is vpn.acme.example. Use your SSO password.",
    "tw/請假.txt": "請假規定\n員工請事假須提前兩天告知主管。每年事假上限為十四天。",
}


def chunk_texts(store: QdrantStore, doc_id: str) -> list[str]:
    """The stored text of a document's chunks, in order."""
    flt = models.Filter(
        must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]
    )
    points, _ = store.client.scroll(store.chunks, scroll_filter=flt, limit=1000, with_payload=True)
    payloads = sorted((p.payload or {} for p in points), key=lambda p: p["chunk_index"])
    return [p["text"] for p in payloads]


def sync(settings: Settings, store: QdrantStore, *paths: Path) -> dict:
    return Ingestor(settings, store, HashingEmbedder()).sync(list(paths)).to_dict()


def test_first_run_writes_everything_second_run_nothing(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    first = sync(settings, store, docs)
    assert (first["new"], first["failed"]) == (3, [])
    assert first["chunks_written"] == store.count_chunks() >= 3
    ids = sorted(store.chunk_ids())
    second = sync(settings, store, docs)
    assert (second["new"], second["changed"], second["unchanged"], second["chunks_written"]) == (
        0,
        0,
        3,
        0,
    )
    assert sorted(store.chunk_ids()) == ids


def test_editing_one_file_rewrites_only_its_chunks(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    sync(settings, store, docs)
    vpn_before = set(store.chunk_ids("docs/it/vpn.txt"))
    leave_before = set(store.chunk_ids("docs/hr/leave.md"))
    (docs / "hr/leave.md").write_text(
        "# 年假政策\n员工每年享有20个工作日的带薪年假。", encoding="utf-8"
    )
    report = sync(settings, store, docs)
    assert (report["changed"], report["unchanged"]) == (1, 2)
    leave_after = set(store.chunk_ids("docs/hr/leave.md"))
    assert report["chunks_written"] == len(leave_after)
    assert set(store.chunk_ids("docs/it/vpn.txt")) == vpn_before
    assert leave_after and not (leave_after & leave_before)  # no orphan of the old version
    assert "20个工作日" in store.get_document("docs/hr/leave.md").text  # type: ignore[union-attr]


def test_deleting_a_file_removes_its_document_and_chunks(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    sync(settings, store, docs)
    (docs / "it/vpn.txt").unlink()
    report = sync(settings, store, docs)
    assert report["removed"] == 1
    assert (
        store.chunk_ids("docs/it/vpn.txt") == [] and store.get_document("docs/it/vpn.txt") is None
    )
    assert store.get_document("docs/hr/leave.md") is not None


def test_bad_files_are_reported_and_skipped_while_the_rest_lands(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(
        tmp_path / "docs",
        {
            **DOCS,
            "bad/binary.txt": b"\x00\x01\x02\xff\xfe\x00garbage",
            "bad/empty.md": "   \n",
            "bad/image.png": b"\x89PNG\r\n",
        },
    )
    report = sync(settings, store, docs)
    reasons = {f["file"]: f["reason"] for f in report["failed"]}
    assert set(reasons) == {"docs/bad/binary.txt", "docs/bad/empty.md", "docs/bad/image.png"}
    assert "binary" in reasons["docs/bad/binary.txt"] and "empty" in reasons["docs/bad/empty.md"]
    assert "unsupported" in reasons["docs/bad/image.png"]
    assert report["new"] == 3


def test_a_file_that_turns_bad_keeps_its_indexed_version(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    sync(settings, store, docs)
    (docs / "it/vpn.txt").write_bytes(b"\x00\x00\x00")
    report = sync(settings, store, docs)
    assert report["removed"] == 0 and len(report["failed"]) == 1
    assert store.get_document("docs/it/vpn.txt") is not None


def test_gbk_and_big5_files_are_decoded(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = tmp_path / "enc"
    docs.mkdir()
    (docs / "gbk.txt").write_bytes(
        "报销规定：差旅费用须在三十天内提交报销申请，逾期不予受理。".encode("gbk")
    )
    (docs / "big5.txt").write_bytes(
        "請假規定：員工請事假須提前兩天告知主管，每年上限十四天。".encode("big5")
    )
    report = sync(settings, store, docs)
    assert report["failed"] == [] and report["new"] == 2
    assert store.get_document("enc/gbk.txt").text.startswith("报销规定")  # type: ignore[union-attr]
    assert store.get_document("enc/big5.txt").text.startswith("請假規定")  # type: ignore[union-attr]


def test_jsonl_records_are_documents_with_their_ids_and_acl(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    lines = [
        {"id": "p1", "text": "The cafeteria opens at 8 am.", "title": "Cafeteria"},
        {"id": "p2", "text": "Salary bands are reviewed in March.", "acl": ["hr"]},
        "not json",
    ]
    f = tmp_path / "export.jsonl"
    f.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines), encoding="utf-8"
    )
    report = sync(settings, store, f)
    assert (
        report["new"] == 2
        and len(report["failed"]) == 1
        and "line 3" in report["failed"][0]["reason"]
    )
    assert store.get_document("p1").title == "Cafeteria"  # type: ignore[union-attr]
    assert store.get_document("p2").acl == ("hr",)  # type: ignore[union-attr]
    assert store.get_document("p1").acl == ("everyone",)  # type: ignore[union-attr]
    # the record removed from the export is removed from the index
    f.write_text(json.dumps(lines[0]), encoding="utf-8")
    assert sync(settings, store, f)["removed"] == 1
    assert store.get_document("p2") is None


def test_copies_in_other_encodings_and_scripts_are_indexed_once(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = tmp_path / "dup"
    docs.mkdir()
    text = "报销规定：差旅费用须在三十天内提交报销申请，逾期不予受理。住宿标准按城市等级执行。"
    (docs / "a-gbk.txt").write_bytes(text.encode("gbk"))
    (docs / "b-utf8.txt").write_text(text, encoding="utf-8")
    (docs / "c-big5.txt").write_bytes(
        "報銷規定：差旅費用須在三十天內提交報銷申請，逾期不予受理。住宿標準按城市等級執行。".encode(
            "big5"
        )
    )
    report = sync(settings, store, docs)
    assert (report["new"], report["duplicates"]) == (1, 2)
    again = sync(settings, store, docs)  # alternates are remembered, not indexed on a re-sync
    assert (again["new"], again["unchanged"], again["chunks_written"]) == (0, 3, 0)
    (canonical,) = store.document_states().values()
    assert set(canonical.alternates) | {canonical.doc_id} == {
        "dup/a-gbk.txt",
        "dup/b-utf8.txt",
        "dup/c-big5.txt",
    }


def test_acl_yaml_assigns_groups_by_glob_nearest_folder_first(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(
        tmp_path / "docs",
        {
            "acl.yaml": '"*.md": [hr]\n"*": [staff]\n',
            "hr/acl.yaml": '"salaries*": [hr, finance]\n',
            "hr/salaries-2024.txt": "薪资等级每年三月调整，调整幅度由薪酬委员会决定。",
            "hr/leave.md": "# 年假\n员工每年享有十五个工作日的带薪年假。",
            "it/vpn.txt": "Connect with the Acme VPN client before opening internal sites.",
        },
    )
    sync(settings, store, docs)
    acl = {d: s.acl for d, s in store.document_states().items()}
    assert acl == {
        "docs/hr/salaries-2024.txt": ("hr", "finance"),
        "docs/hr/leave.md": ("hr",),
        "docs/it/vpn.txt": ("staff",),
    }


def test_a_bad_acl_yaml_syncs_nothing_and_removes_nothing(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    sync(settings, store, docs)
    (docs / "acl.yaml").write_text("- not a mapping\n", encoding="utf-8")
    (docs / "it/vpn.txt").unlink()
    report = sync(settings, store, docs)
    assert report["removed"] == 0 and report["new"] == 0
    assert "must map glob patterns" in report["failed"][0]["reason"]
    assert len(store.document_states()) == 3


def test_a_missing_root_removes_nothing(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    sync(settings, store, docs)
    for f in sorted(docs.rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    docs.rmdir()
    report = sync(settings, store, docs)
    assert report["removed"] == 0 and "does not exist" in report["failed"][0]["reason"]
    assert len(store.document_states()) == 3


def test_changing_chunk_settings_reindexes(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    sync(settings, store, docs)
    report = sync(settings.model_copy(update={"chunk_size": 60}), store, docs)
    assert report["changed"] == 3


def test_utf16_and_bom_files_decode_and_oversized_files_are_skipped(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = tmp_path / "more"
    docs.mkdir()
    (docs / "u16.txt").write_bytes("加班餐补每人每次三十元，须附发票。".encode("utf-16"))
    (docs / "bom.md").write_bytes("\ufeff# 门禁\n访客须在前台登记并佩戴访客证。".encode())
    (docs / "huge.txt").write_bytes(b"x" * (2 * 2**20))
    report = sync(settings.model_copy(update={"max_file_mb": 1.0}), store, docs)
    assert report["new"] == 2
    assert [f["file"] for f in report["failed"]] == ["more/huge.txt"]
    assert "limit" in report["failed"][0]["reason"]
    assert store.get_document("more/u16.txt").text.startswith("加班餐补")  # type: ignore[union-attr]
    assert store.get_document("more/bom.md").text.startswith("# 门禁")  # type: ignore[union-attr]


LEAVE = "# 年假政策\n员工每年享有15个工作日的带薪年假。年假须提前3天在系统中申请。病假需要提交医院证明。"


def test_copies_with_different_access_groups_are_not_duplicates(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(
        tmp_path / "docs",
        {
            "public/leave.md": LEAVE,
            "board/acl.yaml": '"*": [board]\n',
            "board/leave-annotated.md": LEAVE + "\n董事会批注：明年起年假增加两天。",
        },
    )
    export = tmp_path / "export.jsonl"
    same = "Salary bands are reviewed in March and published to every manager."
    export.write_text(
        "\n".join(
            json.dumps({"id": i, "text": same, "acl": acl})
            for i, acl in [("s1", ["hr", "finance"]), ("s2", ["finance", "hr"]), ("s3", ["hr"])]
        ),
        encoding="utf-8",
    )
    report = sync(settings, store, docs, export)
    states = store.document_states()
    assert states["docs/public/leave.md"].acl == ("everyone",)
    assert states["docs/board/leave-annotated.md"].acl == ("board",)
    assert all(not d.alternates for d in states.values() if d.doc_id != "s1")
    # the same groups in another order are the same groups: s2 is a copy of s1; s3 is not
    assert states["s1"].alternates == ("s2",) and "s3" in states
    assert report["duplicates"] == 1


def test_a_repeated_id_in_one_export_keeps_the_first_record(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    f = tmp_path / "kb.jsonl"
    lines = [
        {"id": "k1", "text": "The cafeteria opens at 8 am and closes at 2 pm."},
        {"id": "k2", "text": "Parking permits are renewed every January."},
        {"id": "k1", "text": "Printer toner is ordered through the IT portal."},
    ]
    f.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    for run in range(2):  # the same record wins every run
        report = sync(settings, store, f)
        assert [x["file"] for x in report["failed"]] == ["kb.jsonl"]
        reason = report["failed"][0]["reason"]
        assert reason.startswith("duplicate document id 'k1' (already read from ")
        assert str(f.resolve()) in reason and "unique ids" in reason
        assert (report["new"], report["unchanged"]) == ((2, 0) if run == 0 else (0, 2))
        doc = store.get_document("k1")
        assert doc is not None and "cafeteria" in doc.text
        assert chunk_texts(store, "k1") and not any("toner" in t for t in chunk_texts(store, "k1"))


def test_two_roots_with_the_same_folder_name_keep_the_first_roots_file(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    a = write(tmp_path / "a/docs", {"notes.txt": "Team A meets on Mondays in room 4."})
    b = write(tmp_path / "b/docs", {"notes.txt": "Team B ships releases on Thursdays."})
    for run in range(2):
        report = sync(settings, store, a, b)
        assert [x["file"] for x in report["failed"]] == ["docs/notes.txt"]
        reason = report["failed"][0]["reason"]
        assert f"already read from {a.resolve() / 'notes.txt'}" in reason
        assert "distinct names" in reason
        assert report["removed"] == 0
        doc = store.get_document("docs/notes.txt")
        assert doc is not None and doc.text == "Team A meets on Mondays in room 4."
        assert doc.origin == str(a.resolve())
        assert not any("Team B" in t for t in chunk_texts(store, "docs/notes.txt"))
        assert (report["new"], report["unchanged"]) == ((1, 0) if run == 0 else (0, 1))


LUNCH = "Lunch is served from 11:30 to 13:30 in the main cafeteria on the ground floor."


def test_deleting_the_canonical_copy_keeps_its_duplicate_indexed(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", {"lunch.txt": LUNCH, "lunch-copy.txt": LUNCH})
    sync(settings, store, docs)
    (canonical,) = store.document_states().values()
    assert (canonical.doc_id, canonical.alternates) == ("docs/lunch-copy.txt", ("docs/lunch.txt",))
    (docs / "lunch-copy.txt").unlink()
    report = sync(settings, store, docs)
    assert (report["new"], report["removed"], report["unchanged"]) == (1, 1, 0)
    assert list(store.document_states()) == ["docs/lunch.txt"]
    assert store.get_document("docs/lunch.txt").text == LUNCH  # type: ignore[union-attr]
    assert chunk_texts(store, "docs/lunch.txt") == [LUNCH]
    again = sync(settings, store, docs)
    assert (again["new"], again["unchanged"], again["removed"]) == (0, 1, 0)


def test_editing_the_canonical_copy_keeps_its_duplicate_indexed(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", {"lunch.txt": LUNCH, "lunch-copy.txt": LUNCH})
    sync(settings, store, docs)
    (docs / "lunch-copy.txt").write_text("The gym is open around the clock.", encoding="utf-8")
    report = sync(settings, store, docs)
    assert (report["new"], report["changed"], report["unchanged"]) == (1, 1, 0)
    states = store.document_states()
    assert set(states) == {"docs/lunch.txt", "docs/lunch-copy.txt"}
    assert store.get_document("docs/lunch.txt").text == LUNCH  # type: ignore[union-attr]
    assert chunk_texts(store, "docs/lunch.txt") == [LUNCH]
    assert states["docs/lunch-copy.txt"].alternates == ()


def test_an_edit_that_keeps_the_copies_alike_keeps_them_grouped(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", {"lunch.txt": LUNCH, "lunch-copy.txt": LUNCH})
    sync(settings, store, docs)
    (docs / "lunch-copy.txt").write_text(LUNCH + " Vegetarian options daily.", encoding="utf-8")
    report = sync(settings, store, docs)  # the copy is read again and grouped with the edit
    assert (report["changed"], report["duplicates"], report["removed"]) == (1, 1, 0)
    (canonical,) = store.document_states().values()
    assert (canonical.doc_id, canonical.alternates) == ("docs/lunch-copy.txt", ("docs/lunch.txt",))
    again = sync(settings, store, docs)
    assert (again["unchanged"], again["chunks_written"]) == (2, 0)


def test_a_folder_that_cannot_be_listed_keeps_the_documents_under_it(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    corpus = write(
        tmp_path / "corpus",
        {
            "locked/a.txt": "Badge photos are taken at reception on Tuesdays.",
            "locked/deep/b.txt": "Lost badges are reported to security within a day.",
            "locked-notes.txt": "Notes about the locker room schedule for the summer.",
            "open/c.txt": "The open office closes at 8 pm on Fridays.",
        },
    )
    ingestor = Ingestor(settings, store, HashingEmbedder())
    ingestor.sync([corpus])
    root = Root(corpus)
    # the sources' contract: a `file` ending in '/' names a folder that could not be listed
    failed = [Failure(root.origin, "corpus/locked/", "cannot list folder")]
    removed = ingestor._remove_missing(store.document_states(), [root], set(), failed)
    assert removed == 2
    assert set(store.document_states()) == {"corpus/locked/a.txt", "corpus/locked/deep/b.txt"}
    # a failure for the whole root keeps everything, as before
    failed = [Failure(root.origin, "", "cannot list folder")]
    assert ingestor._remove_missing(store.document_states(), [root], set(), failed) == 0


def test_records_removed_from_an_export_with_a_bad_line_are_deleted(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    f = tmp_path / "kb.jsonl"
    records = {
        "p1": "The cafeteria opens at 8 am.",
        "p2": "Salary bands are reviewed in March.",
        "p3": "Parking permits are renewed every January.",
    }
    f.write_text("\n".join(json.dumps({"id": k, "text": v}) for k, v in records.items()))
    sync(settings, store, f)
    # p2 removed from the export; p3's line is broken this time: p3 stays, p2 goes
    f.write_text(
        json.dumps({"id": "p1", "text": records["p1"]}) + "\n" + '{"id": "p3", "text": ""}\n'
    )
    report = sync(settings, store, f)
    assert (report["removed"], len(report["failed"])) == (1, 1)
    assert set(store.document_states()) == {"p1", "p3"}
    # a line that names no id could be any record: nothing of the file is deleted
    f.write_text(json.dumps({"id": "p1", "text": records["p1"]}) + '\n{"id": "p3", "te')
    report = sync(settings, store, f)
    assert (report["removed"], len(report["failed"])) == (0, 1)
    assert set(store.document_states()) == {"p1", "p3"}
    f.write_text(json.dumps({"id": "p1", "text": records["p1"]}))
    assert sync(settings, store, f)["removed"] == 1
    assert set(store.document_states()) == {"p1"}


RECORDS = {
    "p1": "The cafeteria opens at 8 am.",
    "p2": "Salary bands are reviewed in March.",
    "p3": "Parking permits are renewed every January.",
}


def _export(f: Path, lines: dict[str, str]) -> None:
    """The export with p1 and p3 as records and `lines` written as given for other keys."""
    f.write_text(
        "\n".join(lines.get(k, json.dumps({"id": k, "text": v})) for k, v in RECORDS.items())
    )


@pytest.mark.parametrize(
    "bad",
    [
        '{"id": null, "text": "Salary bands are reviewed in March."}',
        '{"id": {"k": "p2"}, "text": "Salary bands are reviewed in March."}',
        '{"id": "", "text": "Salary bands are reviewed in March."}',
        '{"id": "p2", "text": "Salary bands',
        '{"text": "Salary bands are reviewed in March."}',
    ],
)
def test_a_line_with_no_valid_id_keeps_every_record_of_its_export(
    tmp_path: Path, settings: Settings, store: QdrantStore, bad: str
) -> None:
    f = tmp_path / "kb.jsonl"
    _export(f, {})
    sync(settings, store, f)
    # p2's line loses its id and p3 is removed: the bad line could be either, so both stay
    f.write_text(json.dumps({"id": "p1", "text": RECORDS["p1"]}) + "\n" + bad)
    report = sync(settings, store, f)
    assert (report["removed"], len(report["failed"])) == (0, 1)
    assert set(store.document_states()) == {"p1", "p2", "p3"}


@pytest.mark.parametrize(
    "bad",
    [
        '{"id": "p2", "text": ""}',
        '{"id": "p2", "text": null}',
        '{"id": "p2"}',
        '{"id": "p2", "text": "Salary bands are reviewed in March.", "acl": []}',
    ],
)
def test_a_bad_line_that_names_a_valid_id_keeps_only_that_record(
    tmp_path: Path, settings: Settings, store: QdrantStore, bad: str
) -> None:
    f = tmp_path / "kb.jsonl"
    _export(f, {})
    sync(settings, store, f)
    f.write_text(json.dumps({"id": "p1", "text": RECORDS["p1"]}) + "\n" + bad)
    report = sync(settings, store, f)
    assert (report["removed"], len(report["failed"])) == (1, 1)
    assert report["failed"][0]["reason"].startswith("line 2: ")
    assert set(store.document_states()) == {"p1", "p2"}  # p3 was removed from the export
    assert store.get_document("p2").text == RECORDS["p2"]  # type: ignore[union-attr]


def test_protection_follows_the_failure_kind_not_its_wording(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    f = tmp_path / "kb.jsonl"
    _export(f, {})
    ingestor = Ingestor(settings, store, HashingEmbedder())
    ingestor.sync([f])
    root, stored = Root(f), store.document_states()
    named = [Failure(root.origin, "kb.jsonl", "anything at all", "line", "p2")]
    assert ingestor._remove_missing(dict(stored), [root], set(), named) == 2  # p1, p3
    assert set(store.document_states()) == {"p2"}
    stored = store.document_states()
    no_id = [Failure(root.origin, "kb.jsonl", "line 9: 'id' must be...", "line_no_id")]
    assert ingestor._remove_missing(dict(stored), [root], set(), no_id) == 0


def test_copies_of_a_canonical_that_failed_to_read_stay_its_alternates(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", {"lunch.txt": LUNCH, "lunch-copy.txt": LUNCH})
    sync(settings, store, docs)
    canonical = docs / "lunch-copy.txt"
    canonical.write_bytes(b"\x00\x00\x00")  # a bad read: the indexed version is kept
    report = sync(settings, store, docs)
    assert (report["new"], report["removed"], len(report["failed"])) == (0, 0, 1)
    assert list(store.document_states()) == ["docs/lunch-copy.txt"]
    canonical.write_text(LUNCH, encoding="utf-8")  # it reads again, unchanged
    again = sync(settings, store, docs)
    assert (again["new"], again["unchanged"], again["failed"]) == (0, 2, [])
    (state,) = store.document_states().values()
    assert (state.doc_id, state.alternates) == ("docs/lunch-copy.txt", ("docs/lunch.txt",))


def test_copies_of_a_canonical_under_a_root_not_synced_stay_its_alternates(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    a = write(tmp_path / "a", {"lunch.txt": LUNCH + " Vegetarian options daily."})
    b = write(tmp_path / "b", {"lunch.txt": LUNCH})
    sync(settings, store, a, b)
    assert list(store.document_states()) == ["a/lunch.txt"]
    report = sync(settings, store, b)  # a is not synced: its documents stay as they are
    assert (report["new"], report["unchanged"], report["removed"]) == (0, 1, 0)
    assert store.document_states()["a/lunch.txt"].alternates == ("b/lunch.txt",)
    assert list(store.document_states()) == ["a/lunch.txt"]


def test_alternates_read_again_do_not_parse_other_files_twice(
    tmp_path: Path, settings: Settings, store: QdrantStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = write(tmp_path / "docs", {"lunch.txt": LUNCH, "lunch-copy.txt": LUNCH})
    sync(settings, store, docs)
    (docs / "lunch-copy.txt").write_text(LUNCH + " Vegetarian options daily.", encoding="utf-8")
    (docs / "gym.md").write_text("The gym is open around the clock.", encoding="utf-8")
    parsed: list[bytes] = []
    real = formats.parse

    def counting(data: bytes, suffix: str) -> formats.Parsed:
        parsed.append(data)
        return real(data, suffix)

    monkeypatch.setattr(formats, "parse", counting)
    report = sync(settings, store, docs)
    assert (report["new"], report["changed"], report["duplicates"]) == (1, 1, 1)
    assert sorted(parsed) == sorted(
        [
            LUNCH.encode(),
            (LUNCH + " Vegetarian options daily.").encode(),
            b"The gym is open around the clock.",
        ]
    )


def test_an_edited_copy_leaves_its_canonical_group(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    longer = LUNCH + " Vegetarian options daily."
    docs = write(tmp_path / "docs", {"lunch.txt": LUNCH, "lunch-copy.txt": longer})
    sync(settings, store, docs)
    assert store.document_states()["docs/lunch-copy.txt"].alternates == ("docs/lunch.txt",)
    (docs / "lunch.txt").write_text("The gym is open around the clock.", encoding="utf-8")
    report = sync(settings, store, docs)  # the canonical is read again and regrouped
    assert (report["new"], report["changed"], report["duplicates"]) == (1, 1, 0)
    states = store.document_states()
    assert {k: v.alternates for k, v in states.items()} == {
        "docs/lunch.txt": (),
        "docs/lunch-copy.txt": (),
    }
    assert chunk_texts(store, "docs/lunch-copy.txt") == [longer]
    again = sync(settings, store, docs)
    assert (again["unchanged"], again["chunks_written"]) == (2, 0)


def test_lists_are_kept_and_a_document_cleaning_empties_is_a_failure(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    docs = write(
        tmp_path / "docs",
        {  # short files of list lines, with no article around them: their lines are content
            "onboarding.md": "Onboarding\n- Be on time\n- Wear badge\n- Ask HR\nThanks",
            "leave.txt": "年假规定\n工作满1年可使用5天\n工作满10年可使用10天\n工作满20年可使用15天",
            "holidays.txt": "Holidays\nNew Year 2024-01-01\nLabour Day 2024-05-01\n"
            "National Day 2024-10-01",
            # a page whose only prose sits between its furniture: the prose stays
            "page.txt": "首页 > 新闻 > 科技\n这是正文的第一段，介绍了公司的新产品和它的主要功能。\n"
            "上一篇：旧文章\n下一篇：新文章",
        },
    )
    report = sync(settings, store, docs)
    assert (report["new"], report["failed"]) == (4, [])
    assert "可使用5天" in store.get_document("docs/leave.txt").text  # type: ignore[union-attr]
    page = store.get_document("docs/page.txt").text  # type: ignore[union-attr]
    assert "这是正文的第一段" in page and "上一篇" not in page and "首页" not in page
    assert all(d.chunk_count > 0 for d in store.document_states().values())

    # a file cleaning empties (here: mojibake runs only) is a failure with its reason
    (docs / "onboarding.md").write_text("???????\n??????")
    (docs / "new.txt").write_text("????????\n?????")
    report = sync(settings, store, docs)
    assert (report["new"], report["changed"], report["removed"]) == (0, 0, 0)
    reasons = {f["file"]: f["reason"] for f in report["failed"]}
    assert set(reasons) == {"docs/onboarding.md", "docs/new.txt"}
    assert "no text left after cleaning" in reasons["docs/new.txt"]
    assert f"--explain {docs / 'new.txt'}" in reasons["docs/new.txt"]
    assert "docs/new.txt" not in store.document_states()
    kept = store.get_document("docs/onboarding.md")  # a file that turns bad keeps its version
    assert kept is not None and "Wear badge" in kept.text


def test_a_symlink_repointed_out_of_the_root_is_reported_and_its_document_removed(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    # A file outside the synced folder is never read, and what a link once indexed is not kept
    # on account of the failure (issue 20: `ln -s /etc/passwd corpus/p.txt` was indexed).
    docs = write(tmp_path / "docs", DOCS)
    secret = write(tmp_path / "secret", {"passwd.txt": "root:x:0:0:secret"})
    (docs / "p.txt").write_text("内部的说明文字，只在这个目录里。", encoding="utf-8")
    assert sync(settings, store, docs)["new"] == 4
    (docs / "p.txt").unlink()
    (docs / "p.txt").symlink_to(secret / "passwd.txt")
    report = sync(settings, store, docs)
    assert report["failed"] == [
        {"file": "docs/p.txt", "reason": "symlink to a file outside the synced folder; not read"}
    ]
    assert report["removed"] == 1
    assert store.get_document("docs/p.txt") is None
    assert not any("secret" in t for d in DOCS for t in chunk_texts(store, f"docs/{d}"))


def test_a_jsonl_id_that_clashes_with_another_folders_document_changes_nothing(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    # It used to overwrite A's document ("changed"), and the next sync of A flipped it back.
    docs = write(tmp_path / "docs", DOCS)
    sync(settings, store, docs)
    before = chunk_texts(store, "docs/hr/leave.md")
    other = tmp_path / "other"
    other.mkdir()
    records = [
        {"id": "docs/hr/leave.md", "text": "年假取消了。"},
        {"id": "q1", "text": "食堂八点开门。"},
    ]
    (other / "export.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    report = sync(settings, store, other)
    assert report["new"] == 1 and report["changed"] == 0
    assert len(report["failed"]) == 1
    assert "'docs/hr/leave.md' is already used by" in report["failed"][0]["reason"]
    assert chunk_texts(store, "docs/hr/leave.md") == before
    assert store.get_document("docs/hr/leave.md").acl == ("everyone",)  # type: ignore[union-attr]
    again = sync(settings, store, docs)
    assert again["unchanged"] == 3 and again["changed"] == 0 and again["new"] == 0


def store_state(store: QdrantStore) -> tuple[list, list, dict]:
    """Every point of both collections: (id, payload) pairs in id order, and each chunk's
    vectors by id."""
    chunks, _ = store.client.scroll(
        store.chunks, limit=10_000, with_payload=True, with_vectors=True
    )
    docs, _ = store.client.scroll(store.documents, limit=10_000, with_payload=True)
    return (
        sorted((str(p.id), p.payload) for p in chunks),
        sorted((str(p.id), p.payload) for p in docs),
        {str(p.id): p.vector for p in chunks},
    )


def same_vectors(a: dict, b: dict) -> bool:
    """Same ids and names; dense vectors equal up to float32 rounding, sparse ones exactly."""
    if a.keys() != b.keys():
        return False
    for pid, va in a.items():
        vb = b[pid]
        if va.keys() != vb.keys():
            return False
        for name, x in va.items():
            y = vb[name]
            if isinstance(x, list):
                if not np.allclose(x, y, rtol=0, atol=1e-6):
                    return False
            elif x != y:
                return False
    return True


def test_a_resync_after_jsonl_lines_are_removed_equals_a_clean_sync(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    # Records below the removed lines used to keep their old line numbers in `source`.
    export = tmp_path / "crm" / "export.jsonl"
    export.parent.mkdir()
    lines = [
        json.dumps({"id": f"q{i}", "text": f"Ticket {i}: the printer on floor {i} jams."})
        for i in range(6)
    ]
    export.write_text("\n".join(lines), encoding="utf-8")
    sync(settings, store, export.parent)
    export.write_text("\n".join(lines[2:]), encoding="utf-8")
    report = sync(settings, store, export.parent)
    assert report["removed"] == 2 and report["failed"] == []
    assert store.get_document("q5").source == "crm/export.jsonl:4"  # type: ignore[union-attr]
    clean = QdrantStore(QdrantClient(location=":memory:"), settings.collection)
    try:
        sync(settings, clean, export.parent)
        (chunks, docs, vectors), (clean_chunks, clean_docs, clean_vectors) = (
            store_state(store),
            store_state(clean),
        )
        assert (chunks, docs) == (clean_chunks, clean_docs)
        assert same_vectors(vectors, clean_vectors)
    finally:
        clean.close()


def test_an_unchanged_file_that_failed_to_parse_is_not_parsed_again(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    # A bad file used to be parsed again on every sync (a zip bomb: minutes each time).
    docs = write(tmp_path / "docs", DOCS)
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    first = sync(settings, store, docs)
    assert [f["file"] for f in first["failed"]] == ["docs/broken.docx"]
    assert "corrupt docx" in first["failed"][0]["reason"]
    second = sync(settings, store, docs)
    assert second["failed"][0]["reason"].endswith("(unchanged since it failed: not parsed again)")
    assert "corrupt docx" in second["failed"][0]["reason"]
    assert second["unchanged"] == 3
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 another broken zip")  # changed: parsed
    third = sync(settings, store, docs)
    assert "not parsed again" not in third["failed"][0]["reason"]


def test_chunks_embedded_in_slices_keep_each_documents_own_vectors(
    tmp_path: Path, settings: Settings, store: QdrantStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nodes are embedded, and points upserted, a slice at a time (a huge document's vectors
    never sit in memory as Python floats all at once); slices that cut across documents must not
    shift any vector: the store equals one written in one go."""
    from core import store as core_store
    from ingest import pipeline

    sentences = [f"Rule {i}: item {i} costs {i * 7} euros and needs form {i}." for i in range(60)]
    files = {
        "a.txt": " ".join(sentences[:25]),
        "b.txt": "One short note.",
        "c.txt": " ".join(sentences[25:]),
    }
    docs = write(tmp_path / "docs", files)

    def vectors(st: QdrantStore) -> dict[str, list[float]]:
        points, _ = st.client.scroll(st.chunks, limit=1000, with_payload=True, with_vectors=True)
        out = {}
        for p in points:
            assert isinstance(p.vector, dict)
            out[f"{(p.payload or {})['doc_id']}#{(p.payload or {})['chunk_index']}"] = p.vector[
                "dense"
            ]
        return out

    whole = settings.model_copy(update={"data_dir": tmp_path / "whole"})
    one_go = QdrantStore.from_settings(whole)
    try:
        sync(whole, one_go, docs)
        expected = vectors(one_go)
    finally:
        one_go.close()
    monkeypatch.setattr(pipeline, "EMBED_SLICE", 3)
    monkeypatch.setattr(core_store, "UPSERT_SLICE", 2)  # and upserted a slice at a time
    report = sync(settings, store, docs)
    assert report["failed"] == [] and report["chunks_written"] == len(expected) > 6
    got = vectors(store)
    assert got.keys() == expected.keys()
    for key, vector in expected.items():
        assert np.allclose(got[key], vector), key
