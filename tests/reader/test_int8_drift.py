"""The windows `benchmarks.reader_int8_drift` scores: the first sentence of a supporting document
that states every answer element, with its neighbours, as the engine reads one."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.reader_int8_drift import answer_windows


def _write(folder: Path, docs: list[dict], questions: list[dict]) -> Path:
    folder.mkdir()
    for name, rows in (("corpus.jsonl", docs), ("questions.jsonl", questions)):
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_answer_windows_take_the_answering_sentence_with_its_neighbours(tmp_path: Path) -> None:
    text = "第一句。北京大学創建於1898年。第三句。第四句。"
    docs = [{"id": "d1", "text": text, "title": "北大"}, {"id": "d2", "text": "无关。"}]
    questions = [
        {
            "id": "q1",
            "question": "北大哪年创建？",
            "answerable": True,
            "answers": ["1898年"],
            "supporting_ids": ["d2", "d1"],
        },
        # folded as the eval grades: simplified 创建 matches traditional 創建
        {
            "id": "q2",
            "question": "北大创建于？",
            "answerable": True,
            "answers": ["创建", "1898"],
            "supporting_ids": ["d1"],
        },
        {
            "id": "q3",
            "question": "没有？",
            "answerable": False,
            "answers": [],
            "supporting_ids": [],
        },
        {
            "id": "q4",
            "question": "长答案？",
            "answerable": True,
            "answers": ["第一句。北京"],
            "supporting_ids": ["d1"],
        },  # spans two sentences: no window
    ]
    pairs = answer_windows(_write(tmp_path / "set", docs, questions), limit=10)
    window = "北大\n第一句。北京大学創建於1898年。第三句。"
    assert pairs == [("北大哪年创建？", window), ("北大创建于？", window)]
    assert answer_windows(tmp_path / "set", limit=1) == [("北大哪年创建？", window)]
