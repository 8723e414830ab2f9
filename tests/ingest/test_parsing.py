"""The parse-time cap: a file whose parse runs past GQA_PARSE_TIMEOUT_S is a failure, remembered
by hash, and the sync goes on."""

from __future__ import annotations

import time
from pathlib import Path

from core.records import SourceDocument
from ingest import formats
from ingest.parsing import TimedParser
from ingest.sources import BadFiles, Failure, Root, read_root

STALL = b"stall"


def _stalling_parse(data: bytes, suffix: str) -> formats.Parsed:
    """formats.parse, except that a file holding STALL never finishes (a runaway parser).
    Module-level: the worker process gets it by reference."""
    if STALL in data:
        time.sleep(3600)
    return formats.parse(data, suffix)


def _read(folder: Path, bad: BadFiles, parse: TimedParser) -> list[SourceDocument | Failure]:
    items = read_root(Root(folder), ("everyone",), 2**20, bad=bad, parse=parse)
    return [i for i in items if isinstance(i, SourceDocument | Failure)]


def test_a_parse_past_the_limit_is_a_remembered_failure_and_the_sync_goes_on(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a_stuck.html").write_bytes(b"<html><body><p>" + STALL + b"</p></body></html>")
    (folder / "b_page.html").write_bytes(b"<html><body><p>Refunds take 14 days.</p></body></html>")
    (folder / "c_note.md").write_text("# Note\n\nThe VPN needs a token.\n")
    bad = BadFiles()
    formats.parse(b"<p>warm</p>", ".html")  # import unstructured here: the fork inherits it
    # the limit leaves a loaded machine time to parse b_page.html; a_stuck.html never ends
    with TimedParser(5, parse=_stalling_parse) as parse:
        items = _read(folder, bad, parse)
        failures = {i.file: i.reason for i in items if isinstance(i, Failure)}
        texts = {i.doc_id: i.text for i in items if isinstance(i, SourceDocument)}
        assert list(failures) == ["docs/a_stuck.html"]
        assert "longer than 5 s (GQA_PARSE_TIMEOUT_S)" in failures["docs/a_stuck.html"]
        assert "Refunds take 14 days." in texts["docs/b_page.html"]  # a new worker parsed it
        assert "VPN needs a token" in texts["docs/c_note.md"]
        assert len(bad.now) == 1  # remembered by the file's hash

        again = _read(folder, BadFiles(before=bad.now), parse)
    reasons = [i.reason for i in again if isinstance(i, Failure)]
    assert len(reasons) == 1 and "not parsed again" in reasons[0]
    assert len([i for i in again if isinstance(i, SourceDocument)]) == 2


def test_text_formats_parse_in_process(tmp_path: Path) -> None:
    # no worker for .md/.txt: a stalling parse of a slow format is needed to start one
    with TimedParser(60, parse=_stalling_parse) as parse:
        assert "hello" in parse(b"hello", ".txt").text
        assert parse._pool is None
        assert "hi" in parse(b"<p>hi</p>", ".html").text
        assert parse._pool is not None
    assert parse._pool is None  # ended with the block
