"""Sync sources into the index: new and changed documents are (re)written, unchanged ones are
skipped by fingerprint, documents whose files are gone are deleted.

llama-index runs the transformations (our sentence chunker, then the embedder adapter) through
its IngestionPipeline. Its docstore-based de-duplication is not used: the document records in
Qdrant are the single source of truth for what is indexed, so a crash can never leave a
docstore file that disagrees with the index.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import Document, MetadataMode, TextNode
from tqdm import tqdm

from core.embedders import Embedder, as_llama_embedding
from core.errors import EmbedderMismatch, EmbedderUnavailable
from core.records import Chunk, SourceDocument, sha256
from core.settings import Settings
from core.sparse import SPARSE_VERSION, Bm25Encoder
from core.store import DocumentWrite, Store
from ingest import formats
from ingest.chunking import SentenceChunker
from ingest.cleaning import CLEANING_VERSION, CorpusStats, Removal, clean
from ingest.dedup import DEDUP_VERSION, duplicate_groups
from ingest.injection import INJECTION_VERSION, find_planted
from ingest.parsing import ParseFn, TimedParser
from ingest.sources import BadFiles, Failure, Root, Unchanged, read_root

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_DOCS = 64
# Nodes embedded at a time: llama-index keeps a vector as a list of Python floats (~12 KB at 384
# dimensions), so a 16 MB document's 50k chunks would hold ~600 MB of them at once; each slice's
# vectors become one float32 array (1.5 KB a chunk) before the next slice is embedded.
EMBED_SLICE = 512
# Failures that name the records they are about: a JSONL file whose failures are all of these
# kinds keeps just those records (see `Ingestor._remove_missing`).
_RECORD_FAILURES = ("line", "duplicate_id")


@dataclass
class IngestReport:
    """What one run did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_written: int = 0
    # Chunks written with text marked as addressing the assistant (ingest/injection.py)
    chunks_planted: int = 0
    orphans_swept: int = 0
    duplicates: int = 0  # documents indexed as alternates of another
    # The alternates of the documents read this run, each with its canonical. An alternate
    # is indexed as part of its canonical; one that was indexed on its own before is not
    # counted as removed.
    alternates: dict[str, str] = field(default_factory=dict)
    # Documents re-embedded from their stored text because the index was built with another
    # embedder (or a re-embed had stopped midway), and that embedder's name
    reembedded: int = 0
    reembedded_from: str = ""
    embed_seconds: float = 0.0  # of `seconds`, spent inside the embedder
    seconds: float = 0.0
    failed: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["failed"] = [{"file": f.file, "reason": f.reason} for f in self.failed]
        return d


