"""Reader training data: windows, labels, negatives, perturbations, the split by article."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from reader import data
from reader.data import EntityPool, Example


def _squad(articles: list[dict]) -> dict:
    return {"version": "v2.0", "data": articles}


ZH_CONTEXT = (
    "北京大学创建于1898年。初名京师大学堂。它是中国近代第一所国立综合性大学。校园位于北京海淀区。"
)
EN_CONTEXT = (
    "The Normans gave their name to Normandy. They arrived in 911 under Rollo. "
    "Their dukes ruled until 1204. Paris was far away."
)


def _zh_article(title: str = "北京大学", context: str = ZH_CONTEXT) -> dict:
    start = context.index("1898")
    return {
        "title": title,
        "paragraphs": [
            {
                "context": context,
                "qas": [
                    {
                        "id": "z1",
                        "question": "北京大学创建于哪一年？",
                        "answers": [{"text": "1898年", "answer_start": start}],
                    }
                ],
            }
        ],
    }


def test_windows_are_sentence_with_neighbours_and_title() -> None:
    ws = data.windows("T", "one. two. three. four.")
    assert [w.text for w in ws] == [
        "T\none. two.",
        "T\none. two. three.",
        "T\ntwo. three. four.",
        "T\nthree. four.",
    ]


def test_positive_and_other_window_examples_exactly(tmp_path: Path) -> None:
    (tmp_path / "cmrc2018_dev.json").write_text(json.dumps(_squad([_zh_article()])), "utf-8")
    paras = data.read_squad(tmp_path / "cmrc2018_dev.json", "cmrc2018_dev")
    exs = list(data.examples_for(paras, EntityPool(), seed=1, other_windows=5))
    pos = exs[0]
    assert pos == Example(
        "z1",
        "cmrc2018_dev",
        "cmrc2018_dev/北京大学",
        "北京大学创建于哪一年？",
        "北京大学\n北京大学创建于1898年。初名京师大学堂。",
        True,
        (12, 17),
        "positive",
    )
    assert pos.window[pos.span[0] : pos.span[1]] == "1898年"
    others = [e for e in exs if e.kind == "other_window"]
    # four windows; the first two contain the answer, the other two do not
    assert sorted(e.window for e in others) == sorted(
        [
            "北京大学\n初名京师大学堂。它是中国近代第一所国立综合性大学。校园位于北京海淀区。",
            "北京大学\n它是中国近代第一所国立综合性大学。校园位于北京海淀区。",
        ]
    )
    assert all(not e.answerable and e.span is None and "1898" not in e.window for e in others)


def test_squad2_unanswerable_uses_the_plausible_answer_window(tmp_path: Path) -> None:
    art = {
        "title": "Normans",
        "paragraphs": [
            {
                "context": EN_CONTEXT,
                "qas": [
                    {
                        "id": "u1",
                        "question": "Who ruled Paris in 1204?",
                        "answers": [],
                        "plausible_answers": [
                            {"text": "dukes", "answer_start": EN_CONTEXT.index("dukes")}
                        ],
                        "is_impossible": True,
                    }
                ],
            }
        ],
    }
    (tmp_path / "squad2_dev_part.json").write_text(json.dumps(_squad([art])), "utf-8")
    paras = data.read_squad(tmp_path / "squad2_dev_part.json", "squad2_dev_part")
    (ex,) = data.examples_for(paras, EntityPool())
    assert ex.kind == "squad2_unanswerable" and not ex.answerable
    assert (
        ex.window
        == "Normans\nThey arrived in 911 under Rollo. Their dukes ruled until 1204. Paris was far away."
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("三", 3), ("十二", 12), ("二十五", 25), ("一百零八", 108), ("两", 2), ("百", 100)],
)
def test_chinese_numerals_round_trip(text: str, value: int) -> None:
    assert data.cn_to_int(text) == value
    if text not in ("两", "百"):
        assert data.int_to_cn(value) == text


def test_year_perturbation_changes_the_year_to_one_the_window_lacks() -> None:
    window = "报告\n2021年全国粮食产量为6.8亿吨。2020年为6.7亿吨。"
    new = data.perturb_number("2021年全国粮食产量是多少？", window, random.Random(0))
    assert new is not None
    question, value = new
    assert len(value) == 4 and value not in window and value != "2021"
    assert question == f"{value}年全国粮食产量是多少？"


def test_chinese_numeral_perturbation() -> None:
    window = "T\n他在第三届大会上发言。"
    new = data.perturb_number("他在第三届大会上做了什么？", window, random.Random(3))
    assert new is not None and new[1] not in window and data.cn_to_int(new[1]) not in (None, 3)


def test_no_number_perturbation_when_the_window_lacks_the_number() -> None:
    assert data.perturb_number("2021年的产量？", "T\n2019年的产量是5吨。", random.Random(0)) is None


def test_perturbed_value_is_never_in_the_window() -> None:
    rng = random.Random(0)
    for _ in range(300):
        year = rng.randrange(1990, 2030)
        nearby = [str(year + d) for d in range(-3, 4) if rng.random() < 0.6]
        window = f"T\n{year}年的收入为{rng.randrange(2, 9)}亿元。" + "，".join(nearby)
        new = data.perturb_number(f"{year}年的收入是多少？", window, rng)
        if new is not None:
            assert new[1] not in window
            assert new[0] != f"{year}年的收入是多少？"


def test_entity_swap_takes_a_same_kind_entity_from_another_article() -> None:
    pool = EntityPool()
    pool.add("en", "name", "Rollo", "a")
    pool.add("en", "name", "Charlemagne", "b")
    pool.add("en", "name", "Paris", "b")  # in the window: never used
    pool.freeze()
    window = "Normans\nThey arrived in 911 under Rollo. Paris was far away."
    new = data.perturb_entity("When did Rollo arrive?", window, "a", "en", pool, random.Random(0))
    assert new == ("When did Charlemagne arrive?", "Charlemagne")


def test_chinese_entities_from_jieba() -> None:
    found = data.entities("周杰伦在台北开演唱会是哪一年？", "zh")
    kinds = dict(found)
    assert kinds.get("台北") == "place"


def test_split_is_by_article_and_deterministic(tmp_path: Path) -> None:
    arts = [_zh_article(title=f"文章{i}") for i in range(40)]
    for i, a in enumerate(arts):
        a["paragraphs"][0]["qas"][0]["id"] = f"q{i}"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cmrc2018_dev.json").write_text(json.dumps(_squad(arts)), "utf-8")
    stats = data.build(tmp_path / "in", tmp_path / "a", seed=5, dev_fraction=0.3)
    data.build(tmp_path / "in", tmp_path / "b", seed=5, dev_fraction=0.3)
    for part in ("train", "dev"):
        assert (tmp_path / "a" / f"{part}.jsonl").read_bytes() == (
            tmp_path / "b" / f"{part}.jsonl"
        ).read_bytes()
    train = {e.article for e in data.read_examples(tmp_path / "a" / "train.jsonl")}
    dev = {e.article for e in data.read_examples(tmp_path / "a" / "dev.jsonl")}
    assert train and dev and not train & dev
    assert stats["dev"]["articles"] == len(dev) and stats["train"]["articles"] == len(train)
    assert stats["train"]["total"] + stats["dev"]["total"] == sum(
        len(data.read_examples(tmp_path / "a" / f"{p}.jsonl")) for p in ("train", "dev")
    )
    data.build(tmp_path / "in", tmp_path / "c", seed=6, dev_fraction=0.3)
    dev6 = {e.article for e in data.read_examples(tmp_path / "c" / "dev.jsonl")}
    assert dev6 != dev  # the seed matters


def test_a_lone_yi_is_not_a_number() -> None:
    window = "T\n他最早定义了这一概念。"
    assert data.perturb_number("谁最早定义了这一概念？", window, random.Random(0)) is None


def test_entity_swaps_stay_in_their_source_file(tmp_path: Path) -> None:
    pool = EntityPool()
    pool.add("DRCD_test", "place", "波蘭", "DRCD_test/x")
    pool.add("cmrc2018_dev", "place", "法国", "cmrc2018_dev/y")
    pool.freeze()
    window = "T\n公司在台湾上市。"
    new = data.perturb_entity(
        "公司在台湾上市募集了多少？", window, "a", "zh", pool, random.Random(0), "cmrc2018_dev"
    )
    assert new is not None and new[1] == "法国"


def _xquad(tmp_path: Path, zh_question: str = "他们哪一年到达？") -> dict[str, str]:
    """A one-paragraph XQuAD pair in tmp_path; returns the files' sha256 digests."""
    import hashlib

    zh = "诺曼人把名字给了诺曼底。他们于911年在罗洛的带领下到来。他们的公爵统治到1204年。巴黎很远。"
    files = {
        "en": (EN_CONTEXT, "In what year did they arrive?", "911", EN_CONTEXT.index("911")),
        "zh": (zh, zh_question, "911年", zh.index("911年")),
    }
    digests = {}
    for lang, (context, question, answer, start) in files.items():
        qa = {
            "id": "x1",
            "question": question,
            "answers": [{"text": answer, "answer_start": start}],
        }
        art = {"title": "Normans", "paragraphs": [{"context": context, "qas": [qa]}]}
        raw = json.dumps(_squad([art]), ensure_ascii=False).encode()
        (tmp_path / f"xquad.{lang}.json").write_bytes(raw)
        digests[lang] = hashlib.sha256(raw).hexdigest()
    return digests


