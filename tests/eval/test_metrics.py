"""Metrics on hand-made records whose right values are known."""

import pytest

from eval.citation_metrics import score
from eval.judge import LexicalJudge
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
    assert s["verbatim_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["citation_recall"] == s["citation_precision"] == 1.0  # a3 quotes its citation
    assert s["citation_support_rate"] == 0.5  # a1 supported, a3 not
    assert s["retrieval_recall@1"] == 0.0  # supporting passage is 2nd everywhere
    assert s["mrr"] == 0.5


def test_over_quoting_is_counted_on_correct_answers() -> None:
    tiers = [
        {"n": 1, "doc_id": "p1", "quote": "满1年不满10年的，年休假5天。"},
        {"n": 2, "doc_id": "p1", "quote": "满10年不满20年的，年休假10天。"},
    ]
    right = rec(id="r", accepted=[["10天"]], answer="满10年不满20年的，年休假10天。 [2]")
    both = rec(
        id="b",
        accepted=[["10天"]],
        answer="满1年不满10年的，年休假5天。 [1] 满10年不满20年的，年休假10天。 [2]",
        citations=tiers,
    )
    two_elements = rec(id="t", accepted=[["5天"], ["10天"]], answer=both.answer, citations=tiers)
    wrong = rec(id="w", accepted=[["20天"]], answer=both.answer, citations=tiers)
    s = summarize([right, both, two_elements, wrong])
    assert s["answer_accuracy"] == 0.75  # over-quoting still grades as correct
    assert s["over_quote_rate"] == pytest.approx(1 / 3, abs=1e-4)  # only "both"
    assert s["answer_sentence_precision"] == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-4)
    assert summarize([wrong])["over_quote_rate"] is None  # no correct answer to judge


def test_edge_cases_all_refused_and_empty() -> None:
    s = summarize([rec(refused=True, answer=None, citations=[])])
    assert s["grounding_rate"] is None and s["citation_support_rate"] is None
    assert s["verbatim_rate"] is None
    assert s["citation_recall"] is None and s["citation_precision"] is None
    assert s["refusal_precision"] == 0.0 and s["refusal_recall"] is None
    empty = summarize([])
    assert empty["answer_accuracy"] is None and empty["latency_p50_ms"] is None
    assert empty["grounding_rate"] is None and empty["citation_recall"] is None


def test_percentile_nearest_rank() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([7.0], 95) == 7.0


LEAVE = "员工每年享有15个工作日的带薪年假。"
APPLY = "年假须提前3天在系统中申请。"
VPN = "VPN 连接闲置超过30分钟后会自动断开。"


def cites(*quotes: str) -> list[dict[str, object]]:
    return [{"n": n, "doc_id": f"d{n}", "quote": q} for n, q in enumerate(quotes, 1)]


@pytest.mark.parametrize(
    ("answer", "citations", "recall", "precision", "grounded"),
    [
        pytest.param(f"{LEAVE} [1]", cites(LEAVE), 1.0, 1.0, True, id="extractive-verbatim"),
        pytest.param(f"{LEAVE} [1] {APPLY} [2]", cites(LEAVE, APPLY), 1.0, 1.0, True, id="two"),
        pytest.param(
            f"{LEAVE} [1] {APPLY} [2]", cites(LEAVE, VPN), 0.5, 0.5, False, id="unrelated-passage"
        ),
        pytest.param(f"{LEAVE} [1] [2]", cites(LEAVE, VPN), 1.0, 0.5, True, id="redundant-extra"),
        pytest.param(
            "员工每年享有15个工作日的带薪年假，年假须提前3天在系统中申请。 [1] [2]",
            cites(LEAVE, APPLY),
            1.0,
            1.0,
            True,
            id="both-needed",
        ),
        pytest.param(f"{LEAVE} [1] [1]", cites(LEAVE), 1.0, 1.0, True, id="repeated-marker"),
        pytest.param(f"{LEAVE} [3]", cites(LEAVE), 0.0, 0.0, False, id="out-of-range"),
        pytest.param(f"{LEAVE} [1] [3]", cites(LEAVE), 0.0, 0.0, False, id="one-out-of-range"),
        pytest.param(f"{LEAVE} [1] {APPLY}", cites(LEAVE), 0.5, 1.0, False, id="uncited-sentence"),
        pytest.param(LEAVE, [], 0.0, 0.0, False, id="no-citations"),
        pytest.param("", [], 0.0, 0.0, False, id="empty-answer"),
        pytest.param(
            f"{LEAVE} [1]。", cites(LEAVE), 1.0, 1.0, True, id="stray-stop-not-a-sentence"
        ),
        pytest.param(
            "该政策于2023年生效。 [1]", cites("该政策于2022年生效。"), 0.0, 0.0, False, id="year"
        ),
        pytest.param(
            "報銷單須經財務審核後才能付款。 [1]",
            cites("报销单须经财务审核后才能付款。"),
            1.0,
            1.0,
            True,
            id="traditional",
        ),
    ],
)
def test_alce_recall_precision_and_grounding_per_answer(
    answer: str, citations: list[dict[str, object]], recall: float, precision: float, grounded: bool
) -> None:
    scores = score(answer, citations, LexicalJudge())
    assert (scores.recall, scores.precision, scores.all_supported) == (recall, precision, grounded)
    s = summarize([rec(answer=answer, citations=citations)])
    assert (s["citation_recall"], s["citation_precision"]) == (recall, precision)
    assert s["grounding_rate"] == (1.0 if grounded else 0.0)


