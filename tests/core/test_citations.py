import pytest

from core.citations import problems, segments

DOC = "员工每年享有15个工作日的带薪年假。年假须提前3天申请。"
Q1 = "员工每年享有15个工作日的带薪年假。"
Q2 = "年假须提前3天申请。"


def cite(n: int, quote: str, start: int, doc_id: str = "hr.md") -> dict[str, object]:
    return {"n": n, "doc_id": doc_id, "quote": quote, "start": start, "end": start + len(quote)}


def text_of(doc_id: str) -> str | None:
    return DOC if doc_id == "hr.md" else None


def test_segments_pair_text_with_following_markers() -> None:
    segs = segments("甲。 [1] [2] 乙。 [3] 尾巴")
    assert [(s.text, s.markers) for s in segs] == [("甲。", (1, 2)), ("乙。", (3,)), ("尾巴", ())]


def test_bracket_numbers_glued_to_text_are_quoted_footnotes_not_markers() -> None:
    assert [(s.text, s.markers) for s in segments("见注释[11]。 [1]")] == [("见注释[11]。", (1,))]


def test_grounded_answer_has_no_problems() -> None:
    answer = f"{Q1} [1] {Q2} [2]"
    assert problems(answer, [cite(1, Q1, 0), cite(2, Q2, len(Q1))], text_of) == []


@pytest.mark.parametrize(
    ("answer", "citations", "problem"),
    [
        (f"{Q1} [1] extra words", [cite(1, Q1, 0)], "uncited text"),
        (f"{Q1} [2]", [cite(1, Q1, 0)], "name no citation"),
        (f"{Q1} [1]", [cite(1, Q1, 1)], "quote is not text"),
        (f"{Q1} [1]", [cite(1, Q1, 0, doc_id="gone.md")], "not found"),
        ("员工有十五天年假。 [1]", [cite(1, Q1, 0)], "not in its cited quotes"),
        ("", [], "empty answer"),
        (Q1, [], "uncited text"),
    ],
)
def test_each_problem_is_caught(
    answer: str, citations: list[dict[str, object]], problem: str
) -> None:
    found = problems(answer, citations, text_of)
    assert any(problem in p for p in found), found


def test_paraphrase_is_allowed_when_not_verbatim_mode() -> None:
    assert problems("员工有十五天年假。 [1]", [cite(1, Q1, 0)], text_of, verbatim=False) == []