def test_xquad_gives_each_question_in_the_other_language_than_its_window(tmp_path: Path) -> None:
    paras = data.read_xquad(tmp_path, _xquad(tmp_path))
    assert [p.source for p in paras] == list(data.CROSS_SOURCES)
    assert {p.article for p in paras} == {"xquad/Normans"}  # one article: one side of the split
    exs = list(data.examples_for(paras, data.build_pool(paras), seed=1))
    pos = {e.source: e for e in exs if e.kind == "positive"}
    en2zh, zh2en = pos["xquad_en2zh"], pos["xquad_zh2en"]
    assert en2zh.question == "In what year did they arrive?" and "罗洛" in en2zh.window
    assert en2zh.window[en2zh.span[0] : en2zh.span[1]] == "911年"  # type: ignore[index]
    assert zh2en.question == "他们哪一年到达？" and "Rollo" in zh2en.window
    assert zh2en.window[zh2en.span[0] : zh2en.span[1]] == "911"  # type: ignore[index]
    assert {e.id.split("#")[0] for e in exs} == {"x1:xquad_en2zh", "x1:xquad_zh2en"}
    assert any(e.kind == "other_window" and not e.answerable for e in exs)


def test_xquad_files_that_are_not_the_pinned_ones_or_do_not_align_are_refused(
    tmp_path: Path,
) -> None:
    _xquad(tmp_path)
    with pytest.raises(ValueError, match="not XQuAD"):
        data.read_xquad(tmp_path)  # the real files' digests
    digests = _xquad(tmp_path)
    en = json.loads((tmp_path / "xquad.en.json").read_text("utf-8"))
    en["data"][0]["paragraphs"][0]["qas"][0]["id"] = "other"
    raw = json.dumps(en).encode()
    (tmp_path / "xquad.en.json").write_bytes(raw)
    import hashlib

    digests["en"] = hashlib.sha256(raw).hexdigest()
    with pytest.raises(ValueError, match="questions differ"):
        data.read_xquad(tmp_path, digests)


