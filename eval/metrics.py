"""Verdicts per question and the summary metrics. Pure functions over plain records.

Definitions (also in the README):
- answer accuracy: answerable questions whose answer contains every required element (any
  accepted spelling; case-insensitive, after folding traditional->simplified and
  full-width->half-width). A refusal is a wrong answer.
- refusal recall: unanswerable questions refused. refusal precision: refusals that were of
  unanswerable questions. false-refusal rate: answerable questions refused.
- grounding rate: non-refused answers that (a) have no citation problems (core.citations.problems:
  every segment carries markers naming citations, every citation quote is exactly its
  document's text at its offsets, every segment's text is found verbatim in the quotes it cites)
  and (b) have at least one sentence and every sentence supported by the quotes it cites, as
  decided by an independent judge (eval/judge.py: LexicalJudge by default, or an LLM judge), not
  by the service's own enforcement.
- verbatim rate: non-refused answers with (a) alone (what the grounding rate was before (b)).
- citation recall / precision (ALCE, Gao et al. 2023; eval/citation_metrics.py): per answer,
  recall = sentences whose cited quotes together support them / sentences, and precision =
  citations that are needed and supporting / citations, where a citation is irrelevant when its
  quote alone does not support its sentence and the sentence's other quotes still do; a sentence
  with a marker that names no citation is unsupported and all its citations imprecise. Averaged
  over non-refused answers; an empty answer scores 0, an answer with no citations 0 precision.
- citation support: answered answerable questions with a citation whose document is in
  supporting_ids or whose quote contains an answer element (the benchmarks' convention).
- retrieval recall@k / MRR: answerable questions with a supporting passage (in supporting_ids,
  or containing an answer element) among the top k retrieved.
- over-quote rate: correct answers with at least one cited sentence that holds none of the
  required answer elements (the right tier quoted with a wrong one is correct, and over-quoted).
  answer sentence precision: over correct answers, the mean share of their sentences that hold
  a required element. Both are lexical: a sentence needed only as a condition ("a trip over 8
  hours ...", then "... business class") counts as extra, so they bound over-quoting from above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.text import fold
from eval.citation_metrics import CitationScores, answer_sentences, score
from eval.judge import Judge, LexicalJudge


@dataclass
class Record:
    """One asked question with what came back, in the shape written to the JSON report."""

    id: str
    question: str
    answerable: bool
    accepted: list[list[str]]
    supporting_ids: list[str]
    answer: str | None
    refused: bool
    reason: str | None
    citations: list[dict[str, Any]]
    retrieved: list[dict[str, str]]  # {"doc_id", "text"} in rank order
    latency_ms: float
    citation_problems: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)  # the engine's decision inputs


def contains_element(text: str, alternatives: Sequence[str]) -> bool:
    folded = fold(text)
    return any(fold(a) in folded for a in alternatives if a)


def answer_correct(r: Record) -> bool:
    """Every required element is in the answer (a refusal or empty answer is not correct)."""
    if r.refused or not r.answer or not r.accepted:
        return False
    return all(contains_element(r.answer, alts) for alts in r.accepted)


def supports(r: Record, doc_id: str, text: str) -> bool:
    return doc_id in r.supporting_ids or any(contains_element(text, alts) for alts in r.accepted)


def citation_supported(r: Record) -> bool:
    return any(supports(r, c["doc_id"], c["quote"]) for c in r.citations)


def sentence_hits(r: Record) -> list[bool]:
    """For each sentence of the answer: does it hold at least one required element?"""
    return [
        any(contains_element(seg.text, alts) for alts in r.accepted)
        for seg in answer_sentences(r.answer or "")
    ]


def first_hit_rank(r: Record) -> int | None:
    """1-based rank of the first supporting retrieved passage."""
    for rank, p in enumerate(r.retrieved, 1):
        if supports(r, p["doc_id"], p["text"]):
            return rank
    return None


def citation_scores(r: Record, judge: Judge) -> CitationScores:
    """Sentence-level support and ALCE citation recall/precision of one answer."""
    return score(r.answer or "", r.citations, judge)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 2)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(records: Sequence[Record], k: int = 5, judge: Judge | None = None) -> dict[str, Any]:
    """All summary metrics; a rate whose denominator is empty is None.

    `judge` decides whether cited quotes support a sentence (default: LexicalJudge).
    """
    judge = judge or LexicalJudge()
    ans = [r for r in records if r.answerable]
    una = [r for r in records if not r.answerable]
    answered = [r for r in records if not r.refused]
    refused = [r for r in records if r.refused]
    ranks = [first_hit_rank(r) for r in ans]
    rec = _rate(sum(r.refused for r in una), len(una))
    prec = _rate(sum(not r.answerable for r in refused), len(refused))
    f1 = round(2 * prec * rec / (prec + rec), 4) if prec and rec else (0.0 if una else None)
    lat = [r.latency_ms for r in records]
    hits = [h for h in (sentence_hits(r) for r in ans if answer_correct(r)) if h]
    scores = [citation_scores(r, judge) for r in answered]
    grounded = [
        not r.citation_problems and c.all_supported for r, c in zip(answered, scores, strict=True)
    ]
    return {
        "questions": len(records),
        "answerable": len(ans),
        "unanswerable": len(una),
        "answer_accuracy": _rate(sum(answer_correct(r) for r in ans), len(ans)),
        "false_refusal_rate": _rate(sum(r.refused for r in ans), len(ans)),
        "refusal_recall": rec,
        "refusal_precision": prec,
        "refusal_f1": f1,
        "grounding_rate": _rate(sum(grounded), len(answered)),
        "verbatim_rate": _rate(sum(not r.citation_problems for r in answered), len(answered)),
        "citation_recall": _mean([c.recall for c in scores]),
        "citation_precision": _mean([c.precision for c in scores]),
        "citation_support_rate": _rate(
            sum(citation_supported(r) for r in ans if not r.refused),
            sum(not r.refused for r in ans),
        ),
        "over_quote_rate": _rate(sum(not all(h) for h in hits), len(hits)),
        "answer_sentence_precision": _mean([sum(h) / len(h) for h in hits]),
        f"retrieval_recall@{k}": _rate(sum(x is not None and x <= k for x in ranks), len(ans)),
        "mrr": round(sum(1 / x for x in ranks if x) / len(ans), 4) if ans else None,
        "latency_p50_ms": percentile(lat, 50),
        "latency_p95_ms": percentile(lat, 95),
        "latency_max_ms": percentile(lat, 100),
    }
