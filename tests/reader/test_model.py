"""The torch reader mirrors core.encoder_build's graph and learns (skipped without torch)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.encoder import Encoder  # noqa: E402
from core.encoder_build import E5Weights, default_source, ensure_model, read_weights  # noqa: E402
from reader import train as train_mod  # noqa: E402
from reader.data import Example  # noqa: E402
from reader.model import ReaderModel, group_loss, loss_fn, mean_pooled  # noqa: E402
from reader.tokens import PairTokenizer  # noqa: E402
from tests.reader.tiny_e5 import tiny_weights, write_folder  # noqa: E402

TEXTS = ["query: 北京大学创建于哪一年？", "passage: paris was founded by rollo.", "the year"]


def _hidden_both(w, folder: Path, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    enc = Encoder(folder, threads=1)
    model = ReaderModel(w, rank=4).eval()
    out = []
    for ids in enc.tokenize(texts):
        seq = [w.bos, *ids, w.eos]
        onnx_pooled = enc.forward([seq])[0]
        onnx_hidden = enc.forward([seq], output="hidden")[0]
        t = torch.tensor([seq])
        with torch.no_grad():
            h = model.encode(t, torch.ones_like(t))
        out.append((onnx_hidden, h[0].numpy()))
        torch_pooled = mean_pooled(h, torch.ones_like(t))[0].numpy()
        cos = (
            onnx_pooled @ torch_pooled / np.linalg.norm(onnx_pooled) / np.linalg.norm(torch_pooled)
        )
        assert cos > 0.999
    return out


def test_zero_lora_forward_equals_the_onnx_graph_on_a_tiny_model(tmp_path: Path) -> None:
    w = tiny_weights()
    for onnx_h, torch_h in _hidden_both(w, write_folder(w, tmp_path / "enc"), TEXTS):
        np.testing.assert_allclose(torch_h, onnx_h, atol=2e-4)


def test_padding_does_not_change_the_hidden_states() -> None:
    model = ReaderModel(tiny_weights(), rank=4).eval()
    ids = torch.tensor([[0, 10, 11, 2, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        a = model.encode(ids, mask)[0, :4]
        b = model.encode(ids[:, :4], mask[:, :4])[0]
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_only_adapters_and_heads_train() -> None:
    model = ReaderModel(tiny_weights(), rank=4)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all("lora_" in n or n.startswith(("answerable", "span")) for n in names)
    assert sum(1 for n in names if n.endswith("lora_a")) == 2 * 6


def _examples() -> list[Example]:
    out = []
    for i in range(8):
        window = f"T\nparis was founded in {1890 + i} by rollo."
        a = window.index("18")
        yes = i % 2 == 0
        out.append(
            Example(
                f"q{i}",
                "s",
                f"a{i}",
                "who founded paris?" if yes else "what is the year?",
                window,
                yes,
                (a, a + 4) if yes else None,
                "positive" if yes else "other_window",
            )
        )
    return out


def test_tiny_overfit_lowers_the_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    w = tiny_weights()
    tok = PairTokenizer(write_folder(w, tmp_path / "enc"))
    exs = _examples()
    feats = train_mod.featurise(tok, exs, 64)
    assert all(f["start"] > 0 for f, e in zip(feats, exs, strict=True) if e.answerable)
    model = ReaderModel(w, rank=4)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    batch = train_mod.collate(feats, tok.pad, torch.device("cpu"))
    losses = []
    for _ in range(30):
        loss = loss_fn(model(batch["ids"], batch["mask"]), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    figures = train_mod.evaluate(model, feats, exs, tok.pad, torch.device("cpu"), 4)
    assert figures["auroc"] == 1.0 and figures["span_exact_match"] == 1.0


def _tiny_training(tmp_path: Path) -> tuple[E5Weights, Path, Path]:
    """Tiny weights, their encoder folder and a data folder of _examples() as train and dev."""
    w = tiny_weights()
    folder = write_folder(w, tmp_path / "enc")
    data = tmp_path / "data"
    data.mkdir()
    for part in ("train", "dev"):
        (data / f"{part}.jsonl").write_text(
            "".join(e.to_json() + "\n" for e in _examples()), "utf-8"
        )
    return w, folder, data


def test_training_checkpoints_and_resumes(tmp_path: Path) -> None:
    w, folder, data = _tiny_training(tmp_path)
    args = ["--data", str(data), "--out", str(tmp_path / "out"), "--device", "cpu", "--batch", "4"]
    args += ["--seq-len", "64", "--lr", "3e-3", "--rank", "4", "--checkpoint-every", "5"]
    parse = train_mod.parser().parse_args
    train_mod.train(parse([*args, "--max-steps", "10"]), weights=w, folder=folder)
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text("utf-8"))
    assert summary["steps"] == 10 and summary["dev"]["examples"] == 8
    assert (tmp_path / "out" / "checkpoint.pt").is_file()
    train_mod.train(parse([*args, "--max-steps", "14", "--resume"]), weights=w, folder=folder)
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text("utf-8"))
    assert summary["steps"] == 14 and summary["start_step"] == 10
    learned = np.load(tmp_path / "out" / "learned.npz")
    assert learned["l0.q.lora_b"].shape == (32, 4) and np.abs(learned["l0.q.lora_b"]).sum() > 0


def _tiny_runner(tmp_path: Path) -> tuple[E5Weights, Callable[..., None]]:
    """The tiny weights, and a function that runs reader.train on _tiny_training's data with
    the shared small settings plus the given arguments (--out, --max-steps, ...)."""
    w, folder, data = _tiny_training(tmp_path)
    args = ["--data", str(data), "--device", "cpu", "--batch", "4", "--seq-len", "64"]
    args += ["--lr", "3e-3", "--rank", "4"]

    def run(*extra: str) -> None:
        train_mod.train(train_mod.parser().parse_args([*args, *extra]), weights=w, folder=folder)

    return w, run


def test_training_starts_from_a_learned_part(tmp_path: Path) -> None:
    w, run = _tiny_runner(tmp_path)
    run("--out", str(tmp_path / "a"), "--max-steps", "8")
    trained = dict(np.load(tmp_path / "a" / "learned.npz"))
    shipped = tmp_path / "shipped.npz"  # as reader.export ships it: float16
    np.savez(shipped, **{k: v.astype(np.float16) for k, v in trained.items()})
    out = tmp_path / "b"
    run("--out", str(out), "--max-steps", "0", "--init", str(shipped))
    started = dict(np.load(out / "learned.npz"))
    for k, v in trained.items():
        assert np.allclose(started[k], v.astype(np.float16), atol=1e-6), k
    fresh = tmp_path / "c"
    run("--out", str(fresh), "--max-steps", "0")
    assert not np.allclose(np.load(fresh / "learned.npz")["head.span.w"], trained["head.span.w"])
    # another rank is refused, not silently mixed
    with pytest.raises(ValueError, match="scale"):
        ReaderModel(w, rank=8, alpha=16.0).load_learned(trained)


@pytest.mark.slow
def test_zero_lora_matches_the_real_fp32_encoder(tmp_path: Path) -> None:
    w = read_weights(default_source())
    folder = ensure_model(tmp_path / "cache", quantise=False)
    texts = [
        "query: 2021年全国粮食产量是多少？",
        "passage: 報銷差旅費要在幾天內提交",
        "passage: The Normans gave their name to Normandy.",
    ]
    _hidden_both(w, folder, texts)


def test_batches_without_grouping_are_the_earlier_order() -> None:
    for n in (3, 16, 37):
        old = train_mod._order(n, 5, 2)
        want = [old[i * 4 : (i + 1) * 4] for i in range(n // 4)] or [old]
        assert train_mod.batches([1] * n, 4, 5, 2) == want


def test_batches_grouped_by_length_pad_less_and_keep_each_pair_once() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(20, 190) for _ in range(1003)]
    grouped = train_mod.batches(lengths, 16, 7, 0, group=10)
    assert grouped == train_mod.batches(lengths, 16, 7, 0, group=10)  # resumable
    assert grouped != train_mod.batches(lengths, 16, 7, 1, group=10)  # another epoch
    flat = [i for b in grouped for i in b]
    assert len(grouped) == 1003 // 16 and all(len(b) == 16 for b in grouped)
    assert len(set(flat)) == len(flat)

    def padded(bs: list) -> int:
        return sum(16 * max(lengths[i] for i in b) for b in bs)

    assert padded(grouped) < 0.8 * padded(train_mod.batches(lengths, 16, 7, 0))


def test_training_grouped_by_length_runs_and_resumes(tmp_path: Path) -> None:
    w, folder, data = _tiny_training(tmp_path)
    args = ["--data", str(data), "--out", str(tmp_path / "out"), "--device", "cpu", "--batch", "2"]
    args += ["--seq-len", "64", "--rank", "4", "--group-by-length", "2"]
    parse = train_mod.parser().parse_args
    train_mod.train(parse([*args, "--max-steps", "5"]), weights=w, folder=folder)
    train_mod.train(parse([*args, "--max-steps", "9", "--resume"]), weights=w, folder=folder)
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text("utf-8"))
    assert summary["steps"] == 9 and summary["start_step"] == 5


def test_learning_rate_warms_up_then_decays_to_zero_at_max_steps() -> None:
    f = train_mod.lr_factor
    assert [f(s, "linear", 4, 12) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4, "linear", 4, 12) == 1.0 and f(8, "linear", 4, 12) == 0.5
    assert f(12, "linear", 4, 12) == 0.0 and f(20, "linear", 4, 12) == 0.0
    assert [f(s, "constant", 2, 12) for s in (0, 1, 2, 11, 50)] == [0.5, 1.0, 1.0, 1.0, 1.0]
    assert f(0, "constant", 0, train_mod.NO_STEP_LIMIT) == 1.0  # earlier recipes: constant


def test_precision_auto_uses_bfloat16_only_where_the_cpu_has_it(monkeypatch) -> None:
    cpu = torch.device("cpu")
    assert train_mod.autocast_dtype("fp32", cpu) is None
    assert train_mod.autocast_dtype("bf16", cpu) is torch.bfloat16
    monkeypatch.setattr(train_mod, "bf16_native", lambda: False)
    assert train_mod.autocast_dtype("auto", cpu) is None
    assert train_mod.autocast_dtype("auto", torch.device("cuda")) is torch.bfloat16
    monkeypatch.setattr(train_mod, "bf16_native", lambda: True)
    assert train_mod.autocast_dtype("auto", cpu) is torch.bfloat16


def test_bf16_native_reads_the_cpu_flags_not_onednn_alone() -> None:
    flags = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_vnni{}\n"
    assert not train_mod.bf16_native(flags.format(""))  # AVX-512 without BF16: emulated
    assert train_mod.bf16_native(flags.format(" avx512_bf16"))
    assert train_mod.bf16_native(flags.format(" amx_bf16 amx_tile"))
    assert isinstance(train_mod.bf16_native(""), bool)  # no flags: oneDNN's check


def test_bfloat16_and_fp32_training_agree_on_a_tiny_model(tmp_path: Path) -> None:
    """Autocast changes the matmuls' precision, not the recipe: same first loss within bf16's
    rounding, both learn, and the summary says which ran."""
    w, folder, data = _tiny_training(tmp_path)
    args = ["--data", str(data), "--device", "cpu", "--batch", "4", "--seq-len", "64"]
    args += ["--lr", "3e-3", "--rank", "4", "--max-steps", "30", "--schedule", "linear"]
    args += ["--warmup", "3"]
    parse = train_mod.parser().parse_args
    runs = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        train_mod.train(
            parse([*args, "--out", str(out), "--precision", precision]), weights=w, folder=folder
        )
        runs[precision] = json.loads((out / "train_summary.json").read_text("utf-8"))
    assert runs["fp32"]["autocast"] is None and runs["bf16"]["autocast"] == "torch.bfloat16"
    # bf16's rounding moves the loss a little: equal losses would mean autocast never ran
    assert 0 < abs(runs["fp32"]["first_loss"] - runs["bf16"]["first_loss"]) < 0.05
    for r in runs.values():
        assert r["steps"] == 30 and r["last_loss"] < 0.7 * r["first_loss"]


def test_a_linear_schedule_needs_max_steps(tmp_path: Path) -> None:
    w, folder, data = _tiny_training(tmp_path)
    args = ["--data", str(data), "--out", str(tmp_path / "o"), "--device", "cpu"]
    with pytest.raises(SystemExit, match="max-steps"):
        train_mod.train(
            train_mod.parser().parse_args([*args, "--schedule", "linear"]),
            weights=w,
            folder=folder,
        )


def test_train_layers_trains_the_top_adapters_only_and_resume_keeps_the_rest(
    tmp_path: Path,
) -> None:
    """--train-layers 1 on the two-layer tiny model: the bottom layer's adapters keep the values
    --init gave them (also through a checkpoint and --resume), the top layer's and the heads
    learn; out of range is refused."""
    _, run = _tiny_runner(tmp_path)
    run("--out", str(tmp_path / "a"), "--max-steps", "6")
    init = tmp_path / "a" / "learned.npz"
    start = dict(np.load(init))
    out = tmp_path / "b"
    top = ["--out", str(out), "--init", str(init), "--train-layers", "1", "--checkpoint-every", "3"]
    run(*top, "--max-steps", "4")
    run(*top, "--max-steps", "8", "--resume")
    summary = json.loads((out / "train_summary.json").read_text("utf-8"))
    assert summary["steps"] == 8 and summary["start_step"] == 4
    learned = dict(np.load(out / "learned.npz"))
    bottom = [k for k in start if k.startswith("l0.")]
    upper = [k for k in start if k.startswith("l1.") and k.endswith("lora_b")]
    assert len(bottom) == 12 and len(upper) == 6
    for k in bottom:
        np.testing.assert_array_equal(learned[k], start[k], err_msg=k)
    assert all(not np.allclose(learned[k], start[k]) for k in upper)
    assert not np.allclose(learned["head.answerable.w"], start["head.answerable.w"])
    with pytest.raises(SystemExit, match="train-layers"):
        run("--out", str(tmp_path / "c"), "--train-layers", "3")


def test_freeze_below_leaves_autograd_nothing_to_record_below() -> None:
    model = ReaderModel(tiny_weights(), rank=4)
    model.freeze_below(1)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and not any(n.startswith("layers.0.") for n in names)
    assert sum(1 for n in names if n.endswith("lora_a")) == 6
    ids = torch.tensor([[0, 5, 6, 2]])
    seen: list[bool] = []
    model.layers[0]["fo"].register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    model.layers[1]["fo"].register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    model(ids, torch.ones_like(ids))
    assert seen == [False, True]


def test_question_key_groups_a_question_with_its_negatives() -> None:
    key = train_mod.question_key
    assert key("q7") == key("q7#c") == key("q7#w0") == key("q7*2") == "q7"
    assert key("q7~q") == key("q7#c~q") == "q7~q"  # the search-query form: another question
    assert key("q7") != key("q17")


def test_batches_by_question_keep_each_question_whole_and_each_pair_once() -> None:
    rng = random.Random(1)
    keys = [f"q{i}" for i in range(200) for _ in range(rng.randint(1, 7))]
    got = train_mod.batches_by_question(keys, 16, 3, 0)
    assert got == train_mod.batches_by_question(keys, 16, 3, 0)  # resumable
    assert got != train_mod.batches_by_question(keys, 16, 3, 1)  # another epoch
    flat = [i for b in got for i in b]
    assert sorted(flat) == list(range(len(keys)))
    assert all(0 < len(b) <= 16 for b in got)
    where = {keys[i]: n for n, b in enumerate(got) for i in b}
    assert all(where[keys[i]] == n for n, b in enumerate(got) for i in b)
    assert sum(len(b) for b in got) / len(got) > 12  # packed, not one question a batch


def test_batches_by_question_cut_a_question_longer_than_a_batch() -> None:
    got = train_mod.batches_by_question(["a"] * 5 + ["b"] * 2, 4, 0, 0)
    assert sorted(len(b) for b in got) == [2, 4]
    assert [0, 1, 2, 3] in got


def test_group_loss_ranks_each_answering_pair_against_its_own_negatives() -> None:
    logits = torch.tensor([2.0, 0.0, -1.0, 5.0, 1.0, 3.0], requires_grad=True)
    y = torch.tensor([1, 0, 0, 0, 1, 0])
    group = torch.tensor([0, 0, 0, 1, 2, 2])  # group 1: a negative alone, no term
    got = group_loss(logits, y, group)
    want = (math.log(math.exp(2) + 1 + math.exp(-1)) - 2 + math.log(math.e + math.exp(3)) - 1) / 2
    assert got.item() == pytest.approx(want, rel=1e-6)
    got.backward()
    assert logits.grad is not None and logits.grad[3] == 0 and logits.grad[0] < 0
    alone = group_loss(logits, torch.tensor([1, 1, 0, 0, 0, 0]), torch.arange(6))
    assert alone.item() == 0.0 and alone.requires_grad


def test_training_by_question_with_the_group_loss_learns_otherwise_and_resumes(
    tmp_path: Path,
) -> None:
    w, folder, data = _tiny_training(tmp_path)
    exs = _examples()
    paired = [
        replace(e, id=f"q{i - i % 2}" + ("" if e.answerable else "#c")) for i, e in enumerate(exs)
    ]
    (data / "train.jsonl").write_text("".join(e.to_json() + "\n" for e in paired), "utf-8")
    base = ["--data", str(data), "--device", "cpu", "--batch", "4", "--seq-len", "64"]
    base += ["--rank", "4", "--lr", "0.003", "--by-question"]
    parse = train_mod.parser().parse_args
    learned = {}
    for weight in ("0", "2"):
        out = tmp_path / f"out{weight}"
        args = [*base, "--out", str(out), "--group-loss", weight]
        train_mod.train(parse([*args, "--max-steps", "3"]), weights=w, folder=folder)
        train_mod.train(parse([*args, "--max-steps", "6", "--resume"]), weights=w, folder=folder)
        assert json.loads((out / "train_summary.json").read_text("utf-8"))["steps"] == 6
        with np.load(out / "learned.npz") as f:
            learned[weight] = f["head.answerable.w"]
    assert not np.allclose(learned["0"], learned["2"])  # the term is applied
    with pytest.raises(SystemExit, match="--by-question"):
        train_mod.train(
            parse([*base[:-1], "--out", str(tmp_path / "x"), "--group-loss", "1"]),
            weights=w,
            folder=folder,
        )
