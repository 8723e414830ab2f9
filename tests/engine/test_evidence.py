"""Evidence selection and the refusal decision on hand-made passages (no store)."""

import pytest

from core.records import Chunk, Passage
from core.text import fold
from engine.decide import LOW_SUPPORT, NO_EVIDENCE, NO_VALUE, NOT_COVERED, decide, message
from engine.evidence import (
    answers_kind,
    conflicts,
    contains,
    judged_wants,
    question_terms,
    select,
    split_sentences,
    unstated_numbers,
)


def passages(*texts: str) -> list[Passage]:
    out, pos = [], 0
    for i, t in enumerate(texts):
        out.append(
            Passage(
                Chunk("d", i, t, pos, pos + len(t), "d", "d", ("everyone",)), 1.0 / (i + 1), 0.8
            )
        )
        pos += len(t)
    return out


def evidence(question: str, *texts: str):  # noqa: ANN201
    return select(question_terms(question), split_sentences(passages(*texts)), 3)


def answer_of(question: str, *texts: str) -> tuple[str, str | None]:
    ev = evidence(question, *texts)
    d = decide(ev, 0.8, 0.6, 0.0)
    return "".join(s.text for s in ev.sentences), d.reason


BUDGET = "2024年研发预算为1200万元。市场预算为300万元。预算由财务部周敏审批。"


@pytest.mark.parametrize(
    ("question", "expect_in_answer"),
    [
        ("2024年研发预算是多少？", "1200万元"),
        ("研发预算多少钱", "1200万元"),
        ("预算由谁审批？", "周敏"),
    ],
)
def test_answers_from_the_sentence_that_covers_the_question(
    question: str, expect_in_answer: str
) -> None:
    text, reason = answer_of(question, BUDGET)
    assert reason is None
    assert expect_in_answer in text


@pytest.mark.parametrize(
    ("question", "reason", "missing"),
    [
        ("2023年研发预算是多少？", NOT_COVERED, "2023"),  # wrong year
        ("Nimbus X3 的续航是多少？", NOT_COVERED, "x3"),  # other model
        ("王建国负责审批预算吗？", NOT_COVERED, "王建国"),  # person not in evidence
    ],
)
def test_same_topic_traps_refuse_naming_what_is_missing(
    question: str, reason: str, missing: str
) -> None:
    ev = evidence(question, BUDGET, "Nimbus X2 的续航为12小时。")
    d = decide(ev, 0.8, 0.6, 0.0)
    assert d.refused and d.reason == reason
    assert any(missing in m.lower() for m in d.missing)


def test_low_coverage_refuses() -> None:
    _, reason = answer_of("员工食堂的早餐供应时间", BUDGET)
    assert reason == LOW_SUPPORT


def test_the_documents_title_counts_toward_coverage() -> None:
    question = "what was the purpose of the reichstag fire"
    sentence = "Historians hold that the arson was planned by the new government to seize power."

    def chosen(title: str):  # noqa: ANN202
        chunk = Chunk("d", 0, sentence, 0, len(sentence), "d", title, ("everyone",))
        sents = split_sentences([Passage(chunk, 1.0, 0.8)])
        return select(question_terms(question), sents, 1, scores=[0.9])

    about = chosen("Reichstag fire")
    assert [s.text for s in about.sentences] == [sentence]
    assert about.coverage > 0.4 and not decide(about, 0.8, 0.4, 0.0).refused
    elsewhere = chosen("Weimar Republic")  # the same sentence in a document about something else
    assert elsewhere.sentences == () and decide(elsewhere, 0.8, 0.4, 0.0).reason == LOW_SUPPORT


def test_no_passages_is_no_evidence_and_message_follows_the_script() -> None:
    d = decide(None, 0.0, 0.6, 0.0)
    assert d.reason == NO_EVIDENCE
    assert message(d, "zh-Hant") == "沒有找到能回答這個問題的文件。"
    assert message(d, "en").startswith("No document")


@pytest.mark.parametrize(
    ("text", "number", "found"),
    [
        ("根据2012年七月的人口普查", "7", True),
        ("二十一世纪初", "21", True),
        ("十二月召开", "12", True),
        ("十七日召开", "7", False),  # part of a larger numeral
        ("入职满两年的员工", "2", True),
        ("一百人参加", "100", True),
        ("七十周年", "7", False),
    ],
)
def test_small_numbers_match_their_chinese_numerals(text: str, number: str, found: bool) -> None:
    assert contains(fold(text), number) is found


