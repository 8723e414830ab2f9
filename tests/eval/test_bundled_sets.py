"""The bundled question sets are consistent with their corpora: every supporting document
exists and states each required answer element (in one accepted spelling), and no
unanswerable question names a supporting document."""

from pathlib import Path

import pytest

from engine.pairs import split_pair
from eval.datasets import load
from eval.metrics import contains_element

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(("name", "size"), [("acme", 30), ("crosslang", 30), ("pairs", 20)])
def test_answers_are_stated_in_their_supporting_documents(name: str, size: int) -> None:
    ds = load(SAMPLES / name)
    assert len(ds.questions) >= size
    for q in ds.questions:
        if not q.answerable:
            assert not q.supporting_ids, q.id
            continue
        texts = [(SAMPLES / name / doc).read_text(encoding="utf-8") for doc in q.supporting_ids]
        for alts in q.accepted():
            assert any(contains_element(t, alts) for t in texts), (q.id, alts)


def test_crosslang_questions_are_in_the_other_language() -> None:
    ds = load(SAMPLES / "crosslang")
    for q in ds.questions:
        if not q.answerable:
            continue
        chinese_question = any("\u4e00" <= ch <= "\u9fff" for ch in q.question)
        (doc,) = q.supporting_ids
        assert doc.startswith("corpus/en/" if chinese_question else "corpus/zh/"), q.id


def test_pairs_ask_about_two_things_and_each_answer_has_its_own_element() -> None:
    """Every pair question names two things `split_pair` finds (pair-13 in its two-clause
    form: each thing asked its own attribute), and each answerable one requires one answer
    element per thing."""
    ds = load(SAMPLES / "pairs")
    unsplit = [q.id for q in ds.questions if split_pair(q.question) is None]
    assert unsplit == []
    assert all(len(q.answers) == 2 for q in ds.questions if q.answerable)
    assert (SAMPLES / "pairs" / "corpus").resolve() == (SAMPLES / "acme" / "corpus").resolve()
