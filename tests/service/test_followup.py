"""Follow-up rewriting rules (pure), table-driven."""

import pytest

from service.followup import is_followup, retrieval_question


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
        # no slot to replace: the follow-up is put before the previous question
        (["年假有多少天？", "病假呢？"], "病假年假有多少天？"),
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
        ("那么请问公司每年给员工安排的带薪年假一共有多少个工作日呢？", False),
        ("", False),
    ],
)
def test_is_followup(turn: str, followup: bool) -> None:
    assert is_followup(turn) is followup
