"""Who holds the embedded store: a lock file in its folder, taken before the store is opened.

The embedded engines lock their files to one process too, but a second process only learns it
after importing and opening them (seconds), and their error cannot say who holds the store. This
lock (filelock: an OS advisory lock, released by the kernel when the holder dies, so never
stale) is light to take first, and its holder writes a note beside it naming itself, so the
loser can say what to do: for the service, run the job through its admin API.

Only this module imports nothing heavy: `python -m ingest` takes the lock before it loads the
ingest pipeline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import ConfigError, StoreUnavailable

LOCK_FILE, HOLDER_FILE = "gqa.lock", "gqa-holder.json"


class StoreLock:
    """The lock of one embedded store folder, held by this process until `release`."""

    def __init__(self, store_path: Path, holder: str, url: str | None = None) -> None:
        self.folder = Path(store_path)
        self.holder, self.url = holder, url
        self._lock: FileLock | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def acquire(self) -> None:
        """Take the lock now (no waiting); idempotent. Raises StoreUnavailable naming the
        holder and what to do instead; ConfigError when the folder cannot be created."""
        if self._lock is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot open the store at {self.folder}: {exc.strerror or exc} - point "
                "GQA_DATA_DIR (or GQA_QDRANT_PATH) at a folder this user can write"
            ) from exc
        lock = FileLock(self.folder / LOCK_FILE, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise StoreUnavailable(self._held_by_other()) from None
        self._lock = lock
        note = {"pid": os.getpid(), "holder": self.holder, "url": self.url}
        (self.folder / HOLDER_FILE).write_text(json.dumps(note), encoding="utf-8")

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _held_by_other(self) -> str:
        try:
            note = json.loads((self.folder / HOLDER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            note = {}
        who = f"{note.get('holder', 'another process')} (pid {note.get('pid', '?')})"
        msg = f"the embedded store {self.folder} is in use by {who}"
        if note.get("url"):
            return (
                f"{msg} - run the job through the service instead: curl -X POST "
                f"{note['url']}/v1/admin/jobs -H 'Authorization: Bearer <admin key>' "
                "-H 'Content-Type: application/json' -d '{\"sources\": [\"<folder name>\"]}' "
                "(folders from GQA_INGEST_SOURCES; upload files with PUT /v1/admin/uploads/NAME "
                'and send {"uploads": true}; admin keys: GQA_API_KEYS_FILE), or stop the '
                "service first"
            )
        return f"{msg} - wait for it to finish, or use a Qdrant server (GQA_QDRANT_URL)"
