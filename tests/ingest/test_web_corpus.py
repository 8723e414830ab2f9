"""The messy web-article corpus through the whole sync: duplicates collapsed, no furniture,
watermark or spam left in any stored chunk (asserted against the raw files themselves)."""

import shutil
from pathlib import Path

import pytest

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from ingest.pipeline import Ingestor
from tests.ingest.test_cleaning import SAMPLES, VIEW_COUNT, shared_suffix


def test_web_articles_index_four_clean_canonical_documents(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"sample corpus not found at {SAMPLES}")
    corpus = tmp_path / "web"
    shutil.copytree(SAMPLES, corpus, ignore=shutil.ignore_patterns("README*"))
    report = Ingestor(settings, store, HashingEmbedder()).sync([corpus])
    assert report.failed == [] and (report.new, report.duplicates) == (4, 1)
    docs = store.document_states()
    (pair,) = [d for d in docs.values() if d.alternates]
    assert {pair.doc_id, *pair.alternates} == {
        f"web/{p.name}" for p in corpus.iterdir() if p.name[:3] in ("000", "001")
    }

    raw004 = next(p for p in corpus.iterdir() if p.name.startswith("004")).read_text("utf-8")
    mark = shared_suffix(raw004)
    spam = [ln for ln in raw004.splitlines() if ln.strip()][-12:]
    texts = [store.get_document(d).text for d in docs]  # type: ignore[union-attr]
    chunks = "\n".join(texts)
    assert len(mark) >= 10 and mark not in chunks
    assert not any(line.strip() in chunks for line in spam)
    assert not VIEW_COUNT.search(chunks)
    assert "上一篇" not in chunks and "下一篇" not in chunks
