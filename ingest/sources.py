"""Finding and reading source files into `SourceDocument`s; bad files become `Failure`s."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.records import SourceDocument
from ingest import formats
from ingest.acl import ACL_FILE, AclError, AclRules, walk
from ingest.decoding import JUNK, decode

log = logging.getLogger(__name__)

JSONL = ".jsonl"
SUFFIXES = formats.SUFFIXES | {JSONL}


# What a failure is about; it decides which indexed documents the failure keeps
# (`ingest.pipeline`), never the wording of `reason`:
# - "root": the root could not be read at all (`file` is ''): all its documents are kept;
# - "folder": a folder could not be listed (`file` is its id prefix, ending in '/');
# - "file": a file could not be read or indexed: its documents are kept;
# - "line": a JSONL line failed but names a valid id (`doc_id`): that record is kept;
# - "line_no_id": a JSONL line failed and names no valid id: every record of its file is kept;
# - "duplicate_id": a document whose id was already read in this run (`doc_id`);
# - "refused": a file that must not be indexed at all (a symlink out of the root): an indexed
#   version of it is removed, not kept.
FailureKind = Literal["root", "folder", "file", "line", "line_no_id", "duplicate_id", "refused"]


@dataclass(frozen=True)
class Failure:
    """A source that could not be ingested, and why. `file` is relative to its root.

    `kind` (see `FailureKind`) defaults to what `file` implies: '' is the root, a name ending
    in '/' a folder, anything else a file. `doc_id` is the record a "line" or "duplicate_id"
    failure names.
    """

    origin: str
    file: str
    reason: str
    kind: FailureKind = "file"
    doc_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "file" and not self.file:
            object.__setattr__(self, "kind", "root")
        elif self.kind == "file" and self.file.endswith("/"):
            object.__setattr__(self, "kind", "folder")


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
        - anything else that is not a regular file (a FIFO would block the read);
        - a file whose real path lies outside the root (a symlink out of it): a sync reads only
          what is inside the folder it was given; symlinks within it are read;
        - a name that is not valid UTF-8 (it cannot be an id): `file` shows its bytes escaped.

        Hidden files and folders (names starting with '.') are skipped.
        """
        if not self.path.is_dir():
            problem = _not_a_file(self.path)
            yield Failure(self.origin, "", f"{self.path}: {problem}") if problem else self.path
            return
        unlisted: list[OSError] = []
        found: list[Path] = []
        real_root = self.path.resolve()
        for folder, dirs, names in walk(self.path, onerror=unlisted.append):
            for d in dirs:
                if os.path.islink(folder / d):
                    yield Failure(
                        self.origin, self.rel(folder / d), "symlinked folder not followed"
                    )
            for name in names:
                rel = self.rel(folder / name)
                if not _utf8(rel):
                    shown = os.fsencode(rel).decode(errors="backslashreplace")
                    yield Failure(self.origin, shown, "file name is not valid UTF-8; rename it")
                    continue
                problem = _not_a_file(folder / name)
                if problem:
                    yield Failure(self.origin, rel, problem)
                elif outside := _outside(folder / name, real_root):
                    yield Failure(self.origin, rel, outside, kind="refused")
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


@dataclass
class BadFiles:
    """Files whose content failed to parse, by raw hash (bytes, groups, pipeline config):
    `before` as remembered from earlier syncs, `now` filled by this one (what to remember)."""

    before: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # -> (origin, reason)
    now: dict[str, tuple[str, str]] = field(default_factory=dict)


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
    only: Collection[str] | None = None,
    bad: BadFiles | None = None,
    parse: Callable[[bytes, str], formats.Parsed] = formats.parse,
) -> Iterator[SourceDocument | Failure | Unchanged]:
    """Every document under `root`, a `Failure` per file that cannot be read, and `Unchanged`
    for documents whose raw hash is in `known` (doc_id -> raw hash of the indexed version).
    A file whose raw hash is in `bad.before` failed to parse before and is not parsed again.

    A root that cannot be read at all (missing path, bad acl.yaml) yields one `Failure` with
    an empty `file`: none of its indexed documents may be removed on its account.

    `only` (document ids) reads just those documents: other files are not read (a file's id
    is its path, known before it is parsed), other records of a JSONL export are skipped, and
    so are the failures of other files and lines.

    `parse` turns a file's bytes into text (`ingest.parsing.TimedParser` caps its time).
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
            if only is None or file.kind != "file" or file.file in only:
                yield file
            continue
        rel = root.rel(file)
        if file.name == ACL_FILE:
            continue
        if only is not None and rel not in only and file.suffix.lower() != JSONL:
            continue
        if file.suffix.lower() not in SUFFIXES:
            yield Failure(root.origin, rel, f"unsupported file type {file.suffix or '(none)'!r}")
            continue
        digest = None
        try:
            data = _read(file, max_bytes)
            groups = rules.groups_for(file)
            if file.suffix.lower() == JSONL:
                yield from _jsonl_records(root, rel, decode(data), groups, known, salt, only)
                continue
            digest = raw_hash(salt, groups, data)
            if known.get(rel) == digest:
                yield Unchanged(rel)
                continue
            if bad is not None and digest in bad.before:
                bad.now[digest] = (root.origin, bad.before[digest][1])
                reason = f"{bad.before[digest][1]} (unchanged since it failed: not parsed again)"
                yield Failure(root.origin, rel, reason)
                continue
            parsed = parse(data, file.suffix)
            if not parsed.text.strip():
                raise formats.FormatError("no text")
        except OSError as exc:  # not the file's content: read it again next time
            yield Failure(root.origin, rel, str(exc))
            continue
        except ValueError as exc:  # FormatError is a ValueError: the content is bad
            if bad is not None and digest is not None:
                bad.now[digest] = (root.origin, str(exc))
            yield Failure(root.origin, rel, str(exc))
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


def _utf8(name: str) -> bool:
    """Whether a name from the filesystem is valid UTF-8 (invalid bytes arrive as surrogates)."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _outside(path: Path, real_root: Path) -> str | None:
    """Why a file is not read when its real path lies outside the synced folder, else None."""
    real = path.resolve()
    if real.is_relative_to(real_root):
        return None
    return "symlink to a file outside the synced folder; not read"


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