class Ingestor:
    """Writes documents into a store with one embedder and one chunking configuration."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings, self.store, self.embedder = settings, store, embedder
        self.sparse = Bm25Encoder()
        self.chunks_planted = 0  # running count, read by _write into the report
        self._on_progress: Callable[[dict[str, Any]], None] | None = None
        self.embedding = as_llama_embedding(embedder, settings.embed_batch_size)
        self.pipeline = IngestionPipeline(
            transformations=[
                SentenceChunker(
                    chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
                ),
            ],
            disable_cache=True,
        )
        # Everything that shapes chunks and vectors; a change re-indexes every document.
        self._config = "/".join(
            map(
                str,
                [
                    settings.chunk_size,
                    settings.chunk_overlap,
                    embedder.name,
                    SPARSE_VERSION,
                    CLEANING_VERSION,
                    INJECTION_VERSION,
                    settings.dedup_threshold,
                    DEDUP_VERSION,
                ],
            )
        )

    def fingerprint(self, doc: SourceDocument) -> str:
        return sha256(
            "\x1f".join(
                [
                    doc.text,
                    doc.title,
                    doc.source,
                    ",".join(doc.acl),
                    ",".join(doc.alternates),
                    self._config,
                ]
            )
        )

    def sync(
        self,
        paths: Sequence[Path],
        acl: Sequence[str] | None = None,
        progress: bool = False,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> IngestReport:
        """Make the index mirror `paths`. Bad files are reported in the result and skipped.
        `on_progress` receives counts after reading and after every written batch."""
        self._on_progress = on_progress
        t0 = time.perf_counter()
        report = IngestReport()
        self.ensure_index(report)
        if self.store.mark_sync(True):  # the previous sync was killed: clear what it left
            report.orphans_swept = self.store.sweep_orphans()
        stored = self.store.document_states()
        roots = [Root(Path(p)) for p in paths]
        # docx/pdf/html parse in a worker process, killed past GQA_PARSE_TIMEOUT_S
        with TimedParser(self.settings.parse_timeout_s) as parse:
            groups = tuple(acl or self.settings.default_acl)
            docs, seen = self.read(roots, groups, stored, report, parse=parse)
        report.unchanged = len(seen)
        todo: list[SourceDocument] = []
        for item in docs:
            doc = replace(item, fingerprint=self.fingerprint(item))
            seen.add(doc.doc_id)
            prior = stored.get(doc.doc_id)
            if prior is not None and prior.fingerprint == doc.fingerprint:
                report.unchanged += 1
            else:
                todo.append(doc)
                report.new += prior is None
                report.changed += prior is not None
        self._report_progress(report, len(todo), 0)
        written = self._write(todo, set(stored), report, progress)
        pending = {d.doc_id for d in todo} - written  # their batch failed
        for d in docs:
            for alt in d.alternates:
                if d.doc_id not in pending:
                    report.alternates[alt] = d.doc_id
                    if alt in stored:  # indexed on its own before: now part of its canonical
                        self.store.delete_document(alt)
                seen.add(alt)  # not removed (its canonical's failure keeps it as it was)
        report.removed = self._remove_missing(stored, roots, seen, report.failed)
        self.store.mark_sync(False)
        report.seconds = round(time.perf_counter() - t0, 3)
        report.embed_seconds = round(self.embedding.seconds, 3)
        self.embedding.seconds = 0.0
        return report

    def ensure_index(self, report: IngestReport | None = None) -> None:
        """Create the index, or re-embed it once when it was built with another embedder:
        every stored document is chunked and embedded again from its stored full text (its
        source need not be present) into a chunks collection recreated empty
        (`Store.reset_chunks`), and only then is the new embedder recorded; until then readers
        refuse the index. A re-embed into this embedder that stopped midway is finished: a
        document whose record already carries this configuration's fingerprint was written
        whole (records are written after their chunks) and is skipped.
        """
        name, dim = self.embedder.name, self.embedder.dim
        try:
            self.store.ensure_schema(name, dim)
            return
        except EmbedderMismatch:
            built = self.store.embedder_state()
        ids = sorted(self.store.document_states())
        resume = built.get("reembedding") == name and built.get("chunks_reset") is True
        log.warning(
            "collection %r was embedded with %s, the configured embedder is %s: re-embedding "
            "%d documents once%s",
            self.store.chunks,
            built.get("embedder"),
            name,
            len(ids),
            " (finishing the re-embed that stopped midway)" if resume else "",
        )
        if not resume:
            self.store.reset_chunks(name, dim)
        done = chunks = 0
        for batch in _batches(ids, BATCH_DOCS):
            stored = [d for d in map(self.store.get_document, batch) if d is not None]
            docs = [replace(d, fingerprint=self.fingerprint(d)) for d in stored]
            # resuming, a record with this configuration's fingerprint was written whole by
            # the stopped run; otherwise every document is redone (its chunks were dropped)
            todo = [
                d
                for d, old in zip(docs, stored, strict=True)
                if not resume or d.fingerprint != old.fingerprint
            ]
            # resuming: a document cut midway may have left some of its new chunks
            if todo:
                chunks += self.write_batch(todo, {d.doc_id for d in todo} if resume else ())
            done += len(todo)
            if report is not None:  # an admin job's timeout may stop here; the next one resumes
                report.reembedded, report.reembedded_from = done, str(built.get("embedder"))
                self._report_progress(report, len(ids), done)
        self.store.record_embedder(name, dim)
        if report is not None:
            report.chunks_written += chunks

    def read(
        self,
        roots: Sequence[Root],
        groups: tuple[str, ...],
        stored: Mapping[str, SourceDocument],
        report: IngestReport,
        parse: ParseFn = formats.parse,
    ) -> tuple[list[SourceDocument], set[str]]:
        """Read, clean and de-duplicate the new and changed documents under the roots.

        Returns them and the ids of unchanged documents (same raw hash as indexed: not parsed
        again). Failures go to the report. Alternates of a duplicate group are listed on their
        canonical document, with their raw hashes, so they are not parsed again either, unless
        their group changed (`_read_again`): then they are read again with the rest.
        Cleaning statistics and near-duplicate detection cover the documents parsed in one run.
        The first document read with an id wins; a later one with the same id is a failure.
        """
        known = {d.doc_id: d.raw_hash for d in stored.values()}
        for d in stored.values():
            known.update(zip(d.alternates, d.alternate_hashes, strict=False))
        max_bytes = int(self.settings.max_file_mb * 2**20)
        first: dict[str, str] = {}  # doc id -> where it was first read
        docs: list[SourceDocument] = []
        unchanged: set[str] = set()
        origins = {r.origin for r in roots}
        bad = BadFiles(self._load_bad())
        for root in roots:
            for item in read_root(
                root, groups, max_bytes, known, self._config, bad=bad, parse=parse
            ):
                if isinstance(item, Failure):
                    report.failed.append(item)
                elif _foreign_id(item, root, stored, origins, report):
                    continue
                elif _first_read(item, root, stored, first, report):
                    if isinstance(item, Unchanged):
                        unchanged.add(item.doc_id)
                    else:
                        docs.append(item)
        self._save_bad(bad, origins)
        read = {d.doc_id for d in docs}
        again = _read_again(stored, unchanged, read, origins, _protection(report.failed))
        if again:  # their duplicate group changed: parse them with the rest
            unchanged -= again
            known = {k: v for k, v in known.items() if k not in again}
            only = frozenset(again)
            for root in roots:
                for item in read_root(
                    root, groups, max_bytes, known, self._config, only, parse=parse
                ):
                    if isinstance(item, SourceDocument) and item.doc_id in again:
                        again.discard(item.doc_id)  # the first one, as in the first pass
                        docs.append(item)
                    elif (
                        isinstance(item, Failure)
                        and item.kind not in ("root", "folder")  # reported by the first pass
                        and item not in report.failed
                    ):
                        report.failed.append(item)  # it keeps its indexed version
        kept = []
        for d in clean_documents(docs):
            if d.text.strip():
                kept.append(d)
            else:  # a failure, not a document with 0 chunks (it keeps an indexed version)
                report.failed.append(
                    Failure(
                        d.origin,
                        d.file,
                        "no text left after cleaning (every line was taken for site furniture)"
                        f" - see python -m ingest --explain {_location(d.origin, d.file)}",
                    )
                )
        return self._deduplicate(kept, report), unchanged

    @property
    def _bad_path(self) -> Path:
        return self.settings.data_dir / f"{self.settings.collection}_bad_files.json"

    def _load_bad(self) -> dict[str, tuple[str, str]]:
        """Files that failed to parse in earlier syncs (raw hash -> origin, reason); an
        unreadable memory is forgotten: those files are parsed again, nothing else changes."""
        try:
            raw = json.loads(self._bad_path.read_text(encoding="utf-8"))
            return {h: (o, r) for h, (o, r) in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning(
                "%s unreadable (%s): files that failed are parsed again", self._bad_path, exc
            )
            return {}

    def _save_bad(self, bad: BadFiles, origins: Collection[str]) -> None:
        """Remember this run's parse failures, and earlier ones of roots not synced now."""
        keep = {h: v for h, v in bad.before.items() if v[0] not in origins} | bad.now
        try:
            self._bad_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._bad_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(keep, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self._bad_path)
        except OSError as exc:
            log.warning(
                "cannot write %s (%s): failed files will be parsed again", self._bad_path, exc
            )

    def _deduplicate(
        self, docs: list[SourceDocument], report: IngestReport
    ) -> list[SourceDocument]:
        """The canonical documents, each listing its duplicates as alternates. Only documents
        with the same access groups are duplicates of each other: a copy must never hide a
        document from a group that may read it, nor show one to a group that may not."""
        by_groups: dict[tuple[str, ...], dict[str, str]] = defaultdict(dict)
        for d in docs:
            by_groups[tuple(sorted(d.acl))][d.doc_id] = d.text
        canonical_of: dict[str, str] = {}
        for texts in by_groups.values():
            canonical_of.update(duplicate_groups(texts, self.settings.dedup_threshold))
        alternates: dict[str, list[str]] = defaultdict(list)
        for doc_id, canon in canonical_of.items():
            if doc_id != canon:
                alternates[canon].append(doc_id)
        report.duplicates = sum(len(v) for v in alternates.values())
        raw = {d.doc_id: d.raw_hash for d in docs}
        kept = []
        for d in docs:
            if canonical_of.get(d.doc_id, d.doc_id) == d.doc_id:
                alts = tuple(sorted(alternates.get(d.doc_id, ())))
                kept.append(
                    replace(d, alternates=alts, alternate_hashes=tuple(raw[a] for a in alts))
                )
        return kept

    def _write(
        self, todo: list[SourceDocument], indexed: set[str], report: IngestReport, progress: bool
    ) -> set[str]:
        """Write `todo` in batches; return the ids written (a failed batch is reported)."""
        bar = tqdm(total=len(todo), unit="doc", disable=not progress, desc="embedding")
        done = 0
        written: set[str] = set()
        for batch in _batches(todo, BATCH_DOCS):
            self._write_or_split(batch, indexed, report, written)
            bar.update(len(batch))
            bar.set_postfix(chunks=report.chunks_written)
            done += len(batch)  # (a disabled tqdm does not count)
            self._report_progress(report, len(todo), done)
        bar.close()
        return written

    def _write_or_split(
        self,
        batch: list[SourceDocument],
        indexed: set[str],
        report: IngestReport,
        written: set[str],
    ) -> None:
        """Write a batch; when it fails (an embedder that rejects one input, a store error),
        write its documents one by one so that only the failing ones are reported and
        skipped: they keep their indexed version and the next sync retries them. An
        unreachable embeddings server fails the whole batch at once (one by one would only
        wait out the same retries again)."""
        try:
            before = self.chunks_planted
            report.chunks_written += self.write_batch(batch, indexed)
            report.chunks_planted += self.chunks_planted - before
            written.update(d.doc_id for d in batch)
            return
        except Exception as exc:  # one bad batch must not stop the run; retried next time
            log.exception("writing %d documents failed", len(batch))
            if len(batch) == 1 or isinstance(exc, EmbedderUnavailable):
                report.failed += [
                    Failure(d.origin, d.file, f"indexing failed: {exc}") for d in batch
                ]
                return
        for doc in batch:
            self._write_or_split([doc], indexed, report, written)

    def _report_progress(self, report: IngestReport, total: int, done: int) -> None:
        if self._on_progress is not None:
            failed = [{"file": f.file, "reason": f.reason} for f in report.failed]
            self._on_progress(
                {
                    "documents_to_write": total,
                    "documents_written": done,
                    "chunks_written": report.chunks_written,
                    "unchanged": report.unchanged,
                    "failed": failed,
                }
            )

    def write_batch(self, docs: Sequence[SourceDocument], indexed: Collection[str] = ()) -> int:
        """Chunk, embed and write documents; return the number of chunks written.
        `indexed` names the documents that replace an indexed version."""
        by_id = {d.doc_id: d for d in docs}
        nodes = self.pipeline.run(
            documents=[
                Document(text=d.text, id_=d.doc_id, metadata={"title": d.title}) for d in docs
            ]
        )
        text_nodes = [n for n in nodes if isinstance(n, TextNode) and n.ref_doc_id]
        del nodes
        vectors = np.zeros((len(text_nodes), self.embedder.dim), dtype=np.float32)
        for first in range(0, len(text_nodes), EMBED_SLICE):
            part = text_nodes[first : first + EMBED_SLICE]
            for row, node in enumerate(self.embedding(part), first):
                vectors[row] = node.embedding
                node.embedding = None
        per_doc: dict[str, list[tuple[int, TextNode]]] = defaultdict(list)
        for row, node in enumerate(text_nodes):
            per_doc[str(node.ref_doc_id)].append((row, node))
        writes = []
        for doc_id, doc in by_id.items():
            doc_nodes = per_doc.get(doc_id, [])
            # Marked on the whole text: an attack's payload may run past a chunk's start
            marks = find_planted(doc.text)
            chunks = tuple(_chunk(doc, i, n, marks) for i, (_, n) in enumerate(doc_nodes))
            writes.append(
                DocumentWrite(
                    replace(doc, chunk_count=len(chunks), planted=len(marks)),
                    chunks,
                    vectors[[row for row, _ in doc_nodes]],
                    tuple(
                        self.sparse.encode_passage(n.get_content(MetadataMode.EMBED))
                        for _, n in doc_nodes
                    ),
                    replaces=doc_id in indexed,
                )
            )
        self.store.write_documents(writes)
        self.chunks_planted += sum(1 for w in writes for c in w.chunks if c.planted)
        return sum(len(w.chunks) for w in writes)

    def _remove_missing(
        self,
        stored: dict[str, SourceDocument],
        roots: Iterable[Root],
        seen: set[str],
        failed: list[Failure],
    ) -> int:
        """Delete the indexed documents of the synced roots that were not read this run, except
        those a failure of this run protects (a bad read loses nothing), by its `kind`:

        - "root" (the root could not be read): the whole root;
        - "folder" (a folder could not be listed): the documents under it;
        - "file" (a file could not be read or indexed): its documents (a file that turns bad
          keeps its indexed version);
        - in a JSONL export whose failures are all bad lines that name a valid id ("line") or
          repeated ids ("duplicate_id"): the records those lines name (their lines failed this
          time); a record no line names was removed from the export and is deleted. A line
          that names no valid id ("line_no_id": not JSON, no "id", a null id) keeps the whole
          file.

        Returns the number of documents deleted.
        """
        origins = {r.origin for r in roots}
        protected = _protection(failed)
        removed = 0
        for doc_id, doc in stored.items():
            if _gone(doc, origins, seen, protected):
                self.store.delete_document(doc_id)
                removed += 1
        return removed


