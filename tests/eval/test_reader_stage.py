"""The decide stage's training rows (eval.reader_stage) from a tiny SQuAD-format file, with a stub
reader and the hashing embedder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.text import fold
from engine import answerability as ans
from engine.read import ReadStage, logit
from eval.answerability_training import read as read_chunks
from eval.reader_stage import Item, cross_validate, instances, items_of
from reader.data import read_squad
from reader.runtime import Reader
from tests.eval.test_answerability_training import ARTICLE

IMPOSSIBLE = {"id": "q2", "question": "星河港有几座码头？", "answers": [], "is_impossible": True}


class StubReader:
    def __init__(self, p: float) -> None:
        self.p, self.calls = p, 0

    def score(
        self, question: str, windows: Sequence[str]
    ) -> list[tuple[float, tuple[int, int] | None]]:
        self.calls += 1
        return [(self.p, None) for _ in windows]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    article = json.loads(json.dumps(ARTICLE))
    article["paragraphs"][1]["qas"] = [IMPOSSIBLE]
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"data": [article]}, ensure_ascii=False), encoding="utf-8")
    return path


def test_questions_are_keyed_by_article_as_the_readers_data_split_keys_them(tiny: Path) -> None:
    items = items_of(tiny)
    assert [it.answers for it in items] == [("1921年",), ()]  # the unanswerable one is kept
    assert {it.article for it in items} == {p.article for p in read_squad(tiny, "tiny")}


def test_each_instance_the_other_checks_pass_gets_the_readers_logit_and_its_label(
    tiny: Path, tmp_path: Path
) -> None:
    chunks, _ = read_chunks(tiny)
    emb = HashingEmbedder()
    c_vecs = emb.embed_passages([c.text for c in chunks])
    folded = [fold(c.text) for c in chunks]
    settings = Settings(_env_file=None, data_dir=tmp_path / "d", embedder="hashing")  # type: ignore[call-arg]
    stub = StubReader(0.8)
    stage = ReadStage(cast(Reader, stub), 4, 0.5)
    model = ans.load()
    item = items_of(tiny)[0]
    rows = instances(
        item, emb.embed_query(item.question), chunks, c_vecs, folded, model, stage, settings
    )
    assert [label for _, label in rows] == [1, 0]  # the chunks with the answer, then without
    assert all(f[2] == pytest.approx(logit(0.8)) for f, _ in rows) and stub.calls == 2
    cos = c_vecs @ emb.embed_query(item.question)
    assert rows[0][0][1] == pytest.approx(float(cos.max()))  # the top passage's dense cosine
    assert all(0 <= f[0] <= 1 for f, _ in rows)
    # a question the other checks refuse (its year is in no chunk) is not read and gives no row
    year = Item("星河港2031年的吞吐量是多少？", ("三千万吨",), item.article)
    assert not instances(
        year, emb.embed_query(year.question), chunks, c_vecs, folded, model, stage, settings
    )
    assert stub.calls == 2


def test_cross_validation_credits_the_reader_when_the_label_follows_it() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    X = np.column_stack(
        [
            rng.uniform(0, 1, n),
            rng.normal(0.85, 0.02, n),
            np.where(y == 1, 2.0, -2.0) + rng.normal(0, 1, n),
        ]
    )
    d = {"X": X, "y": y, "groups": np.arange(n) // 4}
    model = ans.load()
    cv = cross_validate(d, model, C=1.0)
    assert cv["with_reader_auroc"] > 0.9 > 0.7 > cv["refit_two_auroc"]
    assert cv["instances"] == n and cv["answerable"] == int(y.sum())
