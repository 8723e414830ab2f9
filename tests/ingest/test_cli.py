"""The ingest CLI: summary, exit codes, --explain writing nothing."""

import json
import os
from pathlib import Path

import pytest

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore, open_store
from ingest.__main__ import main
from ingest.pipeline import Ingestor
from tests.conftest import write


def test_cli_summary_and_exit_code_say_what_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GQA_EMBEDDER", "hashing")
    docs = write(tmp_path / "docs", {"ok.txt": "年假须提前三天申请。", "bad.txt": b"\x00\x00"})
    assert main([str(docs), "--no-progress", "--summary-json", str(tmp_path / "s.json")]) == 1
    out = capsys.readouterr().out
    assert "1 new" in out and "1 failed" in out and "docs/bad.txt: binary file" in out
    assert '"new": 1' in (tmp_path / "s.json").read_text()
    (docs / "bad.txt").unlink()
    assert main([str(docs), "--no-progress"]) == 0
    assert "1 unchanged" in capsys.readouterr().out


def test_explain_shows_removals_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GQA_DATA_DIR", str(tmp_path / "data"))
    page = "\n".join(
        [
            "首页 > 新闻 > 科技",
            "这是正文的第一段，介绍了公司的新产品和它的主要功能。",
            "上一篇：旧文章",
            "下一篇：新文章",
        ]
    )
    f = write(tmp_path / "pages", {"p.txt": page}) / "p.txt"
    assert main(["--explain", str(f)]) == 0
    out = capsys.readouterr().out
    assert "这是正文的第一段" in out and "上一篇：旧文章" in out and "link_list" in out
    assert not (tmp_path / "data").exists()


def test_progress_is_reported_per_batch_and_written_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings, store: QdrantStore
) -> None:
    docs = write(tmp_path / "docs", {f"d{i}.txt": f"第{i}份文件的内容。" * 5 for i in range(5)})
    seen: list[dict] = []
    ingestor = Ingestor(settings, store, HashingEmbedder())
    ingestor.sync([docs], on_progress=seen.append)
    assert [s["documents_written"] for s in seen] == [0, 5]  # one batch of up to 64
    assert seen[-1]["documents_to_write"] == 5 and seen[-1]["chunks_written"] >= 5

    monkeypatch.setenv("GQA_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("GQA_EMBEDDER", "hashing")
    out = tmp_path / "p.json"
    assert main([str(docs), "--no-progress", "--progress-json", str(out)]) == 0
    final = json.loads(out.read_text())
    assert (final["documents_to_write"], final["documents_written"], final["failed"]) == (5, 5, [])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GQA_DEFAULT_ACL": "hr"}, "GQA_DEFAULT_ACL is not a JSON list"),
        (
            {"GQA_CHUNK_SIZE": "10"},
            "GQA_CHUNK_SIZE='10': Input should be greater than or equal to 50",
        ),
        (
            {"GQA_DEFAULT_ACL": "[1]", "GQA_PORT": "x"},
            "GQA_DEFAULT_ACL[0]=1: Input should be a valid string; GQA_PORT='x'",
        ),
        (
            {"GQA_DATA_DIR": "{tmp}/docs/a.txt/data"},
            "cannot open the store at {tmp}/docs/a.txt/data/edge: Not a directory",
        ),
    ],
)
def test_configuration_errors_are_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("GQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GQA_EMBEDDER", "hashing")
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    docs = write(tmp_path / "docs", {"a.txt": "年假须提前三天申请。"})
    assert main([str(docs), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {expected.format(tmp=tmp_path)}")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_a_data_folder_without_write_permission_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir(mode=0o555)
    monkeypatch.setenv("GQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GQA_EMBEDDER", "hashing")
    docs = write(tmp_path / "docs", {"a.txt": "年假须提前三天申请。"})
    assert main([str(docs), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Permission denied" in err and "GQA_DATA_DIR" in err and err.count("\n") == 1


def test_explain_reads_only_the_file_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = write(
        tmp_path / "docs",
        {
            "ok.txt": "年假须提前三天在系统中申请。",
            "broken.pdf": b"%PDF-1.4 not really a pdf",  # a bad sibling is not opened
            "export.jsonl": '{"id": "kb-1", "text": "VPN 断开时间为30分钟。"}\n'
            '{"id": "kb-2", "text": "午餐时间为11:30至13:30。"}\n',
        },
    )
    assert main(["--explain", str(folder / "ok.txt")]) == 0
    captured = capsys.readouterr()
    assert "年假须提前三天" in captured.out and "broken.pdf" not in captured.out + captured.err
    assert main(["--explain", str(folder / "export.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "=== record kb-1" in out and "VPN 断开时间为30分钟。" in out and "午餐时间" in out
    assert main(["--explain", str(folder / "export.jsonl"), "--record", "kb-2"]) == 0
    out = capsys.readouterr().out
    assert "午餐时间" in out and "kb-1" not in out
    assert main(["--explain", str(folder / "export.jsonl"), "--record", "kb-9"]) == 2
    assert "no record with id 'kb-9'" in capsys.readouterr().err
    assert main(["--explain", str(folder / "broken.pdf")]) == 2
    assert "broken.pdf" in capsys.readouterr().err


def test_a_non_utf8_file_name_is_one_failure_and_the_sync_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Such a name used to abort the whole sync (UnicodeEncodeError, no summary, left running).
    monkeypatch.setenv("GQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GQA_EMBEDDER", "hashing")
    docs = write(tmp_path / "docs", {"ok.txt": "年假须提前三天申请。"})
    (docs / os.fsdecode(b"\xc4\xe3\xba\xc3.txt")).write_bytes("坏名字。".encode())
    assert main([str(docs), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "1 new" in out and "1 failed" in out and "file name is not valid UTF-8" in out
    (docs / "ok.txt").write_text("年假须提前五天申请。", encoding="utf-8")
    assert main([str(docs), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "1 changed" in out and "interrupted" not in out
    store = open_store(Settings(_env_file=None, data_dir=tmp_path / "data", embedder="hashing"))  # type: ignore[call-arg]
    try:
        assert store.mark_sync(False) is False  # the sync was not left marked running
    finally:
        store.close()
