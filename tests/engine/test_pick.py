"""The pick stage: the reader chooses the sentence that starts a same-language answer among the
best-ranked candidates (engine.read.ReadStage.choose), and its fitting (eval.reader_pick)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from core.embedders import HashingEmbedder
from core.records import Chunk, Passage
from core.settings import Settings
from core.store import QdrantStore
from engine import answerability
from engine.evidence import question_terms, select, split_sentences
from engine.pipeline import AnswerEngine
from engine.read import PickStage, ReadStage, _pick_stage, logit, span_in_sentence, window_of
from ingest.pipeline import Ingestor
from reader.runtime import Reader
from tests.conftest import write

TEXT = "第一句讲公司。员工每年有十五天带薪年假。年假须提前一周申请。病假须提交医院证明。"
QUESTION = "员工每年有多少天带薪年假？"


class TableReader:
    """Stands in for reader.runtime.Reader: P and span per window text (else 0.01, None)."""

    def __init__(self, table: dict[str, tuple[float, tuple[int, int] | None]]) -> None:
        self.table, self.calls = table, []  # type: list[list[str]]

    def score(
        self, question: str, windows: Sequence[str]
    ) -> list[tuple[float, tuple[int, int] | None]]:
        self.calls.append(list(windows))
        return [self.table.get(w, (0.01, None)) for w in windows]


def _sentences() -> list:  # noqa: ANN202
    chunk = Chunk("d1", 0, TEXT, 0, len(TEXT), "leave.md", "休假制度", ("public",))
    return split_sentences([Passage(chunk, 0.9, 0.85)])


def test_a_span_counts_only_inside_the_windows_own_sentence() -> None:
    s = _sentences()
    window = window_of(
        s[1]
    )  # 休假制度 / 第一句讲公司。员工每年有十五天带薪年假。年假须提前一周申请。
    at = window.text.index("十五天")
    assert span_in_sentence(window, (at, at + 3))
    assert not span_in_sentence(window, (window.text.index("一周"), window.text.index("申请")))
    assert not span_in_sentence(window, (0, 2))  # the title
    assert not span_in_sentence(window, None)


def test_the_pick_reads_the_best_ranked_candidates_and_weighs_rank_and_reader() -> None:
    s = _sentences()
    terms = question_terms(QUESTION)
    rank = [0.05, 0.6, 0.5, 0.4]
    table = {window_of(s[2]).text: (0.9, None), window_of(s[1]).text: (0.2, None)}
    reader = TableReader(table)
    stage = ReadStage(cast(Reader, reader), 2, 0.5, pick=PickStage((1.0, 1.0, 0.0), 2))
    picked = stage.choose(QUESTION, terms, s, rank)
    assert picked is not None
    first, reading = picked
    # logit 0.5 + logit 0.9 beats logit 0.6 + logit 0.2
    assert first is s[2]
    assert len(reader.calls) == 1 and len(reader.calls[0]) == 2  # the two best-ranked only
    assert reading.scores == (0.9, 0.2) and reading.windows[0].sentence is s[2]
    by_rank = ReadStage(cast(Reader, reader), 2, 0.5, pick=PickStage((1.0, 0.0, 0.0), 2))
    assert by_rank.choose(QUESTION, terms, s, rank)[0] is s[1]  # type: ignore[index]


def test_the_reader_span_in_the_sentence_can_decide_the_pick() -> None:
    s = _sentences()
    w1, w2 = window_of(s[1]), window_of(s[2])
    inside = w1.text.index("十五天")
    outside = w2.text.index("十五天")  # the answer is in w2's neighbour, not in s[2]
    reader = TableReader(
        {w1.text: (0.5, (inside, inside + 3)), w2.text: (0.5, (outside, outside + 3))}
    )
    stage = ReadStage(cast(Reader, reader), 2, 0.5, pick=PickStage((0.0, 0.0, 1.0), 3))
    first, _ = stage.choose(QUESTION, question_terms(QUESTION), s, [0.1, 0.4, 0.5, 0.3])  # type: ignore[misc]
    assert first is s[1]


def test_without_a_pick_stage_or_a_candidate_nothing_is_read() -> None:
    s = _sentences()
    reader = TableReader({})
    terms = question_terms(QUESTION)
    assert ReadStage(cast(Reader, reader), 2, 0.5).choose(QUESTION, terms, s, [0.5] * 4) is None
    stage = ReadStage(cast(Reader, reader), 2, 0.5, pick=PickStage((1.0, 1.0, 0.0), 3))
    assert stage.choose(QUESTION, terms, [], []) is None
    assert not reader.calls


def test_select_starts_the_evidence_at_the_given_first_sentence() -> None:
    s = _sentences()
    terms = question_terms(QUESTION)
    chosen = select(terms, s, 1, scores=[0.1, 0.8, 0.3, 0.2], first=s[2])
    assert [x.text for x in chosen.sentences] == ["年假须提前一周申请。"]
    assert chosen.answerability == 0.3  # its own p goes on to the decision
    assert select(terms, s, 1, scores=[0.1, 0.8, 0.3, 0.2]).sentences == (s[1],)


def test_the_engine_quotes_from_the_pick_and_decides_on_its_reading(
    tmp_path: Path, settings: Settings, store: QdrantStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import pipeline

    emb = HashingEmbedder()
    Ingestor(settings, store, emb).sync(
        [write(tmp_path / "docs", {"leave.md": f"# 休假制度\n\n{TEXT}\n"})]
    )
    seen = []
    real = pipeline.select

    def spy(terms, sentences, n, scores=None, rank=None, first=None):  # noqa: ANN001, ANN202
        seen.append(first)
        return real(terms, sentences, n, scores, rank, first)

    monkeypatch.setattr(pipeline, "select", spy)
    reader = TableReader({})
    stage = ReadStage(cast(Reader, reader), 2, 0.5, pick=PickStage((1.0, 1.0, 0.0), 3))
    engine = AnswerEngine(settings, store, emb, reader=stage)
    engine.model = answerability.load()  # the hashing embedder's cosines drop its ranking
    answer = engine.answer(QUESTION)
    assert len(reader.calls) == 1 and len(reader.calls[0]) == 3  # read once, for the pick
    (first,) = seen
    assert first is not None and any(first.text in w for w in reader.calls[0])
    assert answer.features["reader"] == 0.01 and "read" in answer.timings_ms
    # without a pick stage the engine reads nothing here (no decide stage, no veto)
    plain = AnswerEngine(settings, store, emb, reader=ReadStage(cast(Reader, reader), 2, 0.5))
    plain.model = answerability.load()
    plain.answer(QUESTION)
    assert len(reader.calls) == 1 and seen[-1] is None


def _fitted(**over: object) -> dict:
    return {
        "features": ["rank_logit", "reader_logit", "span_in_sentence"],
        "weights": [1.0, 0.4, 2.0],
        "candidates": 3,
        "answerability_sha256": hashlib.sha256(answerability.model_bytes()).hexdigest(),
        **over,
    }


def test_the_pick_stage_loads_only_as_fitted_and_when_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = dict(_env_file=None, data_dir=tmp_path / "data", embedder="hashing")
    settings = Settings(**base)  # type: ignore[arg-type]
    stage = _pick_stage(settings, _fitted())
    assert stage == PickStage((1.0, 0.4, 2.0), 3)
    assert stage.key([logit(0.5), logit(0.5), 1.0]) == pytest.approx(2.0)
    assert stage.key([logit(0.9), logit(0.2), 0.0]) == pytest.approx(logit(0.9) + 0.4 * logit(0.2))
    assert _pick_stage(settings, None) is None
    assert _pick_stage(Settings(**base, reader_pick=False), _fitted()) is None  # type: ignore[arg-type]
    assert _pick_stage(Settings(**base, answerability_model="off"), _fitted()) is None  # type: ignore[arg-type]
    other = tmp_path / "other.json"
    other.write_bytes(answerability.model_bytes() + b"\n")
    beside = Settings(**base, answerability_model=str(other))  # type: ignore[arg-type]
    with caplog.at_level("WARNING"):
        assert _pick_stage(beside, _fitted()) is None
    assert "another answerability model" in caplog.text
    with pytest.raises(ValueError, match="features"):
        _pick_stage(settings, _fitted(features=["rank_logit", "reader_logit"]))
    with pytest.raises(ValueError, match="weights"):
        _pick_stage(settings, _fitted(weights=[1.0, 0.4]))


def test_the_shipped_pick_stage_was_fitted_beside_the_shipped_answerability_model(
    tmp_path: Path,
) -> None:
    from engine.read import bundled

    calibration = json.loads(bundled().with_suffix(".json").read_text(encoding="utf-8"))
    settings = Settings(_env_file=None, data_dir=tmp_path, embedder="hashing")  # type: ignore[call-arg]
    stage = _pick_stage(settings, calibration["pick"])
    assert stage is not None and stage.candidates >= 2
    assert all(w > 0 for w in stage.weights)  # each input raises a candidate's chance
    cv = calibration["pick"]["cross_validation"]
    assert cv["picked_first"] > cv["ranking_first"]  # why it ships


def test_the_conditional_logit_learns_which_input_marks_the_answer() -> None:
    from eval.reader_pick import cross_validate, fit

    rng = np.random.default_rng(0)
    questions = []
    for q in range(200):
        X = rng.normal(size=(3, 3))
        y = np.zeros(3, int)
        y[int(np.argmax(2.0 * X[:, 1] + rng.normal(scale=0.3, size=3)))] = 1  # the reader's input
        questions.append(("f", f"a{q % 40}", X, y))
    w = fit([(X, y) for _, _, X, y in questions])
    assert w[1] > 1.0 and abs(w[0]) < 0.5 and abs(w[2]) < 0.5
    cv = cross_validate(questions)
    assert cv["questions"] == 200 and cv["picked_first"] > 0.8 > cv["ranking_first"]
    assert fit(
        [(X, np.zeros(3, int)) for _, _, X, _ in questions[:5]]
        + [(X, y) for _, _, X, y in questions[:50]]
    ).shape == (3,)


def _one_dev_question() -> dict:
    """A SQuAD-format file whose one article falls in the reader's dev split."""
    from reader.data import split_of

    title = next(f"t{i}" for i in range(1000) if split_of(f"DRCD_test/t{i}", 13, 0.1) == "dev")
    qa = {"id": "q", "question": "問題？", "answers": [{"text": "答案", "answer_start": 0}]}
    return {"data": [{"title": title, "paragraphs": [{"context": "答案。", "qas": [qa]}]}]}