def test_terms_are_chinese_bigrams_and_lowercased_words() -> None:
    assert data.terms("北京大学 in Beijing, 1898年") == {
        "北京",
        "京大",
        "大学",
        "年",
        "in",
        "beijing",
        "1898",
    }


HARD_CONTEXT = (
    "校园位于北京海淀区。北京大学创建于1898年。初名京师大学堂。学校有很多学生。食堂很大。"
    "操场也很大。图书馆藏书很多。创建者希望它成为全国最高学府。今天它仍然很有名。游客也很多。"
)


def _paragraphs(tmp_path: Path, articles: list[dict]) -> list[data.Paragraph]:
    (tmp_path / "cmrc2018_dev.json").write_text(json.dumps(_squad(articles)), "utf-8")
    return data.read_squad(tmp_path / "cmrc2018_dev.json", "cmrc2018_dev")


def test_hard_window_shares_the_most_question_terms_without_the_answer(tmp_path: Path) -> None:
    paras = _paragraphs(tmp_path, [_zh_article(context=HARD_CONTEXT)])
    exs = list(data.examples_for(paras, EntityPool(), seed=1, other_windows=0, hard_windows=1))
    (hard,) = [e for e in exs if e.kind == "hard_window"]
    # 创建 of the question is in the windows around the founder's sentence, not in the others
    assert "创建者" in hard.window and "1898" not in hard.window
    assert not hard.answerable and hard.span is None and hard.id == "z1#h0"


