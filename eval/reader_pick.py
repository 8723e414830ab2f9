"""Fit the pick stage: the reader chooses the sentence that starts a same-language answer.

    python -m eval.reader_pick --data ../shared/training [--out engine/models/reader.json]

The answerability model ranks the candidate sentences of the retrieved passages
(`answerability.Model.ranking`); its first choice holds the answer for about four questions in
five, and one of its first three for more than nineteen in twenty. The pick stage reads the
windows of the first `--candidates` (3) with the reader and takes the candidate with the highest
weights . PICK_FEATURES (`engine.read`): the ranking key and the reader's P as logits, and
whether the reader's span head puts the answer inside the sentence. The weights are a
conditional logit (softmax over each question's candidates, the candidate holding the gold
answer as the choice) fitted on the answerable questions of the training files' *reader dev*
articles (`reader.data.split_of`: the articles the reader never trained on), put to the same
retrieval as `eval.reader_stage` (the top-k chunks by dense cosine).

Cross-validation grouped by article reports how often the first choice holds the answer, by
the ranking alone and by the pick, per file. The fitted stage is written into the reader's
calibration file (key "pick", with the sha256 of the answerability model whose ranking it
weighs). Needs scipy (the `train` extra).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from core.embedders import OnnxE5Embedder
from core.records import Chunk, Passage
from core.settings import Settings
from core.text import fold
from engine import answerability as ans
from engine.evidence import answer_candidates, question_terms, split_sentences
from engine.read import PICK_FEATURES, load_reader, pick_inputs
from eval.answerability_training import TOP_K, embeddings
from eval.answerability_training import read as read_chunks
from eval.reader_stage import FILES, Item, items_of, missing_files, update_calibration
from reader.data import split_of
from reader.runtime import Reader

log = logging.getLogger(__name__)


def question_rows(
    item: Item,
    q_vec: np.ndarray,
    chunks: list[Chunk],
    c_vecs: np.ndarray,
    model: ans.Model,
    reader: Reader,
    candidates: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """PICK_FEATURES and labels (holds a gold answer) of one question's first `candidates`
    candidates by the ranking, in ranking order; None when no candidate holds the answer."""
    cos = c_vecs @ q_vec
    idx = [int(i) for i in np.argsort(-cos)[:TOP_K]]
    passages = [Passage(chunks[i], float(cos[i]), float(cos[i])) for i in idx]
    sentences = split_sentences(passages)
    terms = question_terms(item.question)
    p = model.probabilities(ans.sentence_features(ans.analyse(terms, item.question), sentences))
    gold = [fold(a) for a in item.answers]
    if not any(any(g in s.folded for g in gold) for s in answer_candidates(terms, sentences)):
        return None
    rank = model.ranking(p, [s.passage.dense_score for s in sentences])
    read = pick_inputs(reader, item.question, terms, sentences, rank, candidates)  # as the engine
    assert read is not None  # a candidate holds the answer
    top, _, rows = read
    y = [int(any(g in s.folded for g in gold)) for s in top]
    return np.asarray(rows, float), np.asarray(y)


def dev_items(path: Path, limit: int | None, split: tuple[int, float] = (13, 0.1)) -> list[Item]:
    """The answerable questions of a training file's reader dev articles (seeded order);
    `split`: reader.data's seed and dev fraction."""
    items = [it for it in items_of(path) if it.answers and split_of(it.article, *split) == "dev"]
    random.Random(0).shuffle(items)
    return items[:limit] if limit else items


def build(
    data: Path,
    cache: Path,
    settings: Settings,
    candidates: int,
    limit: int | None,
    split: tuple[int, float] = (13, 0.1),
) -> list:
    """(file, article, X, y) of each answerable reader-dev question of FILES whose candidates
    hold the answer somewhere (y may be all 0: the answer is below the first `candidates`)."""
    model = ans.load(
        None if settings.answerability_model == "bundled" else Path(settings.answerability_model)
    )
    embedder = OnnxE5Embedder(settings.encoder_dir, threads=settings.encoder_threads)
    stage = load_reader(settings.model_copy(update={"reader_pick": False}))
    assert stage is not None
    out = []
    for name in FILES:
        path = data / f"{name}.json"
        chunks, _ = read_chunks(path)
        items = dev_items(path, limit, split)
        c_vecs = embeddings(
            [f"title: {c.title}\n\n{c.text}" for c in chunks], cache, embedder.embed_passages
        )
        q_vecs = embeddings(
            [it.question for it in items],
            cache,
            lambda ts: np.vstack([embedder.embed_query(t) for t in ts]),
        )
        t = time.perf_counter()
        for item, q_vec in zip(items, q_vecs, strict=True):
            rows = question_rows(item, q_vec, chunks, c_vecs, model, stage.reader, candidates)
            if rows is not None:
                out.append((name, item.article, *rows))
        log.warning(
            "%s: %d dev questions, %d kept so far (%.0f s)",
            name,
            len(items),
            len(out),
            time.perf_counter() - t,
        )
    return out


