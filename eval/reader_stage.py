"""Fit the decide stage that weighs the reader beside the answerability model.

    python -m eval.reader_stage --data ../shared/training [--out engine/models/reader.json]

The engine answers when p(answerable) reaches GQA_MIN_ANSWERABILITY. Without the reader that p
comes from the answerability model's question stage (its best sentence's p and the top passage's
dense cosine). This command fits a third input beside those two, the reader's best P(answers)
over the windows the engine reads (as a logit: the pick stage's windows when reader.json has one
and GQA_READER_PICK is on, as in the engine; else the best candidates' and the evidence's), on
questions of the training files' *reader dev*
articles (`reader.data.split_of`, the articles the reader never trained on), put to the same
retrieval the answerability model was trained with (`eval.answerability_training`):
- answerable: the top-k chunks by dense cosine, when they hold the gold answer;
- unanswerable: the top-k chunks among those that do not hold it (same-topic passages), and
  SQuAD 2.0's unanswerable questions with their top-k chunks as they are.
Only instances the engine's other checks would answer (a critical term missing, no value of the
asked kind, low coverage refuse before the reader) are kept: the stage decides only those.

Cross-validation grouped by article reports the AUROC of the two-input stage and of the
three-input one on the same instances. The fitted stage is written into the reader's calibration
file (key "decide", with the sha256 of the answerability model it was fitted on: the engine
ignores the stage beside another model). Needs scikit-learn (the `train` extra).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.embedders import OnnxE5Embedder
from core.records import Chunk, Passage
from core.settings import Settings
from core.text import fold
from engine import answerability as ans
from engine.decide import decide
from engine.evidence import question_terms, select, split_sentences
from engine.read import DECIDE_FEATURES, ReadStage, bundled, load_reader, logit
from eval.answerability_training import TOP_K, embeddings, fit_logistic
from eval.answerability_training import read as read_chunks
from reader.data import split_of

log = logging.getLogger(__name__)
FILES = ("cmrc2018_dev", "cmrc2018_trial", "DRCD_test", "squad2_dev_part")


@dataclass(frozen=True)
class Item:
    question: str
    answers: tuple[str, ...]  # empty: unanswerable (SQuAD 2.0)
    article: str  # reader.data's key, `source/title`


def items_of(path: Path) -> list[Item]:
    """The questions of a SQuAD-format file, keyed by article as `reader.data` keys them."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for ai, art in enumerate(data):
        title = str(art.get("title") or art.get("id") or ai)
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                answers = tuple({a["text"].strip() for a in qa["answers"] if a["text"].strip()})
                if answers or qa.get("is_impossible"):
                    out.append(Item(qa["question"].strip(), answers, f"{path.stem}/{title}"))
    return out


def instances(
    item: Item,
    q_vec: np.ndarray,
    chunks: list[Chunk],
    c_vecs: np.ndarray,
    folded: list[str],
    model: ans.Model,
    reader: ReadStage,
    settings: Settings,
) -> list[tuple[list[float], int]]:
    """(DECIDE_FEATURES, answerable) of each instance the other checks would answer."""
    cos = c_vecs @ q_vec
    order = [int(i) for i in np.argsort(-cos)]
    gold = [fold(a) for a in item.answers]

    def has(i: int) -> bool:
        return any(g in folded[i] for g in gold)

    if gold:  # the top chunks, then the top chunks that lack the answer
        runs = [(order[:TOP_K], 1), ([i for i in order if not has(i)][:TOP_K], 0)]
    else:  # unanswerable as asked (SQuAD 2.0)
        runs = [(order[:TOP_K], 0)]
    terms = question_terms(item.question)
    q = ans.analyse(terms, item.question)
    out = []
    for idx, label in runs:
        if label and not any(has(i) for i in idx):
            continue  # retrieval missed the answer: no clean positive
        passages = [Passage(chunks[i], float(cos[i]), float(cos[i])) for i in idx]
        sentences = split_sentences(passages)
        scores = model.probabilities(ans.sentence_features(q, sentences))
        rank = model.ranking(scores, [s.passage.dense_score for s in sentences])  # as the engine
        first, reading = None, None
        picked = reader.choose(item.question, terms, sentences, rank)  # None: no pick stage
        if picked is not None:
            first, reading = picked
        evidence = select(terms, sentences, settings.max_answer_sentences, scores, rank, first)
        top_dense = float(max(cos[i] for i in idx))
        gate = decide(evidence, top_dense, settings.min_coverage, settings.min_dense_score)
        if gate.refused or evidence.answerability is None:
            continue
        if reading is None:
            reading = reader.read(item.question, sentences, scores, evidence.sentences[0])
        out.append(([evidence.answerability, top_dense, logit(reading.best)], label))
    return out