def test_hard_window_is_not_one_of_the_random_other_windows(tmp_path: Path) -> None:
    paras = _paragraphs(tmp_path, [_zh_article(context=HARD_CONTEXT)])
    exs = list(data.examples_for(paras, EntityPool(), seed=1, other_windows=7, hard_windows=1))
    others = {e.window for e in exs if e.kind == "other_window"}
    assert len(others) == 7  # every window without the answer ...
    assert [e for e in exs if e.kind == "hard_window"] == []  # ... so none is left to add


def test_new_kinds_leave_the_earlier_examples_as_they_were(tmp_path: Path) -> None:
    paras = _paragraphs(tmp_path, [_zh_article(context=HARD_CONTEXT)])
    before = list(data.examples_for(paras, EntityPool(), seed=1))
    after = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=2, other_articles=1))
    assert [e for e in after if e.kind not in ("hard_window", "other_article")] == before
    assert len([e for e in after if e.kind == "hard_window"]) == 2


def _other_articles(tmp_path: Path, seed: int, dev_fraction: float | None) -> list[Example]:
    tsinghua = {
        "title": "清华大学",
        "paragraphs": [{"context": "清华大学创建于1911年。它位于北京。", "qas": []}],
    }
    river = {"title": "长江", "paragraphs": [{"context": "长江是中国最长的河流。", "qas": []}]}
    paras = _paragraphs(tmp_path, [_zh_article(), river, tsinghua])
    exs = data.examples_for(
        paras, EntityPool(), seed, other_windows=0, other_articles=2, dev_fraction=dev_fraction
    )
    return [e for e in exs if e.kind == "other_article"]


def test_other_article_is_a_same_subject_window_of_another_article(tmp_path: Path) -> None:
    (ex,) = _other_articles(tmp_path, seed=1, dev_fraction=None)
    assert ex.window.startswith("清华大学\n清华大学创建于1911年。")  # 长江 shares no term
    assert not ex.answerable and ex.article == "cmrc2018_dev/北京大学" and ex.id == "z1#a0"


def test_other_article_comes_from_the_questions_own_split(tmp_path: Path) -> None:
    a, b = "cmrc2018_dev/北京大学", "cmrc2018_dev/清华大学"
    apart = next(s for s in range(200) if data.split_of(a, s, 0.5) != data.split_of(b, s, 0.5))
    together = next(s for s in range(200) if data.split_of(a, s, 0.5) == data.split_of(b, s, 0.5))
    assert _other_articles(tmp_path, apart, 0.5) == []
    assert len(_other_articles(tmp_path, together, 0.5)) == 1


@pytest.mark.parametrize(
    ("question", "language", "form"),
    [
        ("锣鼓经是什么？", "zh", "锣鼓经"),
        ("北京大学创建于哪一年？", "zh", "北京大学创建于"),
        ("《人世间》的编剧是谁", "zh", "《人世间》的编剧"),
        ("負責管理馬祖國家風景區的單位為？", "zh", "負責管理馬祖國家風景區的單位"),
        ("入职满6年的员工每年可以休几天带薪年假？", "zh", "入职满6年的员工每年可以休几天带薪年假"),
        ("2022年高考报名人数", "zh", "2022年高考报名人数"),
        ("谁？", "zh", "谁"),
        (
            "What tractor was produced in Charles City, Iowa?",
            "en",
            "what tractor was produced in charles city, iowa",
        ),
    ],
)
def test_query_form_is_the_question_as_typed_into_a_search_box(
    question: str, language: str, form: str
) -> None:
    assert data.query_form(question, language) == form


