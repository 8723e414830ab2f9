"""The ingest CLI: summary, exit codes, --explain writing nothing."""

from pathlib import Path

import pytest

from ingest.__main__ import main
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
