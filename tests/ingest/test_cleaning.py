"""Cleaning on real copies of Chinese web articles and on synthetic pages from other sites."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from ingest.cleaning import Cleaned, CorpusStats, clean, explain

SAMPLES = Path(__file__).resolve().parents[3] / "shared/corpus/web-articles-zh"


@pytest.fixture(scope="module")
def raw() -> dict[str, str]:
    if not SAMPLES.is_dir():
        pytest.skip(f"sample corpus not found at {SAMPLES}")
    return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.txt"))}


@pytest.fixture(scope="module")
def cleaned(raw: dict[str, str]) -> dict[str, Cleaned]:
    stats = CorpusStats.build(raw.values())
    return {name: clean(text, stats) for name, text in raw.items()}


def assert_spans_exact(original: str, result: Cleaned) -> None:
    rebuilt, at = [], 0
    for r in result.removals:
        assert original[r.start : r.end] == r.text
        assert r.start >= at  # sorted, not overlapping
        rebuilt.append(original[at : r.start])
        at = r.end
    rebuilt.append(original[at:])
    assert "".join(rebuilt) == result.text
    for pos in (0, len(result.text) // 2, len(result.text) - 1):
        assert original[result.to_original(pos)] == result.text[pos]


def rules(result: Cleaned) -> Counter[str]:
    return Counter(r.rule for r in result.removals)


# Three long sentences per sample that must survive verbatim.
KEPT = {
    "000": [
        "实际上,这个周期内,真正赚到钱的,只有卖显卡的和卖课程的。",
        "目前来说,期望引入GenAI来解决企业发展问题,或者解决流程问题,几乎都是不太可能的。",
        "所以对于GenAI,在全面狂欢之下,反而更应该冷静,因为隐藏在GenAI美好表象后的风险远比想象中要大。",
    ],
    "001": [
        "实际上,这个周期内,真正赚到钱的,只有卖显卡的和卖课程的。",
        "站在个人的角度,对大模型有没有需求?有,且非常多,各种自媒体视频、文案,还不算灰产那些杂七杂八的东西。",
        "为了更好地支持企业构建规模化的大模型应用,Thoughtworks 推出了专为企业用户设计的大模型应用平台",
    ],
    "002": [
        "我們知道,大模型會編造不正確的答案,產生“幻覺”。",
        "開源的低門檻、低成本,帶來了“開源干翻閉源”的幻覺。",
        "大模型走向產業的長路,更需保持冷靜和理性,警惕“爛尾”風險。希望大家真正飲下的,是用時間和技術沉淀的精釀,而非隨時可能消失的“泡沫”。",
    ],
    "003": [
        "回顾人类历史,我们会发现一个惊人的事实——人类一直在不断被技术替代。",
        "众所周知,数据是大模型的“养料”。",
        "但在这一刻到来前,理性拥抱技术浪潮,是尽早拿到下一个时代话语权的最佳方式。",
    ],
    "004": [
        "強如OpenAI,也面臨“恰飯”的難題。",
        "京東表示,基座大模型是靠卡訓出來的,企業大模型是靠人用出來的。",
        "面對數據、算力、成本等現實問題,供需兩端漸漸回歸理性。可以預見,在真“好用”和能“吸金”之間,大模型還有很長的路要走。",
    ],
}


def test_article_prose_survives_verbatim(cleaned: dict[str, Cleaned]) -> None:
    for name, sentences in KEPT.items():
        for sentence in sentences:
            assert sentence in cleaned[name].text, (name, sentence)


def test_article_list_items_and_headings_survive(cleaned: dict[str, Cleaned]) -> None:
    assert "- 拥有足够的硬件\n- 拥有足够的数据\n" in cleaned["000"].text
    assert "\n谁在做大模型\n" in cleaned["001"].text  # shared by the two copies: not boilerplate
    assert "第二個“幻覺”:三五個人干翻大廠" in cleaned["002"].text
    assert "01 難點:盈利難&落地難" in cleaned["004"].text  # watermark gone, heading kept


def test_spans_map_back_to_the_original(raw: dict[str, str], cleaned: dict[str, Cleaned]) -> None:
    for name, text in raw.items():
        assert_spans_exact(text, cleaned[name])


def shared_suffix(text: str) -> str:
    """What most non-empty lines end with, found from the raw lines alone."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    suffix = ""
    for k in range(4, 80):
        top, n = Counter(ln[-k:] for ln in lines if len(ln) >= k).most_common(1)[0]
        if n < len(lines) / 2:
            break
        suffix = top
    return suffix