def test_query_forms_repeat_a_questions_examples_with_its_query_form(tmp_path: Path) -> None:
    paras = _paragraphs(tmp_path, [_zh_article(context=HARD_CONTEXT)])
    before = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1))
    after = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1, query_forms=1.0))
    assert after[: len(before)] == before
    again = after[len(before) :]
    assert [(e.id, e.window, e.answerable, e.span, e.kind) for e in again] == [
        (f"{e.id}~q", e.window, e.answerable, e.span, e.kind) for e in before
    ]
    assert {e.question for e in again} == {"北京大学创建于"}
    none = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1, query_forms=0.0))
    assert none == before


def test_answer_removed_is_the_answers_context_without_its_sentence(tmp_path: Path) -> None:
    paras = _paragraphs(tmp_path, [_zh_article(context=HARD_CONTEXT)])
    exs = list(data.examples_for(paras, EntityPool(), seed=1, answer_removed=True))
    (ex,) = [e for e in exs if e.kind == "answer_removed"]
    # the three sentences nearest 北京大学创建于1898年。 (one before, two after), in their order
    assert ex.window == "北京大学\n校园位于北京海淀区。初名京师大学堂。学校有很多学生。"
    assert not ex.answerable and ex.span is None and ex.id == "z1#r"
    before = list(data.examples_for(paras, EntityPool(), seed=1))
    assert [e for e in exs if e.kind != "answer_removed"] == before


def test_answer_removed_skips_sentences_that_also_hold_the_answer(tmp_path: Path) -> None:
    context = "北京大学创建于1898年。1898年是戊戌年。初名京师大学堂。"
    paras = _paragraphs(tmp_path, [_zh_article(context=context)])
    (ex,) = [
        e
        for e in data.examples_for(paras, EntityPool(), seed=1, answer_removed=True)
        if e.kind == "answer_removed"
    ]
    assert ex.window == "北京大学\n初名京师大学堂。"
    only = _paragraphs(tmp_path, [_zh_article(context="北京大学创建于1898年。")])
    exs = data.examples_for(only, EntityPool(), seed=1, answer_removed=True)
    assert [e for e in exs if e.kind == "answer_removed"] == []  # nothing else to show


def _english_squad2_part(tmp_path: Path) -> list[data.Paragraph]:
    art = {
        "title": "Normans",
        "paragraphs": [
            {
                "context": EN_CONTEXT,
                "qas": [
                    {
                        "id": "s1",
                        "question": "In what year did they arrive?",
                        "answers": [{"text": "911", "answer_start": EN_CONTEXT.index("911")}],
                    }
                ],
            }
        ],
    }
    (tmp_path / "squad2_dev_part.json").write_text(json.dumps(_squad([art])), "utf-8")
    return data.read_squad(tmp_path / "squad2_dev_part.json", "squad2_dev_part")


def test_answer_removed_joins_english_sentences_with_a_space(tmp_path: Path) -> None:
    paras = _english_squad2_part(tmp_path)
    (ex,) = [
        e
        for e in data.examples_for(paras, EntityPool(), seed=1, answer_removed=True)
        if e.kind == "answer_removed"
    ]
    assert ex.window == (
        "Normans\nThe Normans gave their name to Normandy. Their dukes ruled until 1204. "
        "Paris was far away."
    )


def test_answer_cut_is_the_answering_window_without_the_answer_text(tmp_path: Path) -> None:
    paras = _paragraphs(tmp_path, [_zh_article(context=HARD_CONTEXT)])
    exs = list(data.examples_for(paras, EntityPool(), seed=1, answer_cut=True))
    (pos,) = [e for e in exs if e.kind == "positive"]
    (ex,) = [e for e in exs if e.kind == "answer_cut"]
    # the positive's own window, every word of it but the asked year
    assert pos.window == "北京大学\n校园位于北京海淀区。北京大学创建于1898年。初名京师大学堂。"
    assert ex.window == "北京大学\n校园位于北京海淀区。北京大学创建于。初名京师大学堂。"
    assert not ex.answerable and ex.span is None and ex.id == "z1#c"
    before = list(data.examples_for(paras, EntityPool(), seed=1))
    assert [e for e in exs if e.kind != "answer_cut"] == before


