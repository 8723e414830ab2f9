"""Follow-up rewriting rules (pure), table-driven."""

import pytest

from engine.followup import is_followup, retrieval_question


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (["2022年营收是多少？", "那2023年呢？"], "2023年营收是多少？"),
        (["2022年第一季度营收是多少？", "2023年呢"], "2023年第一季度营收是多少？"),
        (["2022年第一季度营收是多少？", "第三季度呢？"], "2022年第三季度营收是多少？"),
        (["北京的酒店住宿标准是多少？", "那上海呢？"], "上海的酒店住宿标准是多少？"),
        (["Nimbus X2 的保修期多久？", "X3呢？"], "Nimbus X3 的保修期多久？"),
        (["What was the revenue in 2022?", "What about 2023?"], "What was the revenue in 2023?"),
        (["2022年营收是多少？", "那2023年呢？", "2024年呢？"], "2024年营收是多少？"),
        # a question of its own is not merged
        (
            ["年假有多少天？", "VPN 连接多久没有操作会自动断开？"],
            "VPN 连接多久没有操作会自动断开？",
        ),
        # a short turn with 呢 that asks its own question is not merged
        (["差旅费用要在几天内提交报销？", "VPN 多久自动断开呢？"], "VPN 多久自动断开呢？"),
        # a question's first word is not a name to replace
        (
            ["How much does the Aurora L5 cost in mainland China?", "And the Nimbus X2?"],
            "How much does the Nimbus X2 cost in mainland China?",
        ),
        # the same head: the new thing replaces the old one, topics do not pile up
        (["年假有多少天？", "那丧假呢？"], "丧假有多少天？"),
        (["年假有多少天？", "病假呢？", "那婚假呢？"], "婚假有多少天？"),
        (
            ["How many days of annual leave do I get?", "What about sick leave?"],
            "How many days of sick leave do I get?",
        ),
        # no slot and no shared head: the follow-up is put before the previous question
        (["年假有多少天？", "报销呢？"], "报销年假有多少天？"),
        (["年假有多少天？"], "年假有多少天？"),
    ],
)
def test_retrieval_question(turns: list[str], expected: str) -> None:
    assert retrieval_question(turns) == expected


@pytest.mark.parametrize(
    ("turn", "followup"),
    [
        ("那2023年呢？", True),
        ("2023年？", True),
        ("what about Q3?", True),
        ("年假有多少天？", False),
        ("VPN 多久自动断开呢？", False),
        ("那丧假呢？", True),
        ("那么请问公司每年给员工安排的带薪年假一共有多少个工作日呢？", False),
        ("", False),
    ],
)
def test_is_followup(turn: str, followup: bool) -> None:
    assert is_followup(turn) is followup
