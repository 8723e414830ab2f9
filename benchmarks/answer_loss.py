"""Where the engine loses the answers of a question set: per answerable question, whether the
first required element is in the retrieved passages, among the sentences that may start an
answer, in the ranking's first candidate, in its first three, in the pick stage's choice, and in
the final answer; and, for the questions refused although the pick was right, why.

Needs the set ingested (`python -m eval run --dataset DIR` first: it reads the same isolated
collection). Not a test; from the repository root, with the settings of that run:

    python -m benchmarks.answer_loss --dataset ../shared/benchmarks/rgb-zh
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from core.embedders import make_embedder
from core.settings import Settings
from core.store import open_store
from core.text import fold
from engine.evidence import answer_candidates, question_terms, split_sentences
from engine.pipeline import AnswerEngine
from eval.datasets import load
from eval.runner import isolated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.answer_loss", description=__doc__)
    parser.add_argument("--dataset", type=Path, required=True)
    args = parser.parse_args(argv)
    dataset = load(args.dataset)
    settings = isolated(Settings(), dataset)
    store = open_store(settings)
    engine = AnswerEngine(settings, store, make_embedder(settings))
    if engine.model is None or engine.reader is None:
        print("error: needs the answerability model and the reader (the defaults)")
        return 2
    count: Counter[str] = Counter()
    try:
        for q in dataset.questions:
            accepted = q.accepted()
            if not q.answerable or not accepted:
                continue
            first = [fold(a) for a in accepted[0] if a]

            def holds(folded: str, first: list[str] = first) -> bool:
                return any(a in folded for a in first)

            passages = engine.retrieve(q.question)
            sentences = split_sentences(passages)
            terms = question_terms(q.question)
            scores = engine._scores(q.question, terms, sentences) or []
            rank = engine.model.ranking(scores, [s.passage.dense_score for s in sentences])
            key = {id(s): r for s, r in zip(sentences, rank, strict=True)}
            ranked = sorted(answer_candidates(terms, sentences), key=lambda s: -key[id(s)])
            picked = engine.reader.choose(q.question, terms, sentences, rank)
            answer = engine.answer(q.question)
            right_pick = picked is not None and holds(picked[0].folded)
            count["questions"] += 1
            count["retrieved"] += any(holds(fold(p.chunk.text)) for p in passages)
            count["in_candidates"] += any(holds(s.folded) for s in ranked)
            count["ranking_first"] += bool(ranked) and holds(ranked[0].folded)
            count["ranking_top3"] += any(holds(s.folded) for s in ranked[:3])
            count["picked"] += right_pick
            count["answer_correct"] += not answer.refused and all(
                any(fold(a) in fold(answer.text or "") for a in alts if a) for alts in accepted
            )
            count["refused"] += answer.refused
            if answer.refused and right_pick:
                count[f"refused_right_pick:{answer.reason}"] += 1
    finally:
        store.close()
    n = count["questions"] or 1
    print(json.dumps({k: [v, round(v / n, 3)] for k, v in count.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