@pytest.mark.parametrize(
    ("text", "number", "found"),
    [
        ("Three Little Birds is a song by Bob Marley", "3", True),
        ("At a four-way stop, the first car to arrive goes first", "4", True),
        ("February has twenty-eight days in a common year", "28", True),
        ("February has twenty eight days", "28", True),
        ("twenty-eight", "20", False),  # part of a larger numeral
        ("a threefold rise", "3", False),  # part of a word
        ("someone said so", "1", False),  # "one" is mostly no number: 1 is left out
    ],
)
def test_small_numbers_match_their_english_words(text: str, number: str, found: bool) -> None:
    assert contains(fold(text), number) is found


def test_first_matches_shou_before_a_measure_word() -> None:
    assert contains(fold("首任校长为郭沫若。"), "第一")
    assert not contains(fold("首先，学校扩建了校区。"), "第一")


def test_a_word_jieba_glues_onto_a_name_is_not_part_of_it() -> None:
    critical = {f for _, f in question_terms("孫恩曾於400年五月時殺害了誰?").critical}
    assert "孙恩" in critical and "孙恩曾" not in critical
    # 何 is a surname, but 因何 asks: "因何原因" names no one
    assert question_terms("鄭成功因何原因作罷?").critical == ()


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("How long is the warranty of the lock?", "the lock has a warranty of 2 years."),
        ("Which city in Germany hosts the fair?", "a city in germany hosts the fair."),
        ("What are the warranties?", "all warranties last 2 years."),
    ],
)
def test_english_stems_ending_in_i_match_the_y_form(question: str, text: str) -> None:
    # Snowball stems "warranty" to "warranti", not a substring of "warranty" itself
    terms = question_terms(question)
    assert all(contains(text, t) for t in terms.weights), terms.weights
    assert not contains("the lock has a warrant.", "warranti")


def test_numbers_match_whole_numbers_only() -> None:
    ev = evidence("预算是否为200万元？", "市场预算为1200万元。")
    assert ev.missing_critical == ("200",)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("入职未满5年的员工每年享有10个工作日的带薪年假。", True),  # 3 < 5
        ("入职满5年但未满10年的员工每年享有15个工作日的带薪年假。", False),
        ("入职满10年及以上的员工每年享有20个工作日的带薪年假。", False),
        ("结转的年假须在次年3月31日前休完。", False),  # 3 with another unit
        ("工作满3年的员工可申请。", True),
        ("工作三年以上。", True),  # its Chinese numeral, 以上 read as a bound too
        ("服务年限在2至4年之间的员工。", True),
        ("工作年限超过5年。", False),  # > 5
    ],
)
def test_a_number_asked_with_a_unit_matches_that_unit_or_a_range_holding_it(
    text: str, found: bool
) -> None:
    terms = question_terms("入职满3年的员工每年可以休几天带薪年假？")
    assert terms.units == {"3": "年"}
    assert terms.has(fold(text), "3") is found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("入职满5年但未满10年的员工每年享有15个工作日的带薪年假。", True),  # across languages
        ("Employees with 5 to 10 years of service get 15 days.", True),
        ("Employees with at least 5 years of service get 15 days.", True),
        ("Employees with less than 5 years of service get 10 days.", False),
        ("The probation period is 6 months.", False),  # 6 with another unit
    ],
)
def test_english_units_and_ranges(text: str, found: bool) -> None:
    terms = question_terms("How many days of leave do employees with 6 years of service get?")
    assert terms.units == {"6": "年"}
    assert terms.has(fold(text), "6") is found


def test_the_tier_holding_the_asked_number_answers() -> None:
    tiers = (
        "入职满5年但未满10年的员工每年享有15个工作日的带薪年假。"
        "入职满10年及以上的员工每年享有20个工作日的带薪年假。"
    )
    short = "入职未满5年的员工每年享有10个工作日的带薪年假。"
    text, reason = answer_of("入职满6年的员工每年可以休几天带薪年假？", tiers + short)
    assert reason is None and text.startswith("入职满5年但未满10年")
    ev = evidence("入职满3年的员工每年可以休几天带薪年假？", tiers)
    assert ev.missing_critical == ("3",)  # no tier here holds 3 years: refuse, do not guess


