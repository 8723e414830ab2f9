"""How far the int8 reader's P(answers) drifts from the float32 model's, on the windows that hold a
question set's answers (and, with --data, on the reader's dev pairs beside them).

`python -m reader.calibrate --fp32` checks int8 against fp32 on the dev split the thresholds are
chosen on; this checks it on the documents a set asks about, where the quantiser's one scale per
activation tensor may meet activations the dev split never produced. No eval run needed:

    python -m benchmarks.reader_int8_drift --dataset ../shared/benchmarks/rgb-zh \
        [--data D] [--limit 300] [--keep-fp32 l0.fo.mm,l1.fo.mm]

For each answerable question (first --limit), the first sentence of a supporting document that
holds every required answer element (folded, as the eval grades) becomes a window as the engine
reads one (`engine.read`): the document's title line, then the sentence with the one before and
the one after. Both models score (question, window); printed: mean P of each, the mean and max
|P(int8) - P(fp32)|, and the share of windows under P 0.2 for each. --keep-fp32 also builds an
int8 variant that leaves the named MatMul nodes (`l{layer}.{q,k,v,ao,fi,fo}.mm`) in float32 and
scores it and its CPU time a pair beside the shipped int8 model.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.encoder_build import default_source
from core.sentences import sentence_spans
from eval import datasets
from eval.metrics import contains_element
from reader.data import CROSS_SOURCES, read_examples
from reader.runtime import Reader, asked, ensure_reader


def answer_windows(dataset: Path, limit: int) -> list[tuple[str, str]]:
    """(question, window) for the answerable questions (`eval.datasets.load`) whose supporting
    documents state the answer in one sentence."""
    docs = {}
    for line in (dataset / "corpus.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            docs[d["id"]] = d
    out = []
    for q in datasets.load(dataset).questions:
        if not q.answerable:
            continue
        window = None
        for doc in (docs[i] for i in q.supporting_ids if i in docs):
            text, spans = doc["text"], sentence_spans(doc["text"])
            for i, (a, b) in enumerate(spans):
                if all(contains_element(text[a:b], alts) for alts in q.accepted()):
                    lo, hi = spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
                    window = f"{(doc.get('title') or '').strip()}\n{text[lo:hi]}"
                    break
            if window is not None:
                break
        if window is not None:
            out.append((q.question, window))
        if len(out) >= limit:
            break
    return out


def variant(int8_folder: Path, fp32_folder: Path, keep: Sequence[str], dest: Path) -> Path:
    """The reader quantised as the runtime does (`core.encoder_build.write_model`) but with the
    MatMul nodes `keep` left in float32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dest.mkdir()
    for name in ("tokenizer.json", "normalizer.json", "heads.npz"):
        shutil.copy(int8_folder / name, dest / name)
    quantize_dynamic(
        fp32_folder / "model.onnx",
        dest / "model.onnx",
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        nodes_to_exclude=list(keep),
    )
    return dest


def score(reader: Reader, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, float]:
    """P per pair, one pair at a time (as the engine's sizes vary), and CPU-s a pair."""
    t = time.process_time()
    p = [reader.score(asked(q), [w])[0][0] for q, w in pairs]
    return np.asarray(p), (time.process_time() - t) / max(1, len(pairs))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--data", type=Path, help="reader.data's --out: also its dev pairs")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--learned", type=Path, default=Path("engine/models/reader.npz"))
    ap.add_argument("--encoder-cache", type=Path, default=Path(".data/encoder"))
    ap.add_argument("--keep-fp32", default="", help="comma-separated MatMul node names")
    args = ap.parse_args(argv)
    default_source()
    if not (args.dataset / "corpus.jsonl").is_file():
        ap.error(f"{args.dataset} has no corpus.jsonl (the benchmark format: ../shared/benchmarks)")
    sets = {args.dataset.name: answer_windows(args.dataset, args.limit)}
    if args.data:
        dev = [e for e in read_examples(args.data / "dev.jsonl") if e.source not in CROSS_SOURCES]
        sample = random.Random(13).sample(dev, min(args.limit, len(dev)))
        sets["dev pairs"] = [(e.question, e.window) for e in sample]
    int8_folder = ensure_reader(args.encoder_cache, args.learned)
    fp32_folder = ensure_reader(args.encoder_cache, args.learned, quantise=False)
    models = {"int8": Reader(int8_folder, threads=1), "fp32": Reader(fp32_folder, threads=1)}
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep_fp32:
            keep = [k.strip() for k in args.keep_fp32.split(",") if k.strip()]
            folder = variant(int8_folder, fp32_folder, keep, Path(tmp) / "variant")
            models[f"int8, {len(keep)} kept fp32"] = Reader(folder, threads=1)
        for name, pairs in sets.items():
            if not pairs:  # e.g. clapnq-en: long answers, no one sentence holds a whole one
                print(f"{name}: no answer is stated whole in one sentence; nothing to score")
                continue
            scored = {m: score(r, pairs) for m, r in models.items()}
            ref = scored["fp32"][0]
            print(f"{name}: {len(pairs)} (question, window) pairs")
            for m, (p, cpu) in scored.items():
                d = np.abs(p - ref)
                print(
                    f"  {m:22s} mean P {p.mean():.3f}  P < 0.2 {np.mean(p < 0.2):.3f}  "
                    f"|P - P(fp32)| mean {d.mean():.3f} max {d.max():.3f}  "
                    f"{cpu * 1000:.1f} CPU-ms a pair"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