def _protection(failed: Sequence[Failure]) -> Callable[[SourceDocument], bool]:
    """Whether an indexed document is kept on account of this run's failures (see
    `Ingestor._remove_missing`)."""
    whole_roots = {f.origin for f in failed if f.kind == "root"}
    folders = [(f.origin, f.file) for f in failed if f.kind == "folder"]
    per_file: dict[tuple[str, str], list[Failure]] = defaultdict(list)
    for f in failed:
        if f.kind not in ("root", "folder", "refused"):  # a refused file keeps nothing
            per_file[(f.origin, f.file)].append(f)
    named = {key: _named_ids(fs) for key, fs in per_file.items()}

    def protected(doc: SourceDocument) -> bool:
        if doc.origin in whole_roots:
            return True
        if any(doc.origin == o and doc.file.startswith(prefix) for o, prefix in folders):
            return True
        if (doc.origin, doc.file) not in named:
            return False
        ids = named[(doc.origin, doc.file)]
        return ids is None or doc.doc_id in ids

    return protected


def _named_ids(failures: Sequence[Failure]) -> set[str] | None:
    """The ids of the records one file's failures name, or None when the whole file must be
    kept: a failure is not about one record (the file could not be read, a JSONL line names
    no valid id). The ids come from `sources.jsonl_lines`, the one judge of a line's id."""
    if not all(f.kind in _RECORD_FAILURES and f.doc_id is not None for f in failures):
        return None
    return {f.doc_id for f in failures if f.doc_id is not None}