def test_watermark_found_and_removed_everywhere(raw: dict[str, str], cleaned: dict[str, Cleaned]):
    mark = shared_suffix(raw["004"])
    assert len(mark) >= 10 and raw["004"].count(mark) > 50
    assert mark not in cleaned["004"].text
    assert {r.text.strip() for r in cleaned["004"].removals if r.rule == "watermark"} == {mark}


def test_spam_tail_removed(raw: dict[str, str], cleaned: dict[str, Cleaned]) -> None:
    tail = [ln for ln in raw["004"].splitlines() if ln.strip()][-12:]
    for line in tail:
        assert line not in cleaned["004"].text
    assert rules(cleaned["004"])["spam_tail"] == 1
    assert cleaned["004"].text.rstrip().endswith("大模型還有很長的路要走。")


VIEW_COUNT = re.compile(r"\d+\s*(?:次)?(?:浏览|瀏覽|阅读|閱讀|学习|使用)|(?:浏览|瀏覽)量")


def test_related_and_course_lists_removed(cleaned: dict[str, Cleaned]) -> None:
    for name, result in cleaned.items():
        assert not VIEW_COUNT.search(result.text), name
        assert not re.search(r"\d+小时前|\d{4}-\d\d-\d\d \d+浏览", result.text), name
    assert "GO语言核心编程课程" not in cleaned["000"].text
    assert "阿里達摩院提出“知識鏈”框架" not in cleaned["002"].text
    assert "力箭一號遙三運載火箭成功發射" not in cleaned["004"].text


def test_navigation_and_footer_lines_removed(cleaned: dict[str, Cleaned]) -> None:
    t = {name: result.text for name, result in cleaned.items()}
    assert "上一篇" not in t["000"] and "下一篇" not in t["000"]
    assert "公众号" not in t["000"] and "公众号" not in t["001"]
    assert "侵權" not in t["001"] and "侵权" not in t["001"]
    assert "聲明:" not in t["002"] and "聲明:" not in t["004"]
    assert "相關推薦" not in t["002"] and "熱門文章" not in t["004"]
    assert "http://" not in t["004"]
    assert "聊天消息" not in t["002"] and "+關注" not in t["002"]
    assert rules(cleaned["001"])["footer"] >= 1


def test_html_tags_and_mojibake_removed(cleaned: dict[str, Cleaned]) -> None:
    text = cleaned["002"].text
    assert not re.search(r"</?[a-z]+[ >]", text)
    assert "??" not in text
    assert "大模型應用,必須警惕“速成幻覺”" in text  # the title under the tags stays
    assert {"emptied", "mojibake"} <= set(rules(cleaned["002"]))


def test_inline_tags_entities_and_mojibake_are_cut_from_prose() -> None:
    text = "正文<b class='x'>加粗</b>內容，&nbsp;其中混入了亂碼Ã©Ã¨字符\ufffd\ufffd。\n"
    result = clean(text)
    assert result.text == "正文加粗內容，其中混入了亂碼字符。\n"
    assert set(rules(result)) == {"html_tag", "mojibake"}
    assert_spans_exact(text, result)


def test_explain_lists_rules_and_removed_text(cleaned: dict[str, Cleaned]) -> None:
    report = explain(cleaned["004"])
    assert report.startswith("=== cleaned text ===")
    assert "spam_tail" in report and "watermark" in report and "主站蜘蛛池模板" in report


# --- synthetic pages in other styles -------------------------------------------------------

ENGLISH_BLOG = """\
Home > Blog > Engineering
Posted by Jane Doe | March 3, 2024 | 1,245 views
How we cut our build times in half

Our monorepo had grown to the point where a full build took forty minutes on a clean machine.
We started by measuring where the time went, and found that most of it was spent recompiling code that had not changed.
Remote caching brought the median build down to eighteen minutes within two weeks.

Share on Twitter | Facebook | LinkedIn
Related posts
- Migrating to Bazel: lessons learned
  Jan 12, 2024 · 532 views
- Why we stopped using feature branches
  Dec 02, 2023 · 1,020 views
- Caching test results across CI runs
  Nov 18, 2023 · 874 views
© 2024 Example Corp. All rights reserved.
"""

