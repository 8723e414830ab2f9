"""Finding and reading source files into `SourceDocument`s; bad files become `Failure`s."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.records import SourceDocument
from ingest import formats
from ingest.acl import ACL_FILE, AclError, AclRules
from ingest.decoding import JUNK, decode

log = logging.getLogger(__name__)

SUFFIXES = formats.SUFFIXES | {".jsonl"}


@dataclass(frozen=True)
class Failure:
    """A source that could not be ingested, and why. `file` is relative to its root."""

    origin: str
    file: str
    reason: str


@dataclass(frozen=True)
class Root:
    """One PATH argument: a folder (its files are synced as a set) or a single file."""

    path: Path

    @property
    def origin(self) -> str:
        return str(self.path.resolve())

    def files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        return sorted(
            p
            for p in self.path.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.path).parts)
        )

    def rel(self, file: Path) -> str:
        """Stable document id of a file: '<folder name>/<path in folder>' or the file name."""
        if self.path.is_file():
            return file.name
        return f"{self.path.name}/{file.relative_to(self.path).as_posix()}"


def read_root(
    root: Root, acl: tuple[str, ...], max_bytes: int
) -> Iterator[SourceDocument | Failure]:
    """Every document under `root`, or a `Failure` per file that cannot be read.

    A root that cannot be read at all (missing path, bad acl.yaml) yields one `Failure` with
    an empty `file`: none of its indexed documents may be removed on its account.
    """
    if not root.path.exists():
        yield Failure(root.origin, "", f"{root.path}: path does not exist")
        return
    try:
        rules = AclRules.load(root.path, acl)
    except AclError as exc:
        yield Failure(root.origin, "", f"{exc} - nothing under {root.path} was synced")
        return
    for file in root.files():
        rel = root.rel(file)
        if file.name == ACL_FILE:
            continue
        if file.suffix.lower() not in SUFFIXES:
            yield Failure(root.origin, rel, f"unsupported file type {file.suffix or '(none)'!r}")
            continue
        try:
            data = file.read_bytes()
            if len(data) > max_bytes:
                raise ValueError(f"larger than the {max_bytes // 2**20} MiB limit")
            if file.suffix.lower() == ".jsonl":
                yield from _jsonl_records(root, rel, decode(data), rules.groups_for(file))
                continue
            parsed = formats.parse(data, file.suffix)
        except (OSError, ValueError) as exc:  # FormatError is a ValueError
            yield Failure(root.origin, rel, str(exc))
            continue
        if not parsed.text.strip():
            yield Failure(root.origin, rel, "no text")
            continue
        title = parsed.title or _title(parsed.text, file)
        groups = rules.groups_for(file)
        yield SourceDocument(
            rel, rel, title, parsed.text, groups, root.origin, rel, pages=parsed.pages
        )


def _title(text: str, file: Path) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 80 else file.stem
    return file.stem


def _document(
    origin: str,
    file: str,
    doc_id: str,
    text: str,
    acl: tuple[str, ...],
    title: str,
    source: str | None = None,
) -> SourceDocument:
    return SourceDocument(
        doc_id=doc_id,
        source=source or file,
        title=title,
        text=text,
        acl=acl,
        origin=origin,
        file=file,
    )


def _jsonl_records(
    root: Root, rel: str, text: str, acl: tuple[str, ...]
) -> Iterator[SourceDocument | Failure]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{rel}:{lineno}"
        try:
            rec = json.loads(line)
            doc_id, body = str(rec["id"]), rec["text"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            yield Failure(
                root.origin, rel, f"line {lineno}: not a record with 'id' and 'text' ({exc})"
            )
            continue
        if not isinstance(body, str) or not body.strip():
            yield Failure(root.origin, rel, f"line {lineno}: empty text")
            continue
        groups = rec.get("acl")
        rec_acl = tuple(groups) if isinstance(groups, list) and groups else acl
        title = str(rec.get("title") or "")
        yield _document(
            root.origin,
            rel,
            doc_id,
            JUNK.sub("", body),
            rec_acl,
            title,
            str(rec.get("source") or where),
        )
