import pytest

from core.sentences import sentence_spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("员工每年享有15天年假。年假须提前申请！", ["员工每年享有15天年假。", "年假须提前申请！"]),
        ("他说：「好的。」然后走了", ["他说：「好的。」", "然后走了"]),
        ("第一行\n第二行", ["第一行", "第二行"]),
        ("It costs 3.5 dollars. Then we left.", ["It costs 3.5 dollars.", "Then we left."]),
        ("Ask Dr. Smith, e.g. by mail. Done", ["Ask Dr. Smith, e.g. by mail.", "Done"]),
        ("  padded sentence.  \n\n  ", ["padded sentence."]),
        ("", []),
        ("真的吗？！是的……好", ["真的吗？！", "是的……", "好"]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in sentence_spans(text)] == expected


def test_offsets_are_into_the_whole_text_when_given_a_range() -> None:
    text = "前言。甲句。乙句。"
    spans = sentence_spans(text, 3, len(text))
    assert spans == [(3, 6), (6, 9)]
    assert [text[s:e] for s, e in spans] == ["甲句。", "乙句。"]
