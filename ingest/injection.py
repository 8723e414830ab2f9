"""Spans of document text that address the assistant rather than the reader.

Documents are untrusted input: a page may carry planted instructions ("ignore all previous
instructions", "SYSTEM:", ChatML turn markers, fake passage fences or citation markers, fake
JSON answers). They stay in the stored text (quotes stay exact) but their spans are stored with
the chunk (`Chunk.planted`), and the answer engines never use a sentence that overlaps one.

No maintained library detects prompt injection without a model we can run here, so these are
hand-written patterns, kept narrow so ordinary prose is not marked.
"""

from __future__ import annotations

import re

from core.text import to_simplified

# Part of every document's identity (ingest.pipeline): bump it when the patterns change, so
# stores ingested before re-mark every chunk.
INJECTION_VERSION = "1"

_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # English overrides: ignore/disregard/forget (all) previous/prior/above instructions
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
        r"(?:previous|prior|above|earlier|preceding|system|original)\s+"
        r"(?:instructions?|prompts?|rules?|directions?|messages?|context)",
        r"\byou\s+are\s+now\s+(?:a|an|the|in|my|no\s+longer)\b",
        r"\b(?:new|updated)\s+(?:system\s+)?instructions?\s*:",
        r"\b(?:assistant|AI|language\s+model|chatbot|LLM)\s*,?\s+(?:must|should|shall)\s+"
        r"(?:answer|reply|respond|say|output)\b",
        # Chinese overrides: 忽略/无视/忘记 (之前/以上/所有) 的 指令/指示/提示/规则
        r"(?:忽略|无视|忽视|忘记|忘掉|不要理会)[^。！？\n]{0,8}?(?:之前|以前|先前|上面|以上|上述|所有|全部|前面|原有|系统)"
        r"[^。！？\n]{0,6}?(?:指令|指示|提示|规则|要求|设定|命令)",
        r"你现在(?:是|扮演|成为)",
        r"(?:新的?|最新)(?:系统)?指令\s*[:：]",
        r"(?:助手|AI|模型|机器人)[^。！？\n]{0,4}(?:必须|应当|应该)(?:回答|回复|输出|说)",
        # Role / turn markers at a line or sentence start, ChatML and similar special tokens
        r"(?m)(?:^|(?<=[.!?。！？])|(?<=[.!?]\s))[ \t]*(?:system|assistant|user|human|系统|助手|用户)"
        r"\s*[:：]",
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>",
        r"\[/?INST\]|<<\s*/?SYS\s*>>",
        # Passage-fence look-alikes: </passage>, <passage n=3>, <document ...>
        r"</?\s*(?:passage|document|context|source)\b[^>]{0,40}>",
        # Fake citation markers the prompt format uses: [passage 3], 【3】, [^3]
        r"\[(?:passage|source|doc)\s*\d+\]|【\s*\d{1,2}\s*】|\[\^\d+\]",
        # Fake JSON answers: {"answer": ...} / {"sentences": ...}
        r"\{\s*\"(?:answer|sentences|claims|citations|refused)\"\s*:",
    )
)


def find_planted(text: str) -> tuple[tuple[int, int], ...]:
    """Sorted, merged (start, end) spans of `text` that address the assistant.

    Traditional Chinese is matched through its simplified form when the conversion keeps the
    text's length (OpenCC maps character for character almost always), so offsets still hold.
    """
    folded = to_simplified(text)
    texts = {text, folded} if len(folded) == len(text) else {text}
    spans = sorted((m.start(), m.end()) for t in texts for p in _PATTERNS for m in p.finditer(t))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return tuple(merged)


def overlaps(spans: tuple[tuple[int, int], ...], start: int, end: int) -> bool:
    """Whether [start, end) overlaps any of `spans`."""
    return any(s < end and start < e for s, e in spans)
