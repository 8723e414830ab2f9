"""The upload folder and the access groups of each uploaded file, kept with the uploads.

An upload's groups are set when it is uploaded (`?acl=`) or else by its first job (the job's
`acl`, else GQA_DEFAULT_ACL), and written to the folder's `acl.yaml` (one exact entry per file),
which ingest reads like any acl.yaml. So a later job never relabels an upload it was not asked
to: only an explicit relabel (a new upload with `?acl=`, or a job with `relabel: true`) changes
them, and each one is logged.
"""

from __future__ import annotations

import glob
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from service.config import ServiceSettings

log = logging.getLogger(__name__)
ACL_FILE = "acl.yaml"  # ingest.acl.ACL_FILE: the file ingest reads groups from
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What `check_name` accepts, as the OpenAPI schema states it (the handler still checks, with
# its reasons): no leading '.', not acl.yaml, no '..', no '/', '\\' or control character.
NAME_PATTERN = r"^(?!\.)(?!acl\.yaml$)(?!.*\.\.)[^/\\\x00-\x1f\x7f]+$"
NAME_MAX = 200


class BadUploadName(ValueError):
    """An upload name that is not a plain file name; the message says why."""


def check_name(name: str) -> None:
    """Raise BadUploadName unless `name` is a plain file name that may be stored."""
    why = None
    if "/" in name or "\\" in name:
        why = "it names a folder ('/' or '\\'); uploads are plain file names"
    elif ".." in name:
        why = "'..' is not allowed in upload names"
    elif name.startswith("."):
        why = "hidden names (starting with '.') are not ingested"
    elif _CONTROL.search(name):
        why = "it contains control characters"
    elif len(name) > NAME_MAX:
        why = f"it is longer than {NAME_MAX} characters"
    elif name == ACL_FILE:
        why = f"{ACL_FILE} holds the uploads' access groups; set them with ?acl="
    if why:
        raise BadUploadName(f"bad file name {name!r}: {why} - use a plain name such as policy.md")


class Uploads:
    """The upload folder (GQA_UPLOAD_DIR, default DATA_DIR/uploads) and its acl.yaml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    @classmethod
    def of(cls, svc: ServiceSettings, data_dir: Path) -> Uploads:
        return cls(svc.upload_dir or data_dir / "uploads")

    def files(self) -> list[str]:
        """The names of the uploaded files (not the acl.yaml, not hidden files)."""
        if not self.folder.is_dir():
            return []
        return sorted(
            p.name
            for p in self.folder.iterdir()
            if p.is_file() and p.name != ACL_FILE and not p.name.startswith(".")
        )

    def groups(self) -> dict[str, list[str]]:
        """Each labelled upload's groups, by file name."""
        path = self.folder / ACL_FILE
        if not path.is_file():
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        # entries are glob-escaped exact names (see `_write`)
        return {_unescape(k): list(v) for k, v in data.items()}

    def store(self, name: str, data: bytes, groups: Sequence[str] | None) -> list[str] | None:
        """Write the file; with `groups`, (re)label it (a change of groups is logged).
        Returns the upload's groups (None while unlabelled: its first job labels it)."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_bytes(data)
            labels = self.groups()
            if groups is not None:
                self._relabel(labels, [name], list(groups), "upload")
            return labels.get(name)

    def label_for_job(self, groups: Sequence[str], relabel: bool) -> None:
        """Before a job: label the unlabelled uploads with `groups`; with `relabel`, every
        upload (logged per file)."""
        with self._lock:
            labels = self.groups()
            names = self.files() if relabel else [n for n in self.files() if n not in labels]
            self._relabel(labels, names, list(groups), "job")

    def forget(self, name: str) -> None:
        """Delete an upload and its groups."""
        with self._lock:
            (self.folder / name).unlink(missing_ok=True)
            labels = self.groups()
            if labels.pop(name, None) is not None:
                self._write(labels)

    def _relabel(
        self, labels: dict[str, list[str]], names: Iterable[str], groups: list[str], by: str
    ) -> None:
        changed = False
        for name in names:
            before = labels.get(name)
            if before == groups:
                continue
            if before is not None:
                log.warning("upload %s relabelled by %s: %s -> %s", name, by, before, groups)
            labels[name], changed = groups, True
        if changed:
            self._write(labels)

    def _write(self, labels: dict[str, list[str]]) -> None:
        """acl.yaml, replaced atomically (a job reading it sees the old or the new one)."""
        text = "# Access groups of the uploads, kept by the service (service/uploads.py)\n"
        text += yaml.safe_dump(
            {glob.escape(k): v for k, v in sorted(labels.items())}, allow_unicode=True
        )
        tmp = self.folder / f".{ACL_FILE}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.folder / ACL_FILE)


def _unescape(pattern: str) -> str:
    """The name `glob.escape` escaped ('[*]' -> '*', '[[]' -> '[')."""
    return re.sub(r"\[(.)\]", r"\1", pattern)