def test_answer_cut_tidies_english_spaces_and_cuts_every_occurrence(tmp_path: Path) -> None:
    paras = _english_squad2_part(tmp_path)
    (ex,) = [
        e for e in data.examples_for(paras, EntityPool(), seed=1, answer_cut=True) if e.id == "s1#c"
    ]
    assert ex.window == (
        "Normans\nThe Normans gave their name to Normandy. They arrived in under Rollo. "
        "Their dukes ruled until 1204."
    )
    assert (
        data.cut_answer("T\nHeld in Oslo , and Oslo again.", ["Oslo"], 2)
        == "T\nHeld in, and again."
    )


@pytest.mark.parametrize(
    ("window", "answers"),
    [
        ("T\nHeld in Oslo.", ["O"]),  # one character: it would cut into other words
        ("Oslo\nHeld in Oslo.", ["Oslo"]),  # the title states it still
        ("T\nThe winner was Mary Smith.", ["The winner was Mary"]),  # over a third of the body
        ("T\nHeld in Oslo.", ["Bergen"]),  # not in the window: nothing cut
    ],
)
def test_answer_cut_is_not_made_where_too_little_would_be_left(
    window: str, answers: list[str]
) -> None:
    assert data.cut_answer(window, answers, window.index("\n") + 1) is None


def test_without_title_drops_the_title_line_and_moves_the_span() -> None:
    ex = Example(
        "a", "s", "art", "q", "北京大学\n北京大学创建于1898年。", True, (12, 17), "positive"
    )
    out = data.without_title(ex)
    assert out.window == "北京大学创建于1898年。" and out.window[slice(*out.span)] == "1898年"
    assert data.without_title(replace(ex, span=None, answerable=False)).span is None
    in_title = replace(ex, window="1898年\n北京大学创建于1898年。", span=(0, 5))
    assert data.without_title(in_title) == in_title  # the answer is in the title: kept
    assert data.without_title(replace(ex, window="无标题")) == replace(ex, window="无标题")


def test_untitled_replaces_a_seeded_share_of_windows_and_leaves_the_rest(tmp_path: Path) -> None:
    paras = _paragraphs(tmp_path, [_zh_article(context=HARD_CONTEXT)])
    before = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1))
    every = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1, untitled=1.0))
    assert every == [data.without_title(e) for e in before]
    assert all(not e.window.startswith("北京大学\n") for e in every)
    some = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1, untitled=0.5))
    again = list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1, untitled=0.5))
    assert some == again  # seeded per example
    assert all(s in (b, data.without_title(b)) for s, b in zip(some, before, strict=True))
    assert list(data.examples_for(paras, EntityPool(), seed=1, hard_windows=1)) == before


def _squad2_zh(tmp_path: Path, question_id: str) -> tuple[Path, str]:
    """A one-paragraph ChineseSquad-like file (an answerable question and an unanswerable one
    without plausible answers, as the real file has them); returns its path and sha256."""
    import hashlib

    zh = "诺曼人把名字给了诺曼底。他们于911年在罗洛的带领下到来。他们的公爵统治到1204年。巴黎很远。"
    qas = [
        {
            "id": question_id,
            "question": "诺曼人哪一年到达？",
            "answers": [{"text": "911年", "answer_start": zh.index("911年")}],
            "is_impossible": False,
        },
        {"id": "u9", "question": "谁统治巴黎到1204年？", "answers": [], "is_impossible": True},
    ]
    art = {"title": "诺曼人", "paragraphs": [{"context": zh, "qas": qas}]}
    raw = json.dumps(_squad([art]), ensure_ascii=False).encode()
    path = tmp_path / "dev-v2.0-zh.json"
    path.write_bytes(raw)
    return path, hashlib.sha256(raw).hexdigest()


