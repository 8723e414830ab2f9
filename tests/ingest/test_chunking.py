import random

import pytest
from llama_index.core.schema import Document

from core.sentences import sentence_spans
from ingest.chunking import SentenceChunker, pack


@pytest.mark.parametrize("seed", range(20))
def test_pack_covers_text_within_size_with_bounded_overlap(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(
        rng.choice(
            ["短句。", "这是一个稍长一些的句子。", "An English sentence here. ", "x" * 90 + "。"]
        )
        for _ in range(60)
    )
    size, overlap = rng.randint(40, 200), rng.randint(0, 40)
    chunks = pack(sentence_spans(text), size, overlap)
    assert all(e - s <= size for s, e in chunks)
    assert chunks[0][0] == sentence_spans(text)[0][0]
    assert chunks[-1][1] == sentence_spans(text)[-1][1]
    for (s1, e1), (s2, _) in zip(chunks, chunks[1:], strict=False):
        assert s1 < s2 <= e1 + 1  # progress, and no gap between chunks
        # sentence-sized overlap only (a long sentence cut into pieces may not overlap)
        assert e1 - s2 <= max(overlap, 0) or e1 <= s2 + 1


def test_nodes_carry_exact_offsets_even_for_repeated_text() -> None:
    text = "重复的句子。" * 30 + "最后一句。"
    nodes = SentenceChunker(chunk_size=40, chunk_overlap=10).get_nodes_from_documents(
        [Document(text=text, id_="d", metadata={"title": "T"})]
    )
    assert len(nodes) > 3
    for n in nodes:
        assert text[n.start_char_idx : n.end_char_idx] == n.text
        assert n.ref_doc_id == "d"
    assert nodes[-1].text.endswith("最后一句。")
    starts = [n.start_char_idx for n in nodes]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_document_text_is_hashed_once_not_once_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hashing the whole text per chunk made chunking quadratic in the document's size (issue 20).
    calls = 0
    original = Document.hash

    def counting(self: Document) -> str:
        nonlocal calls
        calls += 1
        return original.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(Document, "hash", property(counting))
    text = "这是一个句子。" * 400
    nodes = SentenceChunker(chunk_size=40, chunk_overlap=10).get_nodes_from_documents(
        [Document(text=text, id_="d", metadata={"title": "T"})]
    )
    assert len(nodes) > 50
    assert calls <= 2
