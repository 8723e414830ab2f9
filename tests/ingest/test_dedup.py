"""Near-duplicate grouping on the sample articles and on generated corpora."""

from __future__ import annotations

import random
import time
from pathlib import Path

import opencc
import pytest

from ingest.dedup import duplicate_groups

SAMPLES = Path(__file__).resolve().parents[3] / "shared/corpus/web-articles-zh"

PARAGRAPH = (
    "差旅费用须在出差结束后十五天内通过报销系统提交，逾期提交的申请需要部门负责人书面说明原因。"
    "住宿标准按城市等级执行，一线城市每晚不超过六百元，其他城市每晚不超过四百元。"
    "因公出差期间的市内交通费用凭票据实报实销，出租车费用需要注明起止地点和事由。"
)


def test_sample_copies_of_one_article_group_and_nothing_else() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"sample corpus not found at {SAMPLES}")
    docs = {p.name[:3]: p.read_text(encoding="utf-8") for p in SAMPLES.glob("*.txt")}
    assert duplicate_groups(docs) == {"000": "000", "001": "000"}  # 000 is the longer copy


def test_exact_duplicates_group_whatever_the_spacing() -> None:
    docs = {"b": PARAGRAPH, "a": PARAGRAPH, "c": PARAGRAPH.replace("，", "， \n"), "d": "另一篇。"}
    groups = duplicate_groups(docs)
    assert groups == {"a": "c", "b": "c", "c": "c"}  # canonical: the longest text


def test_traditional_copy_groups_with_simplified_original() -> None:
    traditional = opencc.OpenCC("s2t").convert(PARAGRAPH)
    assert traditional != PARAGRAPH
    groups = duplicate_groups({"zh-hans": PARAGRAPH, "zh-hant": traditional})
    assert set(groups) == {"zh-hans", "zh-hant"}


def test_copy_with_site_furniture_groups_but_unrelated_text_does_not() -> None:
    furnished = "首页 > 制度\n" + PARAGRAPH + "\n上一篇\n下一篇\n阅读 1234\n"
    other = "会议室预订须提前一天在行政系统中提交，取消预订请在开始前两小时操作。" * 3
    groups = duplicate_groups({"orig": PARAGRAPH, "copy": furnished, "other": other})
    assert groups == {"orig": "copy", "copy": "copy"}


def generated(n: int, dups: int, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    vocab = [
        "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(1, 3)))
        for _ in range(20000)
    ]

    def doc() -> str:
        sentences = rng.randint(20, 60)
        return "。".join(
            "".join(rng.choice(vocab) for _ in range(rng.randint(8, 20))) for _ in range(sentences)
        )

    docs = {f"d{i:05d}": doc() for i in range(n - dups)}
    for i in range(dups):  # a copy missing its last 5% and wrapped in furniture
        text = docs[f"d{i:05d}"]
        docs[f"copy{i:05d}"] = "相关阅读\n" + text[: int(len(text) * 0.95)] + "\n版权所有"
    return docs


@pytest.mark.parametrize("n", [1_000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_scales_with_lsh(n: int) -> None:
    docs = generated(n, dups=n // 50)
    started = time.perf_counter()
    groups = duplicate_groups(docs)
    seconds = time.perf_counter() - started
    print(f"duplicate_groups over {n} documents: {seconds:.1f} s")
    assert len(groups) == 2 * (n // 50)
    assert all(groups[f"copy{i:05d}"] == groups[f"d{i:05d}"] for i in range(n // 50))
