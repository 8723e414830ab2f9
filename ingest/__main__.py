"""`python -m ingest PATH [PATH ...]`: sync files and folders into the configured store."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError

from core.errors import ConfigError, GqaError
from core.settings import Settings
from core.store_lock import StoreLock

if TYPE_CHECKING:
    from core.store import Store
    from ingest.pipeline import IngestReport


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path, help="files and folders to sync")
    parser.add_argument(
        "--explain",
        type=Path,
        metavar="FILE",
        help="show FILE's cleaned text and every removal with its rule (a JSONL export: its "
        "records); reads only FILE and writes nothing",
    )
    parser.add_argument(
        "--record", metavar="ID", help="with --explain on a JSONL export: one record"
    )
    parser.add_argument(
        "--acl", help="comma-separated groups for these documents (default: GQA_DEFAULT_ACL)"
    )
    parser.add_argument("--summary-json", type=Path, help="also write the summary here as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--progress-json", type=Path, help="keep this file updated with progress counts (for jobs)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.explain:
        try:
            return explain(args.explain, args.record)
        except GqaError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if not args.paths:
        parser.error("give at least one PATH (or --explain FILE)")
    acl = [g.strip() for g in args.acl.split(",") if g.strip()] if args.acl else None
    lock: StoreLock | None = None
    try:
        settings = _load_settings()
        if not settings.qdrant_url:  # before the pipeline loads: a held store fails at once
            lock = StoreLock(settings.store_path, "python -m ingest")
            lock.acquire()
        # Imported here, after the lock (they load in seconds).
        from core.embedders import make_embedder
        from ingest.pipeline import Ingestor

        store = _open_store(settings)
        try:
            report = Ingestor(settings, store, make_embedder(settings)).sync(
                args.paths,
                acl=acl,
                progress=not args.no_progress and sys.stderr.isatty(),
                on_progress=_writer(args.progress_json) if args.progress_json else None,
            )
        finally:
            store.close()
    except GqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if lock is not None:
            lock.release()
    print(summary(report, settings))
    if args.summary_json:
        args.summary_json.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    return 1 if report.failed else 0


def _load_settings() -> Settings:
    """Settings from the environment and .env. Raises ConfigError naming each bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors(include_url=False))
        raise ConfigError(f"{problems} - {_FIX}") from exc
    except SettingsError as exc:  # a list setting that is not JSON
        match = re.search(r'field "(\w+)"', str(exc))
        if not match:
            raise ConfigError(f"{exc} - {_FIX}") from exc
        name = f"GQA_{match[1].upper()}"
        raise ConfigError(
            f"{name} is not a JSON list ({exc.__cause__ or exc}): write it as "
            f'{name}=\'["hr", "finance"]\' in the environment or .env'
        ) from exc


_FIX = "fix it in the environment or .env (settings are listed in README.md)"


def _problem(error: ErrorDetails) -> str:
    """'GQA_CHUNK_SIZE='10': Input should be greater than or equal to 50' for one error."""
    field, *inner = error["loc"] or ("",)
    name = f"GQA_{str(field).upper()}" + "".join(f"[{i}]" for i in inner)
    secret = "key" in str(field)  # API keys are not echoed
    return f"{name}: {error['msg']}" if secret else f"{name}={error['input']!r}: {error['msg']}"


def _open_store(settings: Settings) -> Store:
    """The configured store. Raises ConfigError when its folder cannot be created or written."""
    from core.store import open_store

    try:
        return open_store(settings)
    except OSError as exc:
        where = settings.qdrant_url or settings.store_path
        raise ConfigError(
            f"cannot open the store at {where}: {exc.strerror or exc}"
            f"{f' ({exc.filename})' if exc.filename else ''} - point GQA_DATA_DIR "
            "(or GQA_QDRANT_PATH) at a folder this user can write"
        ) from exc


def _writer(path: Path) -> Callable[[dict[str, Any]], None]:
    """Write progress atomically (a reader never sees half a file)."""

    def write(counts: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    return write


def explain(file: Path, record: str | None = None) -> int:
    """Print what cleaning keeps and drops from exactly `file` (read as a sync reads it, as
    a root of its own: no other file is opened). A JSONL export prints its records, which are
    not cleaned (or only the record `record`). Returns the exit code: 2 when the file, or the
    record asked for, cannot be read."""
    from ingest import cleaning
    from ingest.sources import Failure, Root, Unchanged, read_root

    if not file.is_file():
        print(f"error: {file}: not a file - --explain takes one file", file=sys.stderr)
        return 2
    settings = _load_settings()
    root = Root(file)
    items = read_root(root, tuple(settings.default_acl), int(settings.max_file_mb * 2**20))
    out: list[str] = []
    failed = False
    for item in items:
        if isinstance(item, Failure):
            if record is None or item.doc_id in (None, record):
                print(f"error: {item.file or file}: {item.reason}", file=sys.stderr)
                failed = True
            continue
        assert not isinstance(item, Unchanged)  # nothing is known: everything is read
        if record is not None and item.doc_id != record:
            continue
        if item.doc_id != item.file:  # a record of a JSONL export
            out += [f"=== record {item.doc_id} (JSONL records are not cleaned) ===", item.text]
            out += _explain_planted(item.text)
            continue
        # Statistics of this file alone: a sync also counts lines that recur across the
        # files parsed with it, so it may remove a few more.
        stats = cleaning.CorpusStats.build([item.text])
        cleaned = cleaning.clean(item.text, stats)
        out.append(cleaning.explain(cleaned))
        out += _explain_planted(cleaned.text)
    if record is not None and not out:
        print(f"error: {file}: no record with id {record!r}", file=sys.stderr)
        return 2
    if out:
        print("\n".join(out))
    return 2 if failed and not out else 1 if failed else 0


def _explain_planted(text: str) -> list[str]:
    """The spans of the cleaned text marked as addressing the assistant (never evidence)."""
    from ingest.injection import find_planted

    spans = find_planted(text)
    lines = [f"=== {len(spans)} span(s) addressing the assistant (kept, never evidence) ==="]
    return lines + [f"  [{s}:{e}] {text[s:e]!r}" for s, e in spans]


def summary(report: IngestReport, settings: Settings) -> str:
    """The one-screen summary of a run."""
    where = settings.qdrant_url or settings.store_path
    lines = [
        f"collection {settings.collection!r} at {where}",
        f"documents: {report.new} new, {report.changed} changed, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.failed)} failed, "
        f"{report.duplicates} duplicates indexed as alternates",
        f"chunks written: {report.chunks_written}    seconds: {report.seconds:.1f}",
    ]
    if report.reembedded:
        lines.append(
            f"re-embedded: {report.reembedded} documents from their stored text, their chunks "
            f"counted above (was {report.reembedded_from})"
        )
    lines += [
        f"chunks with text addressing the assistant (never evidence): {report.chunks_planted}",
    ]
    alternates = sorted(report.alternates.items())
    lines += [f"  alternate: {alt} (indexed as {canon})" for alt, canon in alternates[:20]]
    if len(alternates) > 20:
        lines.append(f"  ... and {len(alternates) - 20} more alternates (see --summary-json)")
    lines += [f"  failed: {f.file}: {f.reason}" for f in report.failed[:20]]
    if len(report.failed) > 20:
        lines.append(f"  ... and {len(report.failed) - 20} more (see --summary-json)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
