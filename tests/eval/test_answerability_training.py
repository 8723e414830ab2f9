"""Training rows for the answerability model from a tiny SQuAD-format file (hashing embedder)."""

import json
from pathlib import Path

import numpy as np

from core.embedders import HashingEmbedder
from core.text import fold
from engine.answerability import FEATURES
from eval.answerability_training import fit, instances, read, rows_for

ARTICLE = {
    "title": "星河港",
    "paragraphs": [
        {
            "id": "p1",
            "context": "星河港始建于1921年。港口年吞吐量为三千万吨。港区面积约十二平方公里。",
            "qas": [
                {
                    "id": "q1",
                    "question": "星河港始建于哪一年？",
                    "answers": [{"text": "1921年", "answer_start": 6}],
                }
            ],
        },
        {
            "id": "p2",
            "context": "星河港的历史可以追溯到渔村时代。港口附近有一座灯塔。",
            "qas": [],
        },
    ],
}


def test_negatives_never_contain_the_answer_and_positives_are_the_answer_sentences(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"data": [ARTICLE]}, ensure_ascii=False), encoding="utf-8")
    chunks, items = read(path)
    assert [it.answers for it in items] == [("1921年",)]
    emb = HashingEmbedder()
    c_vecs = emb.embed_passages([c.text for c in chunks])
    folded = [fold(c.text) for c in chunks]
    rows = rows_for(items[0], emb.embed_query(items[0].question), chunks, c_vecs, folded)
    positives = [(f, label) for f, label, inst in rows if inst == 1]
    negatives = [(f, label) for f, label, inst in rows if inst == 0]
    assert sum(label for _, label in positives) == 1  # only the sentence with the answer
    assert negatives and all(label == 0 for _, label in negatives)
    # the features of the answer sentence differ from those of every other sentence
    answer_row = next(f for f, label in positives if label)
    assert all(f != answer_row for f, _ in negatives)


def test_fit_learns_both_stages_and_scores_instances_by_their_best_sentence() -> None:
    rng = np.random.default_rng(0)
    n = 800
    X = rng.normal(size=(n, len(FEATURES)))
    y = (X[:, 0] > 0.5).astype(int)  # the sentence label follows the first feature
    instance = np.arange(n) // 4
    d = {"X": X, "y": y, "instance": instance, "instance_y": (instance % 2)}
    dense = FEATURES.index("dense")
    X[:, dense] = np.where(d["instance_y"] == 1, 0.9, 0.8) + rng.normal(0, 0.01, n)
    model = fit(d, np.ones(n, bool), C=1.0)
    assert int(np.argmax(model.sentence.coef)) == 0
    Q, labels = instances(model.sentence, d, np.ones(n, bool))
    assert Q.shape == (n // 4, 2) and len(labels) == n // 4
    best = [max(model.probabilities(X[i * 4 : i * 4 + 4].tolist())) for i in range(n // 4)]
    assert np.allclose(Q[:, 0], best)
    # the instance label follows the top dense cosine here, so the question stage leans on it
    assert model.question is not None and model.question.coef[1] > abs(model.question.coef[0])
    assert model.answerability(0.5, 0.9) > 0.9 > 0.1 > model.answerability(0.5, 0.8)
