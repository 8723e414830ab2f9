"""How much a reader's P follows word overlap: dev pairs binned by `reader.data.absent_share`.

    python -m benchmarks.reader_overlap --data D8 --learned A/reader.npz [B/reader.npz ...]
        [--limit 1500]

Scores the same seeded dev pairs as `reader.calibrate --limit N` (same-language pairs only) with
each reader (int8 runtime) and prints, per reader: the AUROC; per bin of the share of the
question's content words the window lacks (none, up to a quarter, a quarter to half, over half),
the median P and the share under 0.25 of the answering and of the other windows; the AUROC within
the pairs of a quarter or less missing and of more; the threshold that keeps `--keep` of the
answering windows and what it refuses by negative kind (`reader.calibrate.figures`); and the
AUROC of the share alone. The figures of the reader card's "Word overlap decides too much".
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reader.calibrate import figures, keep_threshold, same_language_sample, score_all
from reader.data import absent_share, language_of, read_examples
from reader.metrics import auroc
from reader.runtime import Reader, ensure_reader

BINS = ("none", "up to 1/4", "1/4 to 1/2", "over 1/2")


def bin_of(share: float) -> int:
    return 0 if share == 0 else 1 if share <= 0.25 else 2 if share <= 0.5 else 3


def by_bin(labels: Sequence[bool], shares: Sequence[float], probs: Sequence[float]) -> dict:
    """Per bin and class: pairs, median P and the share of P under 0.25 (bins without pairs of a
    class are left out); and the AUROC within pairs of a quarter or less missing and of more."""
    out: dict = {"answering": {}, "other": {}}
    for want, key in ((True, "answering"), (False, "other")):
        for b, name in enumerate(BINS):
            ps = [
                p
                for y, s, p in zip(labels, shares, probs, strict=True)
                if y == want and bin_of(s) == b
            ]
            if ps:
                out[key][name] = {
                    "pairs": len(ps),
                    "median_p": round(float(np.median(ps)), 3),
                    "under_0.25": round(float(np.mean(np.asarray(ps) < 0.25)), 3),
                }
    for name, low in (("auroc_up_to_1/4", True), ("auroc_more", False)):
        sel = [i for i, s in enumerate(shares) if (s <= 0.25) == low]
        out[name] = round(auroc([labels[i] for i in sel], [probs[i] for i in sel]), 4)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="--out of reader.data")
    ap.add_argument("--learned", type=Path, nargs="+", required=True, help="reader.npz files")
    ap.add_argument("--limit", type=int, default=1500, help="seeded dev pairs, as calibrate's")
    ap.add_argument("--keep", type=float, default=0.95)
    ap.add_argument("--encoder-cache", type=Path, default=Path(".data/encoder"))
    args = ap.parse_args(argv)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    dev = same_language_sample(read_examples(args.data / "dev.jsonl"), args.limit)
    labels = [ex.answerable for ex in dev]
    kinds = [ex.kind for ex in dev]
    shares = [absent_share(ex.question, ex.window, language_of(ex.window)) for ex in dev]
    out: dict = {
        "pairs": len(dev),
        "auroc_of_share_alone": round(auroc(labels, [-s for s in shares]), 4),
    }
    for learned in args.learned:
        probs = score_all(Reader(ensure_reader(args.encoder_cache, learned), threads=1), dev)
        t = keep_threshold(labels, probs, args.keep)
        out[str(learned)] = {
            "auroc": round(auroc(labels, probs), 4),
            **by_bin(labels, shares, probs),
            "threshold": round(t, 4),
            "at_threshold": figures(labels, probs, kinds, t),
        }
    print(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
