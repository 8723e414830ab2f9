import pytest

from core.text import fold, language_of, script_of, words


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("負責管理馬祖國家風景區", "负责管理马祖国家风景区"),
        ("ＡＢＣ１２３", "abc123"),
        ("VPN Client", "vpn client"),
        ("臺灣", "台湾"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    ("text", "script"),
    [("年假有多少天？", "zh-Hans"), ("年假有幾天？", "zh-Hant"), ("How many days?", "en")],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


def test_words_drop_stopwords_and_fold_scripts_to_one_form() -> None:
    assert "的" not in list(words(fold("員工的帶薪年假")))
    assert set(words(fold("員工"))) == set(words(fold("员工")))
    assert list(words("what is the vpn server")) == ["vpn", "server"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("北京、上海的住宿标准为每晚不超过650元。", "zh"),
        ("Aurora S2 传感器的工作温度范围是多少？", "zh"),  # a Chinese text naming a product
        ("The sensor works from -40 to 85 °C in the 深圳 plant.", "en"),
        ("What is the maximum hotel rate?", "en"),
        ("", "en"),
        ("2025 Q1", "en"),
    ],
)
def test_language_of_counts_chinese_characters_against_latin_words(
    text: str, language: str
) -> None:
    assert language_of(text) == language