def test_sentence_verdicts_name_out_of_range_markers_and_irrelevant_citations() -> None:
    (v,) = score(f"{LEAVE} [1] [3]", cites(LEAVE), LexicalJudge()).sentences
    assert (v.text, v.markers, v.out_of_range, v.supported) == (LEAVE, (1, 3), (3,), False)
    (v,) = score(f"{LEAVE} [1] [1]", cites(LEAVE), LexicalJudge()).sentences
    assert (v.markers, v.precise) == ((1,), (True,))  # one citation, written twice
    (v,) = score(f"{LEAVE} [2] [1]", cites(LEAVE, VPN), LexicalJudge()).sentences
    assert (v.markers, v.precise) == ((2, 1), (False, True))


def test_summary_means_over_answered_and_grounding_needs_both_checks() -> None:
    records = [
        rec(id="ok", answer=f"{LEAVE} [1]", citations=cites(LEAVE)),  # 1, 1, grounded
        # Verbatim at its offsets (no citation problems) but the quote does not support it:
        rec(id="wrong", answer=f"{LEAVE} [1] {APPLY} [2]", citations=cites(LEAVE, VPN)),
        # Supported, but the runner found its quote is not the document's text at its offsets:
        rec(id="moved", answer=f"{LEAVE} [1]", citations=cites(LEAVE), citation_problems=["x"]),
        rec(id="refused", refused=True, answer=None, citations=[]),
    ]
    s = summarize(records)
    assert s["citation_recall"] == s["citation_precision"] == pytest.approx(2.5 / 3, abs=1e-4)
    assert s["grounding_rate"] == pytest.approx(1 / 3, abs=1e-4)  # only "ok"
    assert s["verbatim_rate"] == pytest.approx(2 / 3, abs=1e-4)  # "ok" and "wrong"


class NamedClaims:
    """A judge that supports exactly the claims it is given, whatever the evidence."""

    def __init__(self, *claims: str) -> None:
        self.claims = set(claims)

    def supports(self, claim: str, evidence: object) -> bool:
        return claim in self.claims


def test_summarize_uses_the_judge_it_is_given() -> None:
    records = [rec(answer=f"{LEAVE} [1] {APPLY} [2]", citations=cites(LEAVE, VPN))]
    assert summarize(records)["citation_recall"] == 0.5  # lexical: the VPN quote fails
    s = summarize(records, judge=NamedClaims(LEAVE, APPLY))
    assert (s["citation_recall"], s["grounding_rate"]) == (1.0, 1.0)
    s = summarize(records, judge=NamedClaims())
    assert (s["citation_recall"], s["citation_precision"], s["grounding_rate"]) == (0.0, 0.0, 0.0)


def test_all_refused_gives_none_not_a_crash() -> None:
    s = summarize([rec(id=str(i), refused=True, answer=None, citations=[]) for i in range(3)])
    assert s["citation_recall"] is None and s["citation_precision"] is None
    assert s["grounding_rate"] is None and s["verbatim_rate"] is None