@dataclass(frozen=True)
class JsonlRecord:
    """A valid line of a JSONL export."""

    lineno: int
    line: str  # as read (its raw hash is the record's identity)
    doc_id: str
    text: str
    title: str
    source: str | None
    acl: tuple[str, ...]


@dataclass(frozen=True)
class BadLine:
    """A JSONL line that is not a valid record; `doc_id` is its id when that id is valid (its
    text or groups are what is wrong), None when the line names no valid id."""

    lineno: int
    reason: str
    doc_id: str | None = None


def jsonl_lines(text: str, default: tuple[str, ...]) -> Iterator[JsonlRecord | BadLine]:
    """The non-blank lines of a decoded JSONL export, each a record or what is wrong with it.
    A record without "acl" (or with "acl": null) gets the groups `default`.

    Lines end at "\n" only (`decode` has made every line end one): splitlines() also splits at
    U+2028/U+2029, which JSON strings may hold raw, and would break such a record in two and
    misnumber the lines after it.
    """
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.strip():
            yield _jsonl_line(lineno, line, default)


def _jsonl_line(lineno: int, line: str, default: tuple[str, ...]) -> JsonlRecord | BadLine:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadLine(lineno, f"not JSON ({exc})")
    if not isinstance(rec, dict) or "id" not in rec or "text" not in rec:
        # A dict without "text" may still name a valid id: the record is known.
        named = rec.get("id") if isinstance(rec, dict) else None
        return BadLine(lineno, "not a record with 'id' and 'text'", _valid_id(named))
    doc_id = _valid_id(rec["id"])
    if doc_id is None:
        return BadLine(lineno, f"'id' must be a non-empty string or an integer, not {rec['id']!r}")
    if not isinstance(rec["text"], str) or not rec["text"].strip():
        return BadLine(lineno, "empty text", doc_id)
    groups = _groups(rec.get("acl"), default)
    if groups is None:
        return BadLine(
            lineno, f"'acl' must be a non-empty list of group names, not {rec['acl']!r}", doc_id
        )
    return JsonlRecord(
        lineno,
        line,
        doc_id,
        rec["text"],
        str(rec.get("title") or ""),
        str(rec["source"]) if rec.get("source") else None,
        groups,
    )


def _valid_id(value: object) -> str | None:
    """A record id as a document id: a non-empty string or an integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        return None
    return str(value)


def _groups(value: object, default: tuple[str, ...]) -> tuple[str, ...] | None:
    """A record's "acl" as groups: absent or null is the file's groups; one name is one group
    (as in acl.yaml, never the default groups); None when it is neither that nor a non-empty
    list of non-blank names."""
    if value is None:
        return default
    groups = [value] if isinstance(value, str) else value
    if (
        not isinstance(groups, list)
        or not groups
        or not all(isinstance(g, str) and g.strip() for g in groups)
    ):
        return None
    return tuple(groups)


def _jsonl_records(
    root: Root,
    rel: str,
    text: str,
    acl: tuple[str, ...],
    known: Mapping[str, str],
    salt: str,
    only: Collection[str] | None = None,
) -> Iterator[SourceDocument | Failure | Unchanged]:
    for item in jsonl_lines(text, acl):
        if isinstance(item, BadLine):
            if only is None or item.doc_id in only:
                kind: FailureKind = "line" if item.doc_id is not None else "line_no_id"
                reason = f"line {item.lineno}: {item.reason}"
                yield Failure(root.origin, rel, reason, kind, item.doc_id)
            continue
        if only is not None and item.doc_id not in only:
            continue
        # The default source names the line: it is part of the record's identity, so a record
        # that moved (lines removed above it) is rewritten with its new line, not kept stale.
        source = item.source or f"{rel}:{item.lineno}"
        digest = raw_hash(salt, item.acl, f"{source}\x1f{item.line}".encode())
        if known.get(item.doc_id) == digest:
            yield Unchanged(item.doc_id)
            continue
        yield SourceDocument(
            doc_id=item.doc_id,
            source=source,
            title=item.title,
            text=JUNK.sub("", item.text),
            acl=item.acl,
            origin=root.origin,
            file=rel,
            raw_hash=digest,
        )