def test_a_year_matches_whatever_follows_it() -> None:
    terms = question_terms("2023年的营收是多少？")
    assert terms.has(fold("2023届毕业生"), "2023")
    assert terms.has(fold("2023-24财年"), "2023")


def test_further_sentences_must_add_whole_words_of_the_question() -> None:
    # jieba cuts 年假要 into 年 / 假要: a sentence with 每年 and 12天 adds no real word
    ev = evidence(
        "年假要提前几天申请？",
        "星河科技员工每年享有12天全薪病假。员工须至少提前3个工作日在系统中提交休假申请。",
    )
    assert [s.text for s in ev.sentences] == ["员工须至少提前3个工作日在系统中提交休假申请。"]


def test_same_sentence_in_overlapping_chunks_is_used_once() -> None:
    ps = passages("甲句。乙句。")
    dup = Passage(Chunk("d", 1, "乙句。丙句。", 3, 9, "d", "d", ("everyone",)), 0.5, 0.7)
    sents = split_sentences([*ps, dup])
    assert [s.text for s in sents] == ["甲句。", "乙句。", "丙句。"]
    assert [(s.start, s.end) for s in sents] == [(0, 3), (3, 6), (6, 9)]


@pytest.mark.parametrize(
    ("question", "critical"),
    [
        ("2024年第二季度的销量是多少？", {"2024", "第二"}),
        ("去成都出差的酒店上限是多少？", {"成都"}),
        ("中国的总票房是多少？", set()),  # a scope word, not a place to match
        ("公司的年会在哪个城市举办？", set()),  # a common noun jieba tags as a place
        ("这个东西多少钱？", set()),
        ("What does the Hong Kong office pay?", {"hong", "kong"}),
        ("how long is the la nina event", set()),
        ("Nimbus X2 的价格", {"x2"}),
        # rough magnitudes are written another way by the documents (49,736; 90%; 2005年)
        ("在什麼時候的印度已經有將近5萬人使用梵語？", {"印度"}),
        ("米的哪一部分持有9成以上的營養物質？", set()),
        ("21世紀初，誰的走紅讓相聲復興？", set()),
        ("2021年的产量超过300吨吗？", {"2021"}),
    ],
)
def test_critical_terms(question: str, critical: set[str]) -> None:
    assert {f for _, f in question_terms(question).critical} == critical


def test_critical_names_keep_the_questions_spelling() -> None:
    terms = question_terms("霍布斯出生於英國的哪一個郡?")
    assert ("英國", "英国") in terms.critical
    ev = evidence(
        "霍布斯出生於英國的哪一個郡?", "霍布斯1588年4月5日生於英格蘭威爾特郡的馬姆斯伯里。"
    )
    d = decide(ev, 0.9, 0.0, 0.0)
    assert d.missing == ("英國",)
    assert "「英國」" in (message(d, "zh-Hant") or "")


def test_critical_terms_must_be_near_the_answer_not_anywhere_in_the_document() -> None:
    # "第四季度" is in the document, two sentences away from the sales figure: not evidence.
    doc = (
        "Nimbus X2 在2024年第三季度的销量为4.2万台。",
        "Nimbus X2 的固件更新为2.4版。",
        "Aurora L5 的退货率要在2024年第四季度降至2%以下。",
    )
    ev = evidence("2024年第四季度 Nimbus X2 卖了多少台？", "".join(doc))
    assert decide(ev, 0.8, 0.45, 0.0).reason == NOT_COVERED


@pytest.mark.parametrize(
    ("question", "sentence", "answers"),
    [
        ("Orion R300 在台湾卖多少钱？", "R300在台湾的销量为9,500台。", False),  # a count
        ("Orion R300 在台湾卖多少钱？", "R300在台湾售价为新台币18,900元。", True),
        ("R300 的價格是多少？", "R300 售價 NT$18,900。", True),
        ("How much does the Aurora L5 cost?", "The Aurora L5 sold 2,999 units.", False),
        ("How much does the Aurora L5 cost?", "The Aurora L5 retails for 2,999 yuan.", True),
        ("What is the retail price of the L7?", "It sells for $299.", True),
    ],
)
def test_a_price_question_needs_an_amount_of_money(
    question: str, sentence: str, answers: bool
) -> None:
    terms = question_terms(question)
    assert "money" in terms.wants
    assert answers_kind(terms, fold(sentence)) is answers


