"""Questions about two things: split by engine.pairs, each part answered from its own evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from engine.decide import PART_NOT_ANSWERED
from engine.pairs import split_pair
from engine.pipeline import AnswerEngine
from ingest.pipeline import Ingestor
from tests.conftest import write


@pytest.mark.parametrize(
    ("question", "names", "questions"),
    [
        (
            "Nimbus X2 和 Aurora L5 的保修期分别是多久？",
            ("Nimbus X2", "Aurora L5"),
            ("Nimbus X2 的保修期是多久？", "Aurora L5 的保修期是多久？"),
        ),
        (
            "What is the price of the Orion R300 and the Aurora L5?",
            ("Orion R300", "Aurora L5"),
            ("What is the price of the Orion R300?", "What is the price of the Aurora L5?"),
        ),
        (
            "Which is cheaper, the Orion R300 or the Nimbus X2?",
            ("Orion R300", "Nimbus X2"),
            ("Which is cheaper, the Orion R300?", "Which is cheaper, the Nimbus X2?"),
        ),
        (
            "2023年和2024年的预算分别是多少？",
            ("2023", "2024"),
            ("2023年的预算是多少？", "2024年的预算是多少？"),
        ),
        (
            "第一季度和第二季度的营收各自是多少？",
            ("第一季度", "第二季度"),
            ("第一季度的营收是多少？", "第二季度的营收是多少？"),
        ),
        ("Q1和Q2的营收分别是多少？", ("Q1", "Q2"), ("Q1的营收是多少？", "Q2的营收是多少？")),
        (
            "Orion R300 與 Nimbus X2 的最新韌體版本各是多少？",
            ("Orion R300", "Nimbus X2"),
            ("Orion R300 的最新韌體版本各是多少？", "Nimbus X2 的最新韌體版本各是多少？"),
        ),
        (
            "How long is the warranty of the Aurora S2 and the Aurora S1 respectively?",
            ("Aurora S2", "Aurora S1"),
            (
                "How long is the warranty of the Aurora S2?",
                "How long is the warranty of the Aurora S1?",
            ),
        ),
        (
            "北京和上海出差的住宿上限分别是多少？",
            ("北京", "上海"),
            ("北京出差的住宿上限是多少？", "上海出差的住宿上限是多少？"),
        ),
        (
            "What is the maximum number of VPN tunnels of the Orion R300 and the maximum number "
            "of fingerprints of the Aurora L5?",
            ("Orion R300", "Aurora L5"),
            (
                "What is the maximum number of VPN tunnels of the Orion R300?",
                "What is the maximum number of fingerprints of the Aurora L5?",
            ),
        ),
        (
            "What is the warranty of the Nimbus X2 and what is the price of the Aurora L5?",
            ("Nimbus X2", "Aurora L5"),
            ("What is the warranty of the Nimbus X2?", "what is the price of the Aurora L5?"),
        ),
        (
            "Orion R300 的 VPN 通道数和 Aurora L5 的指纹数分别是多少？",
            ("Orion R300", "Aurora L5"),
            ("Orion R300 的 VPN 通道数是多少？", "Aurora L5 的指纹数是多少？"),
        ),
        (
            "北京的住宿上限和上海的餐补标准分别是多少？",
            ("北京", "上海"),
            ("北京的住宿上限是多少？", "上海的餐补标准是多少？"),
        ),
    ],
)
def test_two_coordinated_names_split_into_one_question_each(
    question: str, names: tuple[str, str], questions: tuple[str, str]
) -> None:
    pair = split_pair(question)
    assert pair is not None
    assert (pair.names, pair.questions) == (names, questions)


@pytest.mark.parametrize(
    "question",
    [
        "Nimbus X2 的保修期是多久？",  # one name
        "北京、上海和广州的住宿标准是多少？",  # a list of three
        "What is the price of the Orion R300 and how much does it weigh?",  # one name, two asks
        "2024年第三季度的营收是多少？",  # a year and a quarter: two kinds
        "员工年假和病假各有几天？",  # common nouns, not names
        # two clauses, but the first does not end at its name: not split (asked whole)
        "How many VPN tunnels does the Orion R300 support and how many fingerprints does the "
        "Aurora L5 store?",
        "Which department handles the Nimbus X2 and the refunds of the Aurora L5?",  # no lead
    ],
)
def test_no_pair(question: str) -> None:
    assert split_pair(question) is None


DOCS = {
    "product/nimbus.md": "# Nimbus X2 常见问题\n\nNimbus X2 的标准保修期为2年。Nimbus X2 支持 Wi-Fi 6。\n",
    "product/aurora.md": (
        "# Aurora L5 常见问题\n\nAurora L5 的保修期为5年。Aurora L5 支持指纹解锁。"
        "Aurora L5 的指纹容量为100枚。\n"
    ),
    "product/sensor.md": "# Aurora S2 datasheet\n\nThe Aurora S2 comes with a limited warranty of 2 years from Xinghe Tech.\n",
    "org/budget.md": "# Budget\n\nResearch and Development has a budget of 5 million dollars.\n",
}


@pytest.fixture
def engine(tmp_path: Path, settings: Settings, store: QdrantStore) -> AnswerEngine:
    emb = HashingEmbedder()
    Ingestor(settings, store, emb).sync([write(tmp_path / "docs", DOCS)])
    return AnswerEngine(settings, store, emb)


def test_each_part_is_quoted_from_its_own_document(engine: AnswerEngine) -> None:
    a = engine.answer("Nimbus X2 和 Aurora L5 的保修期分别是多久？")
    assert not a.refused, a.message
    assert [c.quote for c in a.citations] == [
        "Nimbus X2 的标准保修期为2年。",
        "Aurora L5 的保修期为5年。",
    ]
    assert [c.source.rsplit("/", 1)[-1] for c in a.citations] == ["nimbus.md", "aurora.md"]
    assert a.text == "Nimbus X2 的标准保修期为2年。 [1]Aurora L5 的保修期为5年。 [2]"
    assert a.features["pair"] == 1.0


def test_a_part_no_document_answers_is_refused_by_name(engine: AnswerEngine) -> None:
    a = engine.answer("Nimbus X2 和 Nimbus X3 的保修期分别是多久？")
    assert a.refused and a.reason == PART_NOT_ANSWERED
    assert a.text is None and not a.citations
    assert a.message is not None and "“Nimbus X3”" in a.message
    en = engine.answer("How long is the warranty of the Aurora S2 and the Aurora S9?")
    assert en.refused and en.reason == PART_NOT_ANSWERED
    assert en.message is not None and '"Aurora S9"' in en.message


def test_one_sentence_that_answers_both_parts_is_quoted_once(engine: AnswerEngine) -> None:
    a = engine.answer("What is the budget of Research and Development?")
    assert not a.refused, a.message
    assert [c.quote for c in a.citations] == [
        "Research and Development has a budget of 5 million dollars."
    ]


def test_a_question_about_one_thing_is_not_split(engine: AnswerEngine) -> None:
    a = engine.answer("Nimbus X2 的保修期是多久？")
    assert not a.refused and "pair" not in a.features
    assert [c.quote for c in a.citations] == ["Nimbus X2 的标准保修期为2年。"]


def test_two_things_each_asked_its_own_attribute_are_answered_part_by_part(
    engine: AnswerEngine,
) -> None:
    a = engine.answer("Nimbus X2 的保修期和 Aurora L5 的指纹容量分别是多少？")
    assert not a.refused, a.message
    assert [c.quote for c in a.citations] == [
        "Nimbus X2 的标准保修期为2年。",
        "Aurora L5 的指纹容量为100枚。",
    ]
    assert a.features["pair"] == 1.0
    missing = engine.answer("Nimbus X2 的保修期和 Nimbus X3 的指纹容量分别是多少？")
    assert missing.refused and missing.reason == PART_NOT_ANSWERED