def test_squad2_zh_shares_the_split_with_its_english_article(tmp_path: Path) -> None:
    en = _english_squad2_part(tmp_path)
    path, digest = _squad2_zh(tmp_path, "s1")  # the English question's id: the same article
    (zh,) = data.read_squad2_zh(path, en, digest)
    assert zh.source == "squad2_zh" and zh.article == "squad2_dev_part/Normans"
    assert [q.id for q in zh.questions] == ["s1:zh", "u9:zh"]  # unique beside the English ids
    path, digest = _squad2_zh(tmp_path, "s7")  # an article the English part lacks
    (zh,) = data.read_squad2_zh(path, en, digest)
    assert zh.article == "squad2_zh/诺曼人"
    with pytest.raises(ValueError, match="not ChineseSquad"):
        data.read_squad2_zh(path, en)  # the real file's digest


def test_chinese_unanswerable_without_plausible_answer_takes_the_window_sharing_most_bigrams(
    tmp_path: Path,
) -> None:
    path, digest = _squad2_zh(tmp_path, "s7")
    paras = data.read_squad2_zh(path, [], digest)
    exs = list(data.examples_for(paras, data.build_pool(paras), seed=1))
    (un,) = [e for e in exs if e.kind == "squad2_unanswerable"]
    # "统治", "巴黎", "1204" are in the last two sentences; a whole-run word match finds none
    assert un.window == "诺曼人\n他们于911年在罗洛的带领下到来。他们的公爵统治到1204年。巴黎很远。"
    assert not un.answerable and un.span is None
    assert any(e.kind == "positive" and e.id == "s7:zh" for e in exs)


def test_absent_share_counts_the_content_words_the_window_lacks() -> None:
    window = "北京大学\n北京大学创建于1898年。"
    assert data.absent_share("北京大学创建于哪一年？", window, "zh") == 0.0  # 哪一年 asks
    # 成立 and 时间 are not in the window, 北京大学 is
    assert data.absent_share("北京大学成立时间是哪一年？", window, "zh") == pytest.approx(2 / 3)
    en = "Normans\nThe Normans arrived in 911 under Rollo."
    assert data.absent_share("When did the Normans arrive?", en, "en") == 0.0
    assert data.absent_share("Who was the Norman leader?", en, "en") == pytest.approx(0.5)
    assert data.absent_share("什么？", window, "zh") == 0.0  # no content word


def test_absent_boost_repeats_train_positives_by_the_words_their_window_lacks(
    tmp_path: Path,
) -> None:
    arts = [_zh_article(title=f"文章{i}") for i in range(30)]
    for i, a in enumerate(arts):
        qa = a["paragraphs"][0]["qas"][0]
        qa["id"] = f"q{i}"
        if i % 2:  # half the questions in other words: 北京大学 there, 成立 and 时间 not
            qa["question"] = "北京大学成立时间是哪一年？"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cmrc2018_dev.json").write_text(json.dumps(_squad(arts)), "utf-8")
    plain = data.build(tmp_path / "in", tmp_path / "a", seed=5, dev_fraction=0.3)
    boosted = data.build(tmp_path / "in", tmp_path / "b", seed=5, dev_fraction=0.3, absent_boost=3)
    # the dev split stays as it is, so readers are compared on the same pairs
    assert (tmp_path / "a" / "dev.jsonl").read_bytes() == (
        tmp_path / "b" / "dev.jsonl"
    ).read_bytes()
    before = data.read_examples(tmp_path / "a" / "train.jsonl")
    after = data.read_examples(tmp_path / "b" / "train.jsonl")
    assert [e for e in after if "*" not in e.id] == before
    extra = [e for e in after if "*" in e.id]
    other_words = [e for e in before if e.kind == "positive" and "成立" in e.question]
    assert other_words and len(extra) == 2 * len(other_words)  # round(3 * 2/3)
    assert {e.id for e in extra} == {f"{e.id}*{n}" for e in other_words for n in (1, 2)}
    assert all(e.answerable and e.kind == "positive" for e in extra)
    assert boosted["train"]["positive_repeated"] == len(extra)
    assert boosted["train"]["total"] == plain["train"]["total"] + len(extra)
