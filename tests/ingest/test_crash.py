"""kill -9 a real ingest process at several points; a re-run converges to a clean run's state."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.settings import Settings
from core.store import QdrantStore, open_store
from ingest.pipeline import BATCH_DOCS

ROOT = Path(__file__).resolve().parents[2]
WORDS = [
    "员工",
    "报销",
    "差旅",
    "预算",
    "安全",
    "密码",
    "系统",
    "会议",
    "产品",
    "客户",
    "合同",
    "审批",
    "流程",
    "季度",
    "部门",
    "规定",
    "vpn",
    "policy",
]


def make_corpus(folder: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = "".join(
            "".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) + "。" for _ in range(25)
        )
        (folder / f"d{i:04d}.txt").write_text(f"文档{i}\n{body}", encoding="utf-8")


def ingest(
    data: Path,
    corpus: Path,
    kill_after: float | None = None,
    engine: str = "edge",
    kill_when_written: int | None = None,
) -> None:
    """Run `python -m ingest` to the end, or SIGKILL it `kill_after` seconds after its start,
    or as soon as its progress file reports `kill_when_written` documents written."""
    env = {
        **os.environ,
        "GQA_STORE_ENGINE": engine,
        "GQA_DATA_DIR": str(data),
        "GQA_EMBEDDER": "hashing",
        "PYTHONPATH": str(ROOT),
    }
    progress = data.parent / f"{data.name}-progress.json"
    progress.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingest",
            str(corpus),
            "--no-progress",
            "--progress-json",
            str(progress),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if kill_when_written is not None:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if json.loads(progress.read_text())["documents_written"] >= kill_when_written:
                    break
            except (OSError, ValueError, KeyError):
                pass  # not written yet, or caught mid-write
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return
    if kill_after is None:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
        return
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def state(data: Path, engine: str = "edge") -> tuple[dict[str, str], list[str]]:
    store = open_store(
        Settings(_env_file=None, data_dir=data, embedder="hashing", store_engine=engine)  # type: ignore[arg-type]
    )
    try:
        docs = (
            {d: s.fingerprint for d, s in store.document_states().items()} if store.ready() else {}
        )
        return docs, sorted(store.chunk_ids()) if store.ready() else []
    finally:
        store.close()


@pytest.mark.parametrize("engine", ["qdrant", "edge"])
def test_kill_at_several_points_then_rerun_converges(tmp_path: Path, engine: str) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 300, seed=1)
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"

    (tmp_path / "empty").mkdir()
    t0 = time.monotonic()
    ingest(
        tmp_path / "startup", tmp_path / "empty", engine=engine
    )  # interpreter, imports, store: no work
    startup = time.monotonic() - t0
    t0 = time.monotonic()
    ingest(clean, corpus, engine=engine)
    work = time.monotonic() - t0 - startup
    reference = state(clean, engine)
    assert len(reference[0]) == 300

    # Timed kills, spread over the run (where they land depends on the machine's load) ...
    for fraction in (0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95):
        ingest(crashed, corpus, kill_after=startup + fraction * work, engine=engine)
    ingest(crashed, corpus, engine=engine)
    assert state(crashed, engine) == reference

    # ... and kills steered by the progress file, which land mid-sync whatever the load: right
    # after a batch of documents was recorded, while the next one is being written.
    steered = tmp_path / "steered"
    for _ in range(2):
        ingest(steered, corpus, engine=engine, kill_when_written=BATCH_DOCS)
        docs, _ = state(steered, engine)
        if engine == "qdrant":  # Edge may finish the remaining batches before the kill lands
            assert 0 < len(docs) < 300, "the kill should land in the middle of the sync"
    ingest(steered, corpus, engine=engine)
    assert state(steered, engine) == reference

    # the same after edits and deletions, killed during the re-sync
    rng = random.Random(7)
    for f in rng.sample(sorted(corpus.iterdir()), 40):
        if rng.random() < 0.5:
            f.unlink()
        else:
            f.write_text(f.read_text(encoding="utf-8") + "新增一句。", encoding="utf-8")
    fresh = tmp_path / "fresh"
    ingest(fresh, corpus, engine=engine)
    for fraction in (0.3, 0.7):
        ingest(crashed, corpus, kill_after=startup + fraction * work * 0.2, engine=engine)
    ingest(crashed, corpus, engine=engine)
    assert state(crashed, engine) == state(fresh, engine)


def test_chunks_of_a_killed_write_whose_file_is_then_deleted_are_swept(tmp_path: Path) -> None:
    """Orphans: a new document's chunks were written, its record was not (killed), and the file
    is gone before the next run. The sync mark left behind makes the next run sweep them."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 5, seed=2)
    data = tmp_path / "data"
    ingest(data, corpus, engine="qdrant")  # the orphan is made with qdrant-client calls
    store = QdrantStore.from_settings(
        Settings(_env_file=None, data_dir=data, embedder="hashing", store_engine="qdrant")
    )
    try:
        # Reproduce the state a kill leaves: chunks of "ghost" written, no record, mark still set.
        from core.embedders import HashingEmbedder
        from core.records import Chunk, SourceDocument, point_id
        from core.sparse import Bm25Encoder

        chunk = Chunk(
            "corpus/ghost.txt", 0, "幽灵文档。", 0, 5, "corpus/ghost.txt", "ghost", ("everyone",)
        )
        store.write_document(
            SourceDocument(
                "corpus/ghost.txt", "corpus/ghost.txt", "ghost", "幽灵文档。", ("everyone",)
            ),
            [chunk],
            HashingEmbedder().embed_passages([chunk.text]),
            [Bm25Encoder().encode_passage(chunk.text)],
        )
        store.client.delete(store.documents, [point_id("doc", "corpus/ghost.txt")])
        store.mark_sync(True)
        assert chunk.chunk_id in store.chunk_ids()
    finally:
        store.close()
    ingest(data, corpus, engine="qdrant")
    docs, chunks = state(data, "qdrant")
    assert chunk.chunk_id not in chunks and "corpus/ghost.txt" not in docs