def test_a_rate_asked_per_day_is_not_answered_by_a_monthly_one() -> None:
    terms = question_terms("台北辦公室員工每天的午餐補助是多少？")
    assert terms.period == ("每天", "day")
    assert conflicts(terms, fold("台北辦公室員工每月可領取新台幣800元的網路補貼。")) == ("每天",)
    assert conflicts(terms, fold("台北辦公室員工每日午餐補助為新台幣120元。")) == ()
    assert conflicts(terms, fold("午餐補助為新台幣120元。")) == ()  # no period named: no rival
    ev = evidence("每天的午餐补助是多少？", "员工每月可领取800元的网络补贴。")
    assert decide(ev, 0.8, 0.0, 0.0).missing == ("每天",)
    assert question_terms("What is the monthly phone allowance?").period == ("monthly", "month")


def test_headings_are_context_not_answers() -> None:
    text = "2025年假期安排\n春节假期共放假8天。"
    ev = evidence("2025年春节放假几天？", text)
    assert [s.text for s in ev.sentences] == ["春节假期共放假8天。"]
    assert ev.missing_critical == ()


@pytest.mark.parametrize(
    ("question", "sentence", "answers"),
    [
        ("河南2021年的粮食总产量是多少？", "12月10日，河南正式公布2021年全年粮食总产量。", False),
        ("河南2021年的粮食总产量是多少？", "2021年河南粮食总产量为1308.84亿斤。", True),
        ("财务凭证需要保留多久？", "财务凭证须保存10年。", True),  # a duration, not a year
        ("年假有几天", "员工每年享有十五天年假。", True),
        ("年假有几天", "员工每年享有带薪年假。", False),
        ("首届峰会的时间", "峰会于12月9日在利雅得举行。", True),
        ("首届峰会的时间", "峰会发表了宣言。", False),
        ("When is the all-hands?", "The all-hands is on Tuesday.", True),
        ("谁负责审批？", "周敏负责审批。", True),  # asks for no value
        ("2022年全国棉花产量", "国家统计局关于2022年棉花产量的公告。", False),  # ends on 产量
        ("2022年全国棉花产量", "2022年全国棉花总产量597.7万吨。", True),
        ("我国2021年人口出生率", "2021年人口出生率为7.52‰。", True),  # a rate is a quantity
        ("我国2021年人口出生率", "2021年人口出生率进一步下降。", False),
        # with a question word, a measured noun at the end is not what is asked for
        ("部曲、佃客以及哪种人为世族控制的人口?", "世族控制的人口有部曲、佃客与奴隶。", True),
        ("贸易条约是在1948年的几月中断的?", "接着于2月底中断两国间的贸易条约。", True),  # a date
        ("工程持续了几个月？", "工程持续了很久。", False),  # a duration
        # digits glued to a letter name a model or a code, not a value
        ("Aurora S2 的电池能用多久？", "The Aurora S2 was launched to replace the S1.", False),
        ("Aurora S2 的电池能用多久？", "The Aurora S2 runs 18 months on one battery.", True),
        ("How many VPN tunnels does the R300 support?", "The R300 supports IPsec v2.1.", False),
        # a span of time asked: a number without a unit of time does not answer
        ("Within how many working days must a claim be filed?", "伙食补贴每天120元。", False),
        ("Within how many working days must a claim be filed?", "出差后10个工作日内提交。", True),
        ("筆記型電腦核准後多久可以拿到？", "IT部門會在5個工作天內完成交付。", True),
        ("保修期是多久？", "The electronic parts carry a 2-year warranty.", True),
        ("保修期是多久？", "Orion R300 于2025年3月上市，售价2999元。", False),  # a date, a price
        ("於民國幾年升格為省轄市?", "民國七十一年7月1日升格為省轄市。", True),  # 幾年: a year
        # an amount asked: a share or a change in percent does not give it; a rate asked, it does
        ("河南的粮食总产量是多少？", "2020年，河南夏粮总产量占全国的26.1%。", False),
        ("河南的粮食总产量是多少？", "河南粮食总产量1308.84亿斤。", True),
        ("2022年英特尔全年营收", "英特尔营收同比下降了32%。", False),
        ("2021年城镇化率达到了多少？", "城镇化率为64.72%。", True),
        ("2024年全员调薪幅度是多少？", "2024年全员调薪幅度为8%。", True),  # a change's size
        ("How many people work at Xinghe?", "About 30 percent of the staff work remotely.", False),
        # revenue, profit or pay asked: a sum of money answers, a head count does not
        ("2022年国庆节假期全国旅游收益是多少？", "全国国内旅游出游4.22亿人次。", False),
        ("2022年国庆节假期全国旅游收益是多少？", "实现国内旅游收入2872.1亿元。", True),
        ("總市值在全球名列第幾位?", "合計總市值在全球名列第四位。", True),  # a rank asked
        # a weight asked: a price does not give it
        ("How much does the Orion R500 weigh?", "Orion R500 的起售价为2999元。", False),
        ("How much does the Orion R500 weigh?", "Orion R500 重1.2公斤。", True),
    ],
)
def test_the_evidence_must_hold_a_value_of_the_asked_kind(
    question: str, sentence: str, answers: bool
) -> None:
    assert answers_kind(question_terms(question), fold(sentence)) is answers


