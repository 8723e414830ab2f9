"""The answer-or-refuse decision and refusal messages in the question's script. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from engine.evidence import Evidence

NO_EVIDENCE = "no_evidence"
NOT_COVERED = "evidence_does_not_cover_question"
LOW_SUPPORT = "low_support"
NO_VALUE = "evidence_lacks_asked_value"
NOT_ANSWERED = "evidence_does_not_answer"
PART_NOT_ANSWERED = "part_not_answered"  # a question about two things, one of them unanswered

MESSAGES = {
    NO_EVIDENCE: {
        "zh-Hans": "没有找到能回答这个问题的文档。",
        "zh-Hant": "沒有找到能回答這個問題的文件。",
        "en": "No document that could answer this question was found.",
    },
    NOT_COVERED: {
        "zh-Hans": "最接近答案的段落没有提到问题中的“{missing}”，无法据此回答。",
        "zh-Hant": "最接近答案的段落沒有提到問題中的「{missing}」，無法據此回答。",
        "en": 'The passages closest to an answer do not mention "{missing}" from the question, so '
        "they cannot answer it.",
    },
    NO_VALUE: {
        "zh-Hans": "找到的文档谈到了这个话题，但没有给出问题所问的数字或日期。",
        "zh-Hant": "找到的文件談到了這個話題，但沒有給出問題所問的數字或日期。",
        "en": "The documents found discuss this topic but do not give the number or date asked for.",
    },
    NOT_ANSWERED: {
        "zh-Hans": "找到的文档与问题同一话题，但没有一句话回答了这个问题。",
        "zh-Hant": "找到的文件與問題同一話題，但沒有一句話回答了這個問題。",
        "en": "The documents found are on this topic, but no sentence in them answers this question.",
    },
    PART_NOT_ANSWERED: {
        "zh-Hans": "问题问到的“{missing}”这一部分，找到的文档没有回答，因此不作答。",
        "zh-Hant": "問題問到的「{missing}」這一部分，找到的文件沒有回答，因此不作答。",
        "en": 'The documents found do not answer the part of the question about "{missing}", so '
        "it is not answered.",
    },
    LOW_SUPPORT: {
        "zh-Hans": "找到的文档与问题相关，但不足以回答这个问题。",
        "zh-Hant": "找到的文件與問題相關，但不足以回答這個問題。",
        "en": "The documents found are related, but they do not answer this question.",
    },
}


@dataclass(frozen=True)
class Decision:
    refused: bool
    reason: str | None = None
    missing: tuple[str, ...] = ()


def decide(
    evidence: Evidence | None,
    top_dense: float,
    min_coverage: float,
    min_dense: float,
    min_answerability: float = 0.0,
    reader: float | None = None,
    min_reader: float = 0.0,
) -> Decision:
    """Answer only when the chosen sentences contain every critical term of the question
    (numbers, years, model names, names, quoted phrases), a value of the kind it asks for
    (a quantity, a date) and enough of its key terms, and when the answerability model (if it
    scored them) gives the first sentence at least `min_answerability`, and the reader (if it
    read them) gives its best window at least `min_reader`."""
    if evidence is None:
        return Decision(True, NO_EVIDENCE)
    if not evidence.sentences:
        return Decision(True, LOW_SUPPORT)
    if evidence.missing_critical:
        return Decision(True, NOT_COVERED, evidence.missing_critical)
    if not evidence.answers_kind:
        return Decision(True, NO_VALUE)
    if evidence.coverage < min_coverage or top_dense < min_dense:
        return Decision(True, LOW_SUPPORT)
    if evidence.answerability is not None and evidence.answerability < min_answerability:
        return Decision(True, NOT_ANSWERED)
    if reader is not None and reader < min_reader:
        return Decision(True, NOT_ANSWERED)
    return Decision(False)


def message(decision: Decision, script: str) -> str | None:
    """The refusal's short explanation in the question's script (zh-Hans, zh-Hant, en)."""
    if not decision.refused or decision.reason is None:
        return None
    sep = "、" if script.startswith("zh") else ", "
    return MESSAGES[decision.reason][script].format(missing=sep.join(decision.missing))