def _gone(
    doc: SourceDocument,
    origins: Collection[str],
    seen: Collection[str],
    protected: Callable[[SourceDocument], bool],
) -> bool:
    """Whether an indexed document is deleted by this run: it belongs to a synced root, was
    not read, and no failure of this run keeps it."""
    return doc.origin in origins and doc.doc_id not in seen and not protected(doc)


def _foreign_id(
    item: SourceDocument | Unchanged,
    root: Root,
    stored: Mapping[str, SourceDocument],
    origins: Collection[str],
    report: IngestReport,
) -> bool:
    """Whether `item` takes an id that a document of a root not synced in this run holds (a
    JSONL record whose id is another folder's file id): reported, and nothing changes; the
    indexed document stays as it was. Within one run `_first_read` decides."""
    held = stored.get(item.doc_id)
    if not isinstance(item, SourceDocument) or held is None or held.origin in origins:
        return False
    report.failed.append(
        Failure(
            root.origin,
            item.file,
            f"document id {item.doc_id!r} is already used by {_location(held.origin, held.file)}"
            " - give records unique ids",
            "duplicate_id",
            item.doc_id,
        )
    )
    return True


def _first_read(
    item: SourceDocument | Unchanged,
    root: Root,
    stored: Mapping[str, SourceDocument],
    first: dict[str, str],
    report: IngestReport,
) -> bool:
    """Whether `item` is the first document read with its id in this run (recorded in
    `first`). A later one is reported as a failure: two documents with one id would overwrite
    each other's chunks, and which one won would change from run to run."""
    if isinstance(item, SourceDocument):
        file = item.file
    else:  # unchanged: a file's id is its path; an alternate record's file is not stored
        file = stored[item.doc_id].file if item.doc_id in stored else item.doc_id
    if item.doc_id not in first:
        first[item.doc_id] = _location(root.origin, file)
        return True
    report.failed.append(
        Failure(
            root.origin,
            file,
            f"duplicate document id {item.doc_id!r} (already read from {first[item.doc_id]})"
            " - give records unique ids / use folders with distinct names",
            "duplicate_id",
            item.doc_id,
        )
    )
    return False