@pytest.mark.parametrize(
    ("question", "asks_date"),
    [
        ("Aurora S2 是什么时候上市的？", True),
        ("When was the Aurora S2 launched?", True),
        ("What year did the plant open?", True),
        ("What happens when the battery runs out?", False),  # a conjunction
        ("展会的开放时间", False),  # may ask for a time of day
    ],
)
def test_only_a_question_that_can_only_ask_for_a_date_keeps_the_date_kind_when_judged(
    question: str, asks_date: bool
) -> None:
    terms = question_terms(question)
    assert terms.asks_date is asks_date
    assert ("date" in judged_wants(terms, dates=True).wants) is asks_date
    assert "date" not in judged_wants(terms).wants  # the same-language checks' rule


def test_refuses_when_the_asked_value_is_missing() -> None:
    ev = evidence("河南2021年的粮食总产量是多少？", "12月10日，河南正式公布2021年全年粮食总产量。")
    assert decide(ev, 0.9, 0.45, 0.0).reason == NO_VALUE


@pytest.mark.parametrize(
    ("question", "sentence", "conflicting"),
    [
        ("Nimbus X1 当初的售价是多少？", "Nimbus X2 的官方售价为1,299元。", ("x1",)),
        ("Nimbus X1 当初的售价是多少？", "X2 可连接128个设备，X1 只能连接64个。", ()),
        ("2024年黑客松冠军的奖金是多少？", "2025年黑客松冠军将获得2万元奖金。", ("2024",)),
        ("2024年黑客松冠军的奖金是多少？", "与2023年相比，2024年奖金翻倍。", ()),
        ("2024年黑客松冠军的奖金是多少？", "黑客松冠军将获得2万元奖金。", ()),  # no rival
        ("GPT4的发布时间", "GPT-3 于2020年发布。", ("gpt4",)),
        ("U19国青队主教练是谁", "U17国少队主教练是杨晨。", ("u19",)),
        # another tier: a range stated in the asked unit that the asked amount is not in
        ("入职满6年的员工有几天年假？", "入职满10年及以上的员工享有20天年假。", ("6",)),
        ("入职满6年的员工有几天年假？", "入职满5年但未满10年的员工享有15天年假。", ()),
        ("入职满6年的员工有几天年假？", "员工每年享有5天年假。", ()),  # no tier stated
        ("How much leave after 6 years of service?", "From 10 years on: 20 days.", ()),
        ("How much leave after 6 years of service?", "At least 10 years: 20 days.", ("6",)),
        # another quarter of the year
        (
            "What was the revenue in the second quarter of 2025?",
            "2025年第一季度营业收入为1.2亿元。",
            ("second quarter",),
        ),
        ("2025年Q2的营收是多少？", "第二季度营收为1.5亿元。", ()),
        ("2025年第三季度的营收是多少？", "前三季度营收累计4亿元。", ()),  # not one quarter
        # another half of the year, another public holiday
        ("2022年中秋假期旅游收入是多少", "端午节全国国内旅游收入258.2亿元。", ("中秋",)),
        ("2022年中秋假期旅游收入是多少", "跟端午节相比，中秋节假期旅游收入不降反升。", ()),
        ("2022年下半年征兵体检时间", "2022年上半年征兵体检于2月开始。", ("下半年",)),
        # the asked year only as the base of a comparison: the figure is for another year
        (
            "2021年中国电影市场总票房是多少？",
            "北美总票房达75亿美元，相比2021年增长65%。",
            ("2021",),
        ),
        ("2021年的营收是多少", "2021年营收比2020年增长10%。", ()),
        ("生活成本最高的城市在2006年時為？", "多倫多於2006年被列為生活成本最高的城市。", ()),
        # a per-head, average or one-day figure is another measure than the one asked
        ("上海2021年的GDP是多少", "上海2021年人均GDP为2.69万美元。", ("gdp",)),
        ("上海2021年的人均GDP是多少", "上海2021年人均GDP为2.69万美元。", ()),
        ("2022年春节档的总票房是多少", "大年初一单日票房15亿元。", ("票房",)),
        ("2023年春节档首日票房冠军", "《流浪地球2》成为首日票房冠军，单日票房4.67亿元。", ()),
    ],
)
def test_a_sentence_naming_another_year_model_or_tier_conflicts(
    question: str, sentence: str, conflicting: tuple[str, ...]
) -> None:
    assert tuple(t.lower() for t in conflicts(question_terms(question), fold(sentence))) == (
        conflicting
    )


