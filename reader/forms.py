"""Does the question's form change the reader's judgement? `python -m reader.forms --learned
READER.npz --data D` scores the same dev pairs asked both ways, as written and in the search-query
form that `reader.data --query-forms` adds (ids ending `~q`), the query form also with the
question mark the engine adds (`reader.runtime.asked`), and the pairs as written with their
windows' title line dropped (`reader.data.without_title`, as a document without a title is
read); and the traditional-script pairs (DRCD's) with the question folded to simplified, read as
written (`mixed_as_written`) and as the runtime reads a pair of two scripts
(`mixed_same_script`: both folded, `reader.runtime.same_script`), beside those pairs unchanged
(`traditional_as_written`). It prints, per variant, the AUROC of P(answers), the AUROC by
negative kind and the mean P of the answerable windows, over all the pairs and over the English
ones (`en`). Same-language pairs only; a seeded sample of `--pairs` of them. No torch.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.text import language_of, script_of, to_simplified
from reader.calibrate import score_all
from reader.data import CROSS_SOURCES, Example, read_examples, without_title
from reader.metrics import auroc
from reader.runtime import Reader, asked, ensure_reader


def paired(dev: Sequence[Example], n: int, seed: int = 13) -> tuple[list[Example], list[Example]]:
    """(as written, query form): the same pairs in both forms, a seeded sample of n of them."""
    by_id = {ex.id: ex for ex in dev if ex.source not in CROSS_SOURCES}
    both = sorted(i for i in by_id if not i.endswith("~q") and f"{i}~q" in by_id)
    chosen = random.Random(seed).sample(both, min(n, len(both)))
    return [by_id[i] for i in chosen], [by_id[f"{i}~q"] for i in chosen]


def figures(examples: Sequence[Example], probs: Sequence[float]) -> dict:
    labels = [ex.answerable for ex in examples]
    out = {
        "pairs": len(examples),
        "auroc": round(auroc(labels, probs), 4),
        "mean_p_answerable": round(
            float(np.mean([p for p, y in zip(probs, labels, strict=True) if y])), 4
        ),
    }
    for kind in sorted({ex.kind for ex in examples} - {"positive"}):
        keep = [i for i, ex in enumerate(examples) if ex.kind in (kind, "positive")]
        out[f"auroc_{kind}"] = round(auroc([labels[i] for i in keep], [probs[i] for i in keep]), 4)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reader.forms", description=__doc__.split("\n")[0])
    ap.add_argument("--learned", type=Path, required=True, help="reader.npz")
    ap.add_argument(
        "--data", type=Path, required=True, help="reader.data --out, with --query-forms"
    )
    ap.add_argument("--pairs", type=int, default=700)
    ap.add_argument("--encoder-cache", type=Path, default=Path(".data/encoder"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    written, query = paired(read_examples(args.data / "dev.jsonl"), args.pairs)
    if not written:
        print(f"error: {args.data}/dev.jsonl has no query forms (build it with --query-forms)")
        return 2
    reader = Reader(ensure_reader(args.encoder_cache, args.learned), threads=args.threads)
    variants = {
        "as_written": written,
        "query_form": query,
        "query_form_marked": [replace(ex, question=asked(ex.question)) for ex in query],
        "as_written_untitled": [without_title(ex) for ex in written],
    }
    english = [i for i, ex in enumerate(written) if language_of(ex.question) == "en"]
    out: dict[str, dict] = {}
    for name, examples in variants.items():
        probs = score_all(reader, examples)
        out[name] = figures(examples, probs)
        out[name]["en"] = figures([examples[i] for i in english], [probs[i] for i in english])
    traditional = [ex for ex in written if script_of(ex.question) == "zh-Hant"]
    mixed = [replace(ex, question=to_simplified(ex.question)) for ex in traditional]
    if traditional:
        out["traditional_as_written"] = figures(traditional, score_all(reader, traditional))
        out["mixed_as_written"] = figures(mixed, score_all(reader, mixed, fold_scripts=False))
        out["mixed_same_script"] = figures(mixed, score_all(reader, mixed))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
