"""Finding and reading source files into `SourceDocument`s; bad files become `Failure`s."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
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


@dataclass(frozen=True)
class Unchanged:
    """A document whose source bytes, groups and pipeline configuration match what is indexed:
    it is neither parsed nor cleaned again."""

    doc_id: str


def raw_hash(salt: str, groups: tuple[str, ...], data: bytes) -> str:
    """Identity of a document's input: bytes, groups and the pipeline's configuration (salt)."""
    return hashlib.sha256(f"{salt}\x1f{','.join(groups)}\x1f".encode() + data).hexdigest()


def read_root(
    root: Root,
    acl: tuple[str, ...],
    max_bytes: int,
    known: Mapping[str, str] | None = None,
    salt: str = "",
) -> Iterator[SourceDocument | Failure | Unchanged]:
    """Every document under `root`, a `Failure` per file that cannot be read, and `Unchanged`
    for documents whose raw hash is in `known` (doc_id -> raw hash of the indexed version).

    A root that cannot be read at all (missing path, bad acl.yaml) yields one `Failure` with
    an empty `file`: none of its indexed documents may be removed on its account.
    """
    known = known or {}
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
            groups = rules.groups_for(file)
            if file.suffix.lower() == ".jsonl":
                yield from _jsonl_records(root, rel, decode(data), groups, known, salt)
                continue
            digest = raw_hash(salt, groups, data)
            if known.get(rel) == digest:
                yield Unchanged(rel)
                continue
            parsed = formats.parse(data, file.suffix)
        except (OSError, ValueError) as exc:  # FormatError is a ValueError
            yield Failure(root.origin, rel, str(exc))
            continue
        if not parsed.text.strip():
            yield Failure(root.origin, rel, "no text")
            continue
        title = parsed.title or _title(parsed.text, file)
        yield SourceDocument(
            rel,
            rel,
            title,
            parsed.text,
            groups,
            root.origin,
            rel,
            pages=parsed.pages,
            raw_hash=digest,
        )


def _title(text: str, file: Path) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 80 else file.stem
    return file.stem


def _jsonl_records(
    root: Root,
    rel: str,
    text: str,
    acl: tuple[str, ...],
    known: Mapping[str, str],
    salt: str,
) -> Iterator[SourceDocument | Failure | Unchanged]:
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
        digest = raw_hash(salt, rec_acl, line.encode())
        if known.get(doc_id) == digest:
            yield Unchanged(doc_id)
            continue
        yield SourceDocument(
            doc_id=doc_id,
            source=str(rec.get("source") or where),
            title=str(rec.get("title") or ""),
            text=JUNK.sub("", body),
            acl=rec_acl,
            origin=root.origin,
            file=rel,
            raw_hash=digest,
        )