@pytest.mark.parametrize(
    ("question", "text", "unstated"),
    [
        ("Nimbus X2 固件2.6版本什么时候发布？", "Firmware version 2.5 ships in 2025.", ("2.6",)),
        ("Nimbus X2 固件2.5版本什么时候发布？", "Firmware version 2.5 ships in 2025.", ()),
        ("What was the revenue in the first quarter of 2025?", "2025年第一季度营收1.2亿元。", ()),
        ("What was the turnover rate in 2024?", "2025年员工流失率为5%。", ("2024",)),
        ("Which model costs 25 dollars?", "The 2.5 model costs 250 dollars.", ("25",)),
        ("How many meeting rooms does it have, 12?", "该办公室有十二间会议室。", ()),
        ("R500 的售价？", "The R300 costs $299.", ()),  # a model code: `conflicts` judges it
        ("大约3年后呢？", "五年后。", ()),  # an approximate number is not critical
    ],
)
def test_the_numbers_asked_in_digits_must_be_stated_in_any_language(
    question: str, text: str, unstated: tuple[str, ...]
) -> None:
    assert unstated_numbers(question_terms(question), fold(text)) == unstated


def test_the_best_sentence_about_another_model_refuses_and_rivals_never_join() -> None:
    # Same-topic trap: the only price is X2's; the sentence next to it mentions X1.
    doc = "Nimbus X2 的官方售价为1,299元。上一代 Nimbus X1 最多只能连接64个子设备。"
    terms = question_terms("Nimbus X1 当初的售价是多少？")
    ev = select(terms, split_sentences(passages(doc)), 3, scores=[0.9, 0.3])
    d = decide(ev, 0.9, 0.4, 0.0)
    assert d.refused and d.reason == NOT_COVERED and "x1" in [m.lower() for m in d.missing]
    # A 2025 sentence next to the 2024 one does not join its evidence.
    sents = split_sentences(passages("2024年黑客松冠军奖金为1万元。2025年黑客松冠军奖金为2万元。"))
    picked = select(question_terms("2024年黑客松冠军奖金是多少？"), sents, 3, scores=[0.9, 0.8])
    assert [s.text for s in picked.sentences] == ["2024年黑客松冠军奖金为1万元。"]


@pytest.mark.parametrize(
    ("question", "texts", "answer"),
    [
        # a question in the document is not an answer, nor a line repeating the question
        (
            "沉香如屑的主演有谁",
            ("沉香如屑的主演有谁？", "该剧由杨紫、成毅主演。"),
            "该剧由杨紫、成毅主演。",
        ),
        (
            "卡塔尔世界杯决赛队伍",
            ("卡塔尔世界杯决赛队伍.", "决赛在阿根廷和法国之间进行。"),
            "决赛在阿根廷和法国之间进行。",
        ),
        # an English title ending on "?" is still a statement
        (
            "Which song appears in O Brother, Where Art Thou?",
            ("A version of The Lonesome Valley appears in the film O Brother, Where Art Thou?",),
            "A version of The Lonesome Valley appears in the film O Brother, Where Art Thou?",
        ),
    ],
)
def test_evidence_states_something_the_question_does_not(
    question: str, texts: tuple[str, ...], answer: str
) -> None:
    ev = evidence(question, *texts)
    assert ev.sentences and ev.sentences[0].text == answer
