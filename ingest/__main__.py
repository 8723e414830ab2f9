"""`python -m ingest PATH [PATH ...]`: sync files and folders into the configured store."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.embedders import make_embedder
from core.errors import GqaError
from core.settings import Settings
from core.store import open_store
from ingest import cleaning, formats
from ingest.pipeline import Ingestor, IngestReport


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path, help="files and folders to sync")
    parser.add_argument(
        "--explain",
        type=Path,
        metavar="FILE",
        help="show FILE's cleaned text and every removal with its rule; writes nothing",
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
        return explain(args.explain)
    if not args.paths:
        parser.error("give at least one PATH (or --explain FILE)")
    settings = Settings()
    acl = [g.strip() for g in args.acl.split(",") if g.strip()] if args.acl else None
    try:
        store = open_store(settings)
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
    print(summary(report, settings))
    if args.summary_json:
        args.summary_json.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    return 1 if report.failed else 0


def _writer(path: Path) -> Callable[[dict[str, Any]], None]:
    """Write progress atomically (a reader never sees half a file)."""

    def write(counts: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    return write


def explain(file: Path) -> int:
    """Print what cleaning keeps and drops from one file (the folder's other files supply the
    corpus statistics, as in a real sync)."""
    try:
        parsed = formats.parse(file.read_bytes(), file.suffix)
        siblings = [
            formats.parse(p.read_bytes(), p.suffix).text
            for p in sorted(file.parent.iterdir())
            if p.is_file() and p != file and p.suffix.lower() in formats.SUFFIXES
        ]
    except (OSError, ValueError) as exc:
        print(f"error: {file}: {exc}", file=sys.stderr)
        return 2
    stats = cleaning.CorpusStats.build([parsed.text, *siblings])
    print(cleaning.explain(cleaning.clean(parsed.text, stats)))
    return 0


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
    lines += [f"  failed: {f.file}: {f.reason}" for f in report.failed[:20]]
    if len(report.failed) > 20:
        lines.append(f"  ... and {len(report.failed) - 20} more (see --summary-json)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
