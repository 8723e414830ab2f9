"""The answerability model: how its scores choose evidence and refuse, and the shipped weights."""

from core.records import Chunk, Passage
from service.evidence import question_terms, select, split_sentences
from service.refusal import NOT_ANSWERED, decide, message


def sentences_of(*texts: str, dense: float = 0.85):  # noqa: ANN201
    out, pos = [], 0
    for i, t in enumerate(texts):
        chunk = Chunk(f"d{i}", 0, t, 0, len(t), f"d{i}", f"标题{i}", ("everyone",))
        out.append(Passage(chunk, 1.0 / (i + 1), dense - 0.01 * i))
        pos += len(t)
    return split_sentences(out)


def test_scores_choose_the_first_sentence_and_its_document() -> None:
    sents = sentences_of("差旅报销须在30天内提交。", "报销差旅费用的流程见附件。")
    terms = question_terms("差旅报销要在几天内提交？")
    by_cover = select(terms, sents, 1)
    by_model = select(terms, sents, 1, scores=[0.1, 0.9])
    assert by_cover.answerability is None
    assert by_model.answerability == 0.9
    assert [s.text for s in by_model.sentences] == ["报销差旅费用的流程见附件。"]


def test_a_low_answerability_refuses_in_the_questions_script() -> None:
    sents = sentences_of("差旅报销须在30天内提交。")
    terms = question_terms("差旅报销要在几天内提交？")
    low = select(terms, sents, 1, scores=[0.2])
    assert not decide(low, 0.9, 0.0, 0.0, 0.1).refused
    d = decide(low, 0.9, 0.0, 0.0, 0.5)
    assert d.refused and d.reason == NOT_ANSWERED
    assert "沒有一句話" in (message(d, "zh-Hant") or "")
    assert (message(d, "en") or "").startswith("The documents found are on this topic")