MARK = "——轉載自小明論壇 bbs.example.tw"
FORUM_BODY = [
    "請問公司的年假制度是怎麼規定的？",
    "根據員工手冊，入職滿一年的員工每年可享有七天帶薪年假。",
    "年假需要提前兩週在系統中申請，並由直屬主管核准。",
    "未休完的年假可以遞延到次年三月底，逾期則自動作廢。",
    "如果遇到特殊情況，可以向人力資源部申請延長使用期限。",
    "謝謝分享，這個規定比我以前的公司寬鬆很多。",
    "補充一下，試用期內的員工不能申請年假，但可以請事假。",
    "年假可以分開使用，但每次最少要請半天。",
    "國定假日與年假重疊時，不會扣除年假天數。",
    "離職時尚未使用的年假，公司會按照日薪折算發放。",
]
FORUM_SPAM = [
    "辦證刻章 加急 電話 0912-345-678",
    "低息貸款當天放款 LINE: loan888",
    "名牌手錶 高仿 特價 NT$1999 www.cheap-watch.example",
    "代購減肥藥 效果保證 微信 slim2024",
    "高薪兼職 日結 在家可做 0987-654-321",
    "韓國代購 正品保證 免運費 NT$499",
]
FORUM_PAGE = "\n".join(f"{line}{MARK}" for line in FORUM_BODY) + "\n" + "\n".join(FORUM_SPAM) + "\n"


def test_english_blog_copy() -> None:
    result = clean(ENGLISH_BLOG)
    assert_spans_exact(ENGLISH_BLOG, result)
    assert "Remote caching brought the median build down to eighteen minutes within two weeks." in (
        result.text
    )
    assert "How we cut our build times in half" in result.text
    for gone in ("Home > Blog", "Share on Twitter", "Related posts", "Bazel", "views", "©"):
        assert gone not in result.text, gone


def test_traditional_chinese_forum_copy() -> None:
    result = clean(FORUM_PAGE)
    assert_spans_exact(FORUM_PAGE, result)
    assert MARK not in result.text and "小明論壇" not in result.text
    for line in FORUM_BODY:
        assert line + "\n" in result.text
    for line in FORUM_SPAM:
        assert line not in result.text
    assert {"watermark", "spam_tail"} <= set(rules(result))


def test_lines_recurring_across_independent_documents() -> None:
    footer = "Powered by ExampleCMS · theme Aurora"
    docs = [
        f"Topic {i}\nThis article explains subject number {i} in enough words to be prose.\n{footer}\n"
        for i in range(4)
    ]
    stats = CorpusStats.build(docs)
    result = clean(docs[0], stats)
    assert footer not in result.text and rules(result)["recurring_line"] == 1
    assert "This article explains subject number 0" in result.text
    assert clean(docs[0]).text == docs[0]  # without corpus statistics nothing is removed


def test_near_duplicates_count_as_one_source() -> None:
    body = "\n".join(
        f"这是同一篇文章的第{i}段正文，被两个网站转载，内容完全相同。" for i in range(3)
    )
    docs = [
        f"第一节\n{body}\n站点A\n",
        f"第一节\n{body}\n站点B\n",
        "第一节\n别的文章正文也足够长，可以算作正文。\n",
    ]
    stats = CorpusStats.build(docs)
    assert stats.sources == 2
    assert "第一节" in clean(docs[0], stats).text


def test_company_document_is_left_alone() -> None:
    policy = (
        "星河科技差旅管理规定\n"
        "生效日期：2024-01-01\n"
        "一、适用范围\n"
        "本规定适用于公司全体员工的国内及境外出差。\n"
        "二、报销标准\n"
        "- 住宿：一线城市每晚不超过600元\n"
        "- 餐补：每天100元\n"
        "新密码不得与最近5次使用过的密码相同。\n"
        "人力资源部负责解释《星河科技差旅管理规定》，咨询请拨打分机8101。\n"
    )
    assert clean(policy) == Cleaned(policy, ())