def test_reader_pick_refuses_missing_data_and_too_few_candidates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from eval.reader_pick import main

    assert main(["--data", str(tmp_path)]) == 2
    assert "lacks" in capsys.readouterr().err
    for name in ("cmrc2018_dev", "cmrc2018_trial", "DRCD_test", "squad2_dev_part"):
        (tmp_path / f"{name}.json").write_text('{"data": []}', encoding="utf-8")
    assert main(["--data", str(tmp_path), "--candidates", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err
    assert main(["--data", str(tmp_path)]) == 2  # before any model is loaded
    assert "no answerable question" in capsys.readouterr().err
    monkeypatch.setenv("GQA_READER", "off")
    (tmp_path / "DRCD_test.json").write_text(json.dumps(_one_dev_question()), encoding="utf-8")
    assert main(["--data", str(tmp_path)]) == 2
    assert "needs the reader" in capsys.readouterr().err
    # the split is reader.data's: with no dev article there is no question to fit on
    assert main(["--data", str(tmp_path), "--dev-fraction", "0"]) == 2
    assert "no answerable question" in capsys.readouterr().err


@pytest.mark.slow
def test_the_bundled_reader_picks_the_answer_the_answerability_model_ranks_second(
    bundled_reader: ReadStage,
) -> None:
    stage = bundled_reader
    assert stage.pick is not None
    text = (
        "灯塔位于港口北侧的山丘上，是港口的标志性建筑。灯塔建成于光绪十年，由英国工程师设计。"
        "灯塔高三十米，每晚亮灯。"
    )
    chunk = Chunk("d1", 0, text, 0, len(text), "lh.md", "港口灯塔", ("public",))
    s = split_sentences([Passage(chunk, 0.9, 0.88)])
    question = "港口的灯塔是什么时候建成的？"
    terms = question_terms(question)
    model = answerability.load()
    p = model.probabilities(
        answerability.sentence_features(answerability.analyse(terms, question), s)
    )
    rank = model.ranking(p, [x.passage.dense_score for x in s])
    assert max(range(3), key=lambda i: rank[i]) == 0  # the topic sentence ranks first
    picked = stage.choose(question, terms, s, rank)
    assert picked is not None and picked[0] is s[1]  # "灯塔建成于光绪十年，…"
