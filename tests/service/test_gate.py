"""StoreGate: an admin job's write runs alone; answers read before or after it, never during."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import DocumentWrite, QdrantStore, open_client
from ingest.pipeline import Ingestor
from service.gate import StoreGate
from tests.conftest import write


class HeldWrites(QdrantStore):
    """A real local-mode store whose next write waits for the test, once armed."""

    armed = False
    entered: threading.Event
    go: threading.Event

    def write_documents(self, writes: Sequence[DocumentWrite]) -> None:
        if self.armed:
            self.entered.set()
            assert self.go.wait(60)
        super().write_documents(writes)


def test_a_read_waits_for_the_write_in_progress_and_sees_all_of_it(
    tmp_path: Path, settings: Settings
) -> None:
    store = HeldWrites(open_client(settings), settings.collection)
    store.entered, store.go = threading.Event(), threading.Event()
    gate = StoreGate(store.chunks, store=store)
    docs = write(tmp_path / "docs", {"a.txt": "The VPN disconnects after 30 minutes."})
    Ingestor(settings, gate, HashingEmbedder()).sync([docs])
    (docs / "b.txt").write_text("Lunch is served at noon in the cafeteria.")
    store.armed = True
    job = threading.Thread(target=Ingestor(settings, gate, HashingEmbedder()).sync, args=([docs],))
    job.start()
    seen: list[set[str]] = []
    try:
        assert store.entered.wait(60)  # the job's write is inside the store
        reader = threading.Thread(target=lambda: seen.append(set(gate.document_states())))
        reader.start()
        reader.join(0.5)  # not a timing assertion: the reader must still be waiting below
        assert seen == []  # it did not read during the write
    finally:
        store.go.set()
    job.join(60)
    reader.join(60)
    assert seen == [{"docs/a.txt", "docs/b.txt"}]  # after the write: all of it
    store.close()