def fit(questions: list, l2: float = 0.01) -> np.ndarray:
    """Weights of the conditional logit: maximise the log-probability of each question's best
    gold candidate under a softmax over its candidates (questions with no gold among them
    carry no information and are left out)."""
    from scipy.optimize import minimize

    used = [(X, y) for X, y in questions if y.any()]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = l2 * float(w @ w), 2 * l2 * w
        for X, y in used:
            z = X @ w
            z = z - z.max()
            e = np.exp(z)
            soft = e / e.sum()
            g = int(np.argmax(np.where(y == 1, z, -np.inf)))
            total -= z[g] - np.log(e.sum())
            grad -= X[g] - soft @ X
        return total, grad

    w0 = np.zeros(questions[0][0].shape[1])
    return np.asarray(minimize(loss, w0, jac=True, method="L-BFGS-B").x)


def cross_validate(rows: list, folds: int = 5, seed: int = 0) -> dict:
    """Grouped by article: the share of questions whose first choice holds the answer, by the
    ranking alone (the first candidate) and by the pick, per file and overall."""
    articles = sorted({a for _, a, _, _ in rows})
    random.Random(seed).shuffle(articles)
    fold_of = {a: i % folds for i, a in enumerate(articles)}
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    weights = []
    for k in range(folds):
        w = fit([(X, y) for _, a, X, y in rows if fold_of[a] != k])
        weights.append(w.round(3).tolist())
        for name, a, X, y in rows:
            if fold_of[a] == k:
                h = hits[name]
                h[0] += 1
                h[1] += int(y[0])
                h[2] += int(y[int(np.argmax(X @ w))])
    n = sum(h[0] for h in hits.values())
    out = {
        "questions": n,
        "ranking_first": round(sum(h[1] for h in hits.values()) / n, 4),
        "picked_first": round(sum(h[2] for h in hits.values()) / n, 4),
        "by_file": {
            f: {
                "questions": h[0],
                "ranking_first": round(h[1] / h[0], 4),
                "picked_first": round(h[2] / h[0], 4),
            }
            for f, h in hits.items()
        },
        "weights": weights,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.reader_pick", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/training"))
    parser.add_argument("--out", type=Path, help="reader.json to update (default: the reader's)")
    parser.add_argument("--cache", type=Path, default=Path(".data/training-cache"))
    parser.add_argument("--candidates", type=int, default=3, help="candidates the reader reads")
    parser.add_argument("--seed", type=int, default=13, help="reader.data's split seed")
    parser.add_argument("--dev-fraction", type=float, default=0.1)
    parser.add_argument("--limit", type=int, help="dev questions per file (default: all)")
    args = parser.parse_args(argv)
    split = (args.seed, args.dev_fraction)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if (problem := missing_files(args.data)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.candidates < 2:
        print("error: --candidates must be at least 2 (one is no choice)", file=sys.stderr)
        return 2
    if not any(dev_items(args.data / f"{f}.json", args.limit, split) for f in FILES):
        print(
            f"error: no answerable question in the reader dev articles of {args.data}",
            file=sys.stderr,
        )
        return 2
    settings = Settings()
    if settings.reader == "off" or settings.answerability_model == "off":
        print("error: the pick stage needs the reader and the answerability model", file=sys.stderr)
        return 2
    t = time.perf_counter()
    rows = build(args.data, args.cache, settings, args.candidates, args.limit, split)
    if not any(y.any() for _, _, _, y in rows):
        print(
            "error: no dev question has its answer among its candidates: nothing to fit",
            file=sys.stderr,
        )
        return 2
    cv = cross_validate(rows)
    print(json.dumps({k: v for k, v in cv.items() if k != "weights"}, indent=1))
    weights = fit([(X, y) for _, _, X, y in rows])
    print("  weights", dict(zip(PICK_FEATURES, weights.round(3).tolist(), strict=True)))
    choice = settings.answerability_model
    pick = {
        "features": list(PICK_FEATURES),
        "weights": [round(float(w), 6) for w in weights],
        "candidates": args.candidates,
        "answerability_sha256": ans.model_sha256(None if choice == "bundled" else Path(choice)),
        "command": "python -m eval.reader_pick --data ../shared/training"
        + f" --candidates {args.candidates} --seed {args.seed} --dev-fraction {args.dev_fraction}"
        + (f" --limit {args.limit}" if args.limit else ""),
        "trained_on": [f"{f}.json (reader dev articles, answerable questions)" for f in FILES],
        "cross_validation": cv,
        "seconds": round(time.perf_counter() - t),
    }
    print(f"wrote {update_calibration(settings, args.out, 'pick', pick)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