def build(
    data: Path,
    cache: Path,
    settings: Settings,
    model: ans.Model,
    split: tuple[int, float],
    limit: int | None,
) -> dict:
    """Feature rows, labels and article groups of the reader-dev questions of FILES."""
    embedder = OnnxE5Embedder(settings.encoder_dir, threads=settings.encoder_threads)
    reader = load_reader(settings)
    assert reader is not None
    X, y, groups = [], [], []
    for name in FILES:
        path = data / f"{name}.json"
        chunks, _ = read_chunks(path)
        items = [it for it in items_of(path) if split_of(it.article, *split) == "dev"]
        random.Random(0).shuffle(items)
        items = items[:limit] if limit else items
        c_vecs = embeddings(
            [f"title: {c.title}\n\n{c.text}" for c in chunks], cache, embedder.embed_passages
        )
        q_vecs = embeddings(
            [it.question for it in items],
            cache,
            lambda ts: np.vstack([embedder.embed_query(t) for t in ts]),
        )
        folded = [fold(c.text) for c in chunks]
        t = time.perf_counter()
        for n, (item, q_vec) in enumerate(zip(items, q_vecs, strict=True)):
            if n and n % 50 == 0:
                log.warning("  %s: %d questions read (%.0f s)", name, n, time.perf_counter() - t)
            for f, label in instances(item, q_vec, chunks, c_vecs, folded, model, reader, settings):
                X.append(f)
                y.append(label)
                groups.append(item.article)
        log.warning(
            "%s: %d dev questions, %d instances so far (%.0f s)",
            name,
            len(items),
            len(X),
            time.perf_counter() - t,
        )
    X_ = np.asarray(X, float)
    P = 1 / (1 + np.exp(-X_[:, 2]))  # the reader's P back from its logit
    return {"X": X_, "y": np.asarray(y), "groups": np.asarray(groups), "P": P}


def cross_validate(d: dict, model: ans.Model, C: float, folds: int = 5) -> dict[str, float]:
    """Grouped by article: AUROC of the shipped two-input stage, of a two-input stage refitted
    on these instances, and of the three-input stage; and what each refuses at the
    answerability threshold 0.15 and keeps of the answerable."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    X, y = d["X"], d["y"]
    assert model.question is not None
    shipped = model.question.predict(X[:, :2])
    two, three = np.zeros(len(y)), np.zeros(len(y))
    for train, test in GroupKFold(folds).split(X, y, d["groups"]):
        two[test] = fit_logistic(X[train][:, :2], y[train], C).predict(X[test][:, :2])
        three[test] = fit_logistic(X[train], y[train], C).predict(X[test])
    out: dict[str, float] = {"instances": len(y), "answerable": int(y.sum())}
    for name, p in (("shipped", shipped), ("refit_two", two), ("with_reader", three)):
        out[f"{name}_auroc"] = round(float(roc_auc_score(y, p)), 4)
        out[f"{name}_refused_at_0.15"] = round(float((p[y == 0] < 0.15).mean()), 4)
        out[f"{name}_kept_at_0.15"] = round(float((p[y == 1] >= 0.15).mean()), 4)
    out["reader_alone_auroc"] = round(float(roc_auc_score(y, X[:, 2])), 4)
    return out


def missing_files(data: Path) -> str | None:
    """What of FILES the training folder lacks, said for an error message (None: nothing)."""
    missing = [f for f in FILES if not (data / f"{f}.json").exists()]
    return f"{data} lacks {', '.join(missing)}.json" if missing else None


def update_calibration(settings: Settings, out: Path | None, key: str, value: Any) -> Path:
    """Set `key` of the reader's calibration file (`out`, default: the one beside the reader
    the settings select), written atomically; returns its path."""
    learned = bundled() if settings.reader == "bundled" else Path(settings.reader)
    path = out or learned.with_suffix(".json")
    calibration: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    calibration[key] = value
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(calibration, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.reader_stage", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/training"))
    parser.add_argument("--out", type=Path, help="reader.json to update (default: the reader's)")
    parser.add_argument("--cache", type=Path, default=Path(".data/training-cache"))
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--seed", type=int, default=13, help="reader.data's split seed")
    parser.add_argument("--dev-fraction", type=float, default=0.1)
    parser.add_argument("--limit", type=int, help="dev questions per file (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if (problem := missing_files(args.data)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = Settings()
    if settings.reader == "off":
        print("error: GQA_READER=off: there is no reader to fit a stage for", file=sys.stderr)
        return 2
    choice = settings.answerability_model
    model = ans.load(None if choice == "bundled" else Path(choice))
    split = (args.seed, args.dev_fraction)
    d = build(args.data, args.cache, settings, model, split, args.limit)
    cv = cross_validate(d, model, args.C)
    print(json.dumps(cv, indent=1))
    stage = fit_logistic(d["X"], d["y"], args.C)
    print("  coefficients", dict(zip(DECIDE_FEATURES, stage.coef.round(3).tolist(), strict=True)))
    decide = {
        "features": list(DECIDE_FEATURES),
        **stage.to_json(),
        "answerability_sha256": ans.model_sha256(None if choice == "bundled" else Path(choice)),
        "windows": settings.reader_windows,
        # the reading it was fitted on: the pick stage's windows when it is on (engine.read)
        "reader_pick": settings.reader_pick,
        # the reader's P seen on these instances: where a question's decision is the same at
        # both ends, the engine decides without reading (engine.read.DecideStage.decided)
        "reader_range": [round(float(x), 4) for x in (d["P"].min(), d["P"].max())],
        "command": "python -m eval.reader_stage --data ../shared/training"
        + f" --C {args.C} --seed {args.seed} --dev-fraction {args.dev_fraction}"
        + (f" --limit {args.limit}" if args.limit else ""),
        "trained_on": [f"{f}.json (reader dev articles)" for f in FILES],
        "cross_validation": cv,
    }
    print(f"wrote {update_calibration(settings, args.out, 'decide', decide)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
