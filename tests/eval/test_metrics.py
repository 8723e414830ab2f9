"""Metrics on hand-made records whose right values are known."""

import pytest

from eval.metrics import Record, answer_correct, first_hit_rank, percentile, summarize


def rec(**kw: object) -> Record:
    base: dict[str, object] = dict(
        id="q",
        question="?",
        answerable=True,
        accepted=[["12人"]],
        supporting_ids=["p1"],
        answer="造成至少12人死亡。 [1]",
        refused=False,
        reason=None,
        citations=[{"n": 1, "doc_id": "p1", "quote": "造成至少12人死亡。"}],
        retrieved=[
            {"doc_id": "p9", "text": "无关"},
            {"doc_id": "p1", "text": "造成至少12人死亡。"},
        ],
        latency_ms=10.0,
    )
    base.update(kw)
    return Record(**base)  # type: ignore[arg-type]


def test_answer_correct_needs_every_element_after_folding() -> None:
    assert answer_correct(rec())
    assert answer_correct(rec(accepted=[["台灣"], ["12人"]], answer="台湾有12人 [1]"))
    assert not answer_correct(rec(accepted=[["台灣"], ["13人"]], answer="台湾有12人 [1]"))
    assert answer_correct(rec(accepted=[["twelve", "12人"]]))  # any alternative
    assert not answer_correct(rec(refused=True, answer=None))
    assert not answer_correct(rec(answer=""))


def test_first_hit_rank_uses_supporting_ids_or_answer_text() -> None:
    assert first_hit_rank(rec()) == 2
    assert (
        first_hit_rank(rec(supporting_ids=[], retrieved=[{"doc_id": "x", "text": "共12人"}])) == 1
    )
    assert first_hit_rank(rec(retrieved=[])) is None


def test_summary_on_a_known_mix() -> None:
    records = [
        rec(id="a1"),  # answerable, correct, grounded
        rec(
            id="a2", refused=True, answer=None, citations=[], reason="low_support"
        ),  # false refusal
        rec(
            id="a3",
            answer="别的 [1]",
            citations=[{"n": 1, "doc_id": "p7", "quote": "别的"}],
            citation_problems=["x"],
        ),
        rec(
            id="u1",
            answerable=False,
            accepted=[],
            supporting_ids=[],
            refused=True,
            answer=None,
            citations=[],
        ),
        rec(
            id="u2", answerable=False, accepted=[], supporting_ids=[], refused=False
        ),  # answered a trap
    ]
    s = summarize(records, k=1)
    assert s["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["false_refusal_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["refusal_recall"] == 0.5
    assert s["refusal_precision"] == 0.5
    assert s["refusal_f1"] == 0.5
    assert s["grounding_rate"] == pytest.approx(2 / 3, abs=1e-4)  # a1, a3 (ungrounded), u2
    assert s["citation_support_rate"] == 0.5  # a1 supported, a3 not
    assert s["retrieval_recall@1"] == 0.0  # supporting passage is 2nd everywhere
    assert s["mrr"] == 0.5


def test_edge_cases_all_refused_and_empty() -> None:
    s = summarize([rec(refused=True, answer=None, citations=[])])
    assert s["grounding_rate"] is None and s["citation_support_rate"] is None
    assert s["refusal_precision"] == 0.0 and s["refusal_recall"] is None
    empty = summarize([])
    assert empty["answer_accuracy"] is None and empty["latency_p50_ms"] is None


def test_percentile_nearest_rank() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([7.0], 95) == 7.0