def _location(origin: str, file: str) -> str:
    """The path of `file` (relative to its root, starting with the root folder's name)."""
    if "/" not in file:  # the root is this file itself
        return origin
    return str(Path(origin).parent / file)


def _read_again(
    stored: Mapping[str, SourceDocument],
    unchanged: set[str],
    read: Collection[str],
    origins: Collection[str],
    protected: Callable[[SourceDocument], bool],
) -> set[str]:
    """Unchanged documents to parse again with this run's new and changed ones, so that their
    duplicate group is formed anew (near-duplicate detection covers the documents parsed in one
    run):

    - the alternates of a canonical document that was read again (it changed: a copy may no
      longer be a duplicate of it) or is deleted by this run (`_gone`);
    - a canonical document one of whose alternates changed, and its other alternates: left
      alone it would still list the changed copy, which is indexed on its own.

    A canonical that merely failed to read this run stays indexed, alternates and all (a bad
    read loses nothing); so does one under a root that is not synced."""
    seen = unchanged | set(read)
    out: set[str] = set()
    for d in stored.values():
        if d.doc_id in unchanged and any(a in read for a in d.alternates):
            out.add(d.doc_id)
        elif d.doc_id not in read and not _gone(d, origins, seen, protected):
            continue
        out.update(a for a in d.alternates if a in unchanged and a not in stored)
    return out


