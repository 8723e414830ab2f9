"""Finding and reading source files into `SourceDocument`s; bad files become `Failure`s."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.records import SourceDocument
from ingest import formats
from ingest.acl import ACL_FILE, AclError, AclRules
from ingest.decoding import JUNK, decode

log = logging.getLogger(__name__)

JSONL = ".jsonl"
SUFFIXES = formats.SUFFIXES | {JSONL}


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

    def files(self) -> Iterator[Path | Failure]:
        """The files to read, sorted, after a `Failure` for each thing that cannot be:

        - a folder that cannot be listed: `file` is its id prefix ('docs/locked/'; '' for the
          root itself), and the indexed documents under it are kept, not removed;
        - a broken symlink, or a symlinked folder (not followed: it may lead out of the root
          or around in a loop); symlinked files are read;
        - anything else that is not a regular file (a FIFO would block the read).

        Hidden files and folders (names starting with '.') are skipped.
        """
        if not self.path.is_dir():
            problem = _not_a_file(self.path)
            yield Failure(self.origin, "", f"{self.path}: {problem}") if problem else self.path
            return
        unlisted: list[OSError] = []
        found: list[Path] = []
        for top, dirs, names in os.walk(self.path, onerror=unlisted.append):
            folder = Path(top)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for d in dirs:
                if os.path.islink(folder / d):
                    yield Failure(
                        self.origin, self.rel(folder / d), "symlinked folder not followed"
                    )
            for name in sorted(n for n in names if not n.startswith(".")):
                problem = _not_a_file(folder / name)
                if problem:
                    yield Failure(self.origin, self.rel(folder / name), problem)
                else:
                    found.append(folder / name)
        for exc in unlisted:
            folder = Path(exc.filename or self.path)
            prefix = "" if folder == self.path else f"{self.rel(folder)}/"
            reason = f"cannot list folder {folder} ({exc.strerror}); its indexed documents are kept"
            yield Failure(self.origin, prefix, reason)
        yield from sorted(found)

    def rel(self, file: Path) -> str:
        """Stable document id of a file: '<folder name>/<path in folder>' or the file name."""
        if self.path.is_file():
            return file.name
        # resolve(): `.` and `..` have no name of their own (ids would start with '/')
        return f"{self.path.resolve().name}/{file.relative_to(self.path).as_posix()}"


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
        if isinstance(file, Failure):
            yield file
            continue
        rel = root.rel(file)
        if file.name == ACL_FILE:
            continue
        if file.suffix.lower() not in SUFFIXES:
            yield Failure(root.origin, rel, f"unsupported file type {file.suffix or '(none)'!r}")
            continue
        try:
            data = _read(file, max_bytes)
            groups = rules.groups_for(file)
            if file.suffix.lower() == JSONL:
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


def _not_a_file(path: Path) -> str | None:
    """Why a name the folder lists is not a file to read, or None when it is one."""
    try:
        mode = path.stat().st_mode  # follows symlinks: a symlinked file is read
    except OSError as exc:
        if os.path.islink(path):
            return f"broken symlink ({exc.strerror})"
        return f"cannot read ({exc.strerror})"
    return None if stat.S_ISREG(mode) else "not a regular file"


def _read(file: Path, max_bytes: int) -> bytes:
    """The file's bytes; a file over the limit is refused before it is read into memory."""
    limit = f"the {max_bytes / 2**20:g} MiB limit (GQA_MAX_FILE_MB)"
    size = file.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{size / 2**20:.1f} MiB, larger than {limit}")
    data = file.read_bytes()
    if len(data) > max_bytes:  # it grew since stat
        raise ValueError(f"larger than {limit}")
    return data


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
    # Lines end at "\n" only: splitlines() also splits at U+2028/U+2029, which JSON strings
    # may hold raw, and would break such a record in two and misnumber the lines after it.
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            rec, doc_id, rec_acl = _record(line, acl)
        except ValueError as exc:
            yield Failure(root.origin, rel, f"line {lineno}: {exc}")
            continue
        digest = raw_hash(salt, rec_acl, line.encode())
        if known.get(doc_id) == digest:
            yield Unchanged(doc_id)
            continue
        yield SourceDocument(
            doc_id=doc_id,
            source=str(rec.get("source") or f"{rel}:{lineno}"),
            title=str(rec.get("title") or ""),
            text=JUNK.sub("", rec["text"]),
            acl=rec_acl,
            origin=root.origin,
            file=rel,
            raw_hash=digest,
        )


def _record(line: str, default: tuple[str, ...]) -> tuple[dict[str, Any], str, tuple[str, ...]]:
    """One JSONL line -> (record, document id, groups); a record without "acl" gets `default`.

    Raises ValueError saying what is wrong with the line.
    """
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(rec, dict) or "id" not in rec or "text" not in rec:
        raise ValueError("not a record with 'id' and 'text'")
    doc_id = rec["id"]
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or not str(doc_id).strip():
        raise ValueError(f"'id' must be a non-empty string or an integer, not {doc_id!r}")
    if not isinstance(rec["text"], str) or not rec["text"].strip():
        raise ValueError("empty text")
    groups = rec.get("acl")
    if groups is None:  # absent or null: the groups of the file
        return rec, str(doc_id), default
    if isinstance(groups, str):  # "hr" is ["hr"], as in acl.yaml, never the default groups
        groups = [groups]
    if (
        not isinstance(groups, list)
        or not groups
        or not all(isinstance(g, str) and g.strip() for g in groups)
    ):
        raise ValueError(f"'acl' must be a non-empty list of group names, not {rec['acl']!r}")
    return rec, str(doc_id), tuple(groups)
