"""Fit how the cross-language path ranks the windows it reads.

    python -m eval.cross_rank --xquad DIR [--out engine/models/reader.json]

A question asked in another language than the passages (`AnswerEngine._read_across`) is
answered from the best of the candidate sentences the reader reads. Ranked by the reader's
P(answers) alone, the best is often a same-topic sentence: across languages the reader judges
the topic better than the asked value. This command measures, on XQuAD's cross-language
questions of the reader's *dev* articles (`reader.data.split_of`, the articles it never trained
on; DIR: github.com/google-deepmind/xquad at 7d30520, CC BY-SA 4.0, files checked by sha256),
how often the top-ranked window's sentence holds the answer when windows are ranked by
`cosine + weight * logit(P)` (cosine: e5's, question to sentence; weight 0 is cosine alone, a
large weight the reader alone), for each weight of a grid, with article-grouped
cross-validation of the choice. Each question's candidates are the `cross_windows` sentences of
the other language's dev paragraphs closest to it by cosine, as the engine reads them. The
chosen weight is written into the reader's calibration file (key "cross_rank").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.embedders import Embedder, make_embedder
from core.sentences import sentence_spans
from core.settings import Settings
from engine.read import load_reader, logit
from eval.reader_stage import update_calibration
from reader.data import read_xquad, split_of

log = logging.getLogger(__name__)
WEIGHTS = (0.0, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 1.0)
# Per question: (article, [(cosine, P, holds the answer), ...]) for the windows read.
Question = tuple[str, list[tuple[float, float, bool]]]


def instances(
    xquad: Path, settings: Settings, embedder: Embedder, seed: int, dev_fraction: float
) -> list[Question]:
    """The dev articles' cross-language questions, each with its read candidates."""
    stage = load_reader(settings)
    assert stage is not None
    paragraphs = [p for p in read_xquad(xquad) if split_of(p.article, seed, dev_fraction) == "dev"]
    out: list[Question] = []
    for source in sorted({p.source for p in paragraphs}):
        ps = [p for p in paragraphs if p.source == source]
        # (paragraph, start, end, window): the window as the engine shows it (engine.read)
        cands: list[tuple[int, int, int, str]] = []
        for k, p in enumerate(ps):
            spans = sentence_spans(p.context)
            for i, (a, b) in enumerate(spans):
                lo, hi = spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
                cands.append((k, a, b, f"{p.title}\n{p.context[lo:hi]}"))
        vectors = embedder.embed_passages([ps[c[0]].context[c[1] : c[2]] for c in cands])
        for k, p in enumerate(ps):
            for q in p.questions:
                if not q.answers:
                    continue
                at = q.answers[0][1]
                cosine = vectors @ embedder.embed_query(q.text)
                top = np.argsort(-cosine)[: stage.cross_windows]
                scored = stage.reader.score(q.text, [cands[i][3] for i in top])
                read = [
                    (float(cosine[i]), pr, cands[i][0] == k and cands[i][1] <= at < cands[i][2])
                    for i, (pr, _) in zip(top, scored, strict=True)
                ]
                out.append((p.article, read))
        log.warning("%s: %d questions read in all", source, len(out))
    return out


def top1(questions: Sequence[Question], weight: float | None) -> float:
    """Share of questions whose top-ranked window holds the answer (None: by P alone)."""

    def score(c: tuple[float, float, bool]) -> float:
        return c[1] if weight is None else c[0] + weight * logit(c[1])

    return float(np.mean([max(read, key=score)[2] for _, read in questions]))


def choose(questions: Sequence[Question]) -> float:
    """The grid weight with the best top-1 (ties: the smaller)."""
    return max(WEIGHTS, key=lambda w: (top1(questions, w), -w))


def cross_validate(questions: Sequence[Question], folds: int = 5) -> dict[str, Any]:
    """Top-1 of the weight chosen on the other folds' articles, on each fold's articles."""
    articles = sorted({a for a, _ in questions})
    hits, chosen = [], []
    for k in range(folds):
        held = {a for i, a in enumerate(articles) if i % folds == k}
        train = [q for q in questions if q[0] not in held]
        test = [q for q in questions if q[0] in held]
        if not train or not test:
            continue
        w = choose(train)
        chosen.append(w)
        hits += [top1([q], w) for q in test]
    return {"top1": round(float(np.mean(hits)), 4), "weights": chosen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.cross_rank", description=__doc__)
    parser.add_argument("--xquad", type=Path, required=True, help="a checkout of XQuAD")
    parser.add_argument("--out", type=Path, help="reader.json to update (default: the reader's)")
    parser.add_argument("--seed", type=int, default=13, help="reader.data's split seed")
    parser.add_argument("--dev-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    settings = Settings()
    if settings.reader == "off":
        print("error: GQA_READER=off: there is no reader to rank with", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    embedder = make_embedder(settings)
    try:
        questions = instances(args.xquad, settings, embedder, args.seed, args.dev_fraction)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # only questions whose answer is among the windows read: ranking cannot help the others
    found = [q for q in questions if any(c[2] for c in q[1])]
    weight = choose(found)
    figures = {
        "questions": len(questions),
        "answer_read": len(found),
        "top1_reader": round(top1(found, None), 4),
        "top1_cosine": round(top1(found, 0.0), 4),
        "top1_chosen": round(top1(found, weight), 4),
        "cross_validation": cross_validate(found),
        "seconds": round(time.perf_counter() - t0),
    }
    print(json.dumps({"weight": weight, **figures}, indent=1))
    rank = {
        "weight": weight,
        "embedder": embedder.name,
        "command": f"python -m eval.cross_rank --xquad XQUAD --seed {args.seed}"
        + f" --dev-fraction {args.dev_fraction}",
        "trained_on": "XQuAD 7d30520 cross-language questions of the reader dev articles",
        **figures,
    }
    print(f"wrote {update_calibration(settings, args.out, 'cross_rank', rank)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