def clean_documents(docs: Sequence[SourceDocument]) -> list[SourceDocument]:
    """Remove site furniture, watermarks, spam tails and markup debris from documents read from
    files (lines recurring across the corpus are one signal, so all are cleaned together).
    JSONL records are exports of clean text and are kept as they are."""
    files = [d for d in docs if d.doc_id == d.file]
    stats = CorpusStats.build(d.text for d in files)
    cleaned = {d.doc_id: clean(d.text, stats) for d in files}
    out = []
    for d in docs:
        c = cleaned.get(d.doc_id)
        if c is None or not c.removals:
            out.append(d)
            continue
        pages = tuple(_shift(p, c.removals) for p in d.pages)
        out.append(replace(d, text=c.text, pages=pages))
    return out


def _shift(pos: int, removals: Sequence[Removal]) -> int:
    """Where an offset of the original text lands in the cleaned text."""
    cut = 0
    for r in removals:
        if r.end <= pos:
            cut += r.end - r.start
        elif r.start < pos:
            cut += pos - r.start
    return pos - cut


def _chunk(
    doc: SourceDocument, index: int, node: TextNode, marks: tuple[tuple[int, int], ...]
) -> Chunk:
    """The chunk of `node`; `marks` (document offsets) are clipped to it, in its offsets."""
    start, end = int(node.start_char_idx or 0), int(node.end_char_idx or 0)
    page: int | None = None
    breaks: tuple[int, ...] = ()
    if doc.pages:
        page = bisect.bisect_right(doc.pages, start)
        breaks = tuple(p for p in doc.pages if start < p < end)
    text = doc.text[start:end]
    return Chunk(
        doc.doc_id,
        index,
        text,
        start,
        end,
        doc.source,
        doc.title,
        doc.acl,
        page,
        breaks,
        planted=tuple(
            (max(s, start) - start, min(e, end) - start) for s, e in marks if s < end and start < e
        ),
    )


def _batches(items: list[T], n: int) -> Iterable[list[T]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
