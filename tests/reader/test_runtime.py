"""The reader without torch: merge, cache, heads; equal to the torch module when torch is there."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from core.encoder import Encoder
from reader import export, runtime
from reader.runtime import Reader, ensure_reader
from reader.tokens import PairTokenizer, best_span
from tests.reader.tiny_e5 import tiny_weights, write_folder

SHAPES = {
    "q": (32, 32),
    "k": (32, 32),
    "v": (32, 32),
    "ao": (32, 32),
    "fi": (64, 32),
    "fo": (32, 64),
}
WINDOWS = [
    "T\nparis was founded in 1898 by rollo.",
    "北京大学\n北京大学创建于1898年。",
    "T\nthe year",
]


def _learned(zero_lora: bool, seed: int = 1, rank: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {"lora.scale": np.array(2.0, np.float32)}
    for i in range(2):
        for name, (o, n) in SHAPES.items():
            out[f"l{i}.{name}.lora_a"] = rng.normal(0, 0.3, (rank, n)).astype(np.float32)
            b = rng.normal(0, 0.3, (o, rank)).astype(np.float32)
            out[f"l{i}.{name}.lora_b"] = np.zeros_like(b) if zero_lora else b
    out["head.answerable.w"] = rng.normal(0, 0.3, (1, 32)).astype(np.float32)
    out["head.answerable.b"] = np.array([0.1], np.float32)
    out["head.span.w"] = rng.normal(0, 0.3, (2, 32)).astype(np.float32)
    out["head.span.b"] = np.zeros(2, np.float32)
    return out


def _npz(tmp_path: Path, learned: dict[str, np.ndarray], name: str = "reader.npz") -> Path:
    path = tmp_path / name
    export.write_learned(learned, path)  # the shipped form: float16
    return path


def _source(tmp_path: Path) -> Path:
    path = tmp_path / "base.bin"  # only hashed for the cache key; the weights are passed in
    path.write_bytes(b"tiny base weights")
    return path


def test_zero_lora_reader_gives_the_base_encoders_hidden_states(tmp_path: Path) -> None:
    w = tiny_weights()
    base = Encoder(write_folder(w, tmp_path / "base"), threads=1)
    npz = _npz(tmp_path, _learned(zero_lora=True))
    folder = ensure_reader(tmp_path / "cache", npz, _source(tmp_path), quantise=False, weights=w)
    reader_enc = Encoder(folder, threads=1)
    seqs = [[0, 7, 8, 2, 2, 9, 10, 2], [0, 5, 2]]
    for a, b in zip(reader_enc.forward(seqs, "hidden"), base.forward(seqs, "hidden"), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_merge_folds_the_adapter_into_the_weights() -> None:
    w, learned = tiny_weights(), _learned(zero_lora=False)
    merged = runtime.merge(w, learned)
    a, b = learned["l1.fo.lora_a"], learned["l1.fo.lora_b"]
    np.testing.assert_allclose(
        merged.tensors["l1.fo.w"], w.tensors["l1.fo.w"] + 2.0 * b @ a, rtol=1e-6
    )
    assert merged.tensors["emb.word"] is w.tensors["emb.word"]  # untouched tensors are shared


def test_cache_reuses_rebuilds_and_keys_on_the_learned_file(tmp_path: Path, caplog) -> None:
    w, src = tiny_weights(), _source(tmp_path)
    npz = _npz(tmp_path, _learned(zero_lora=False))
    folder = ensure_reader(tmp_path / "cache", npz, src, weights=w)
    assert json.loads((folder / "meta.json").read_text())["int8"] is True
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert ensure_reader(tmp_path / "cache", npz, src, weights=w) == folder
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp  # reused, not rebuilt
    (folder / "model.onnx").write_bytes(b"broken")
    assert ensure_reader(tmp_path / "cache", npz, src, weights=w) == folder
    assert "model.onnx does not match" in caplog.text and runtime.verify(folder) is None
    other = _npz(tmp_path, _learned(zero_lora=False, seed=2), "other.npz")
    assert ensure_reader(tmp_path / "cache", other, src, weights=w) != folder
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir() and p.name[0] == "."]


def test_two_processes_building_one_reader_wait_for_each_other(tmp_path: Path, monkeypatch) -> None:
    """Two builds of one folder at once (a calibration beside an eval): the second waits for the
    first and uses its folder, where it used to fail renaming onto it."""
    w, src = tiny_weights(), _source(tmp_path)
    npz = _npz(tmp_path, _learned(zero_lora=False))
    inside, build = threading.Barrier(2), runtime.build

    def slow_build(*args, **kwargs) -> None:  # both builders inside at once, unless one waits
        with contextlib.suppress(threading.BrokenBarrierError):
            inside.wait(timeout=1.0)
        build(*args, **kwargs)

    monkeypatch.setattr(runtime, "build", slow_build)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(ensure_reader, tmp_path / "c", npz, src, True, w) for _ in range(2)]
        folders = [f.result() for f in futures]
    assert folders[0] == folders[1] and runtime.verify(folders[0]) is None


def test_a_pair_of_two_chinese_scripts_is_read_folded_to_simplified(monkeypatch) -> None:
    q, w = "Orion R300 在台湾卖多少钱？", "T\nOrion R300 在台灣的建議售價為新台幣18,900元。"
    folded = "T\nOrion R300 在台湾的建议售价为新台币18,900元。"
    assert runtime.same_script(q, w) == (q, folded)  # simplified question, traditional window
    assert runtime.same_script("在台灣賣多少錢？", folded) == ("在台湾卖多少钱？", folded)
    for pair in ((q, folded), ("在台灣賣多少錢？", w), ("how much in taiwan?", w)):
        assert runtime.same_script(*pair) == pair  # one script, or not both Chinese: as written
    # folding that would move the window's offsets (its spans index it): as written
    monkeypatch.setattr(runtime, "to_simplified", lambda text: text + "x")
    assert runtime.same_script(q, w) == (q, w)


def test_the_reader_scores_a_mixed_script_pair_as_its_folded_form(tmp_path: Path) -> None:
    w, src = tiny_weights(), _source(tmp_path)
    npz = _npz(tmp_path, _learned(zero_lora=False))
    reader = Reader(ensure_reader(tmp_path / "c", npz, src, quantise=False, weights=w), threads=1)
    q, window = "北京大学哪年创建？", "北京大學\n北京大學創建於1898年。"
    folded_q, folded_w = runtime.same_script(q, window)
    assert folded_w != window
    assert reader.score(q, [window]) == reader.score(folded_q, [folded_w], fold_scripts=False)
    assert reader.score(q, [window], fold_scripts=False) != reader.score(q, [window])
    ((_, span),) = reader.score(q, [window])  # offsets into the window as written
    assert span is not None and window[span[0] : span[1]]


def test_missing_learned_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="reader.export"):
        ensure_reader(tmp_path / "c", tmp_path / "absent.npz", _source(tmp_path))


def test_int8_reader_scores_close_to_fp32(tmp_path: Path) -> None:
    w, src = tiny_weights(), _source(tmp_path)
    npz = _npz(tmp_path, _learned(zero_lora=False))
    fp32 = Reader(ensure_reader(tmp_path / "c", npz, src, quantise=False, weights=w), threads=1)
    int8 = Reader(ensure_reader(tmp_path / "c", npz, src, quantise=True, weights=w), threads=1)
    p32 = [p for p, _ in fp32.score("who founded paris?", WINDOWS)]
    p8 = [p for p, _ in int8.score("who founded paris?", WINDOWS)]
    assert max(abs(a - b) for a, b in zip(p32, p8, strict=True)) < 0.1


def test_runtime_scores_equal_the_torch_modules(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from reader.model import ReaderModel

    w = tiny_weights()
    learned = _learned(zero_lora=False)
    npz = _npz(tmp_path, learned)
    shipped = runtime.load_learned(npz)  # float16 round trip: both sides use the same values
    model = ReaderModel(w, rank=4, alpha=8.0).eval()
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            for name in SHAPES:
                layer[name].lora_a.copy_(torch.from_numpy(shipped[f"l{i}.{name}.lora_a"]))
                layer[name].lora_b.copy_(torch.from_numpy(shipped[f"l{i}.{name}.lora_b"]))
        model.answerable.weight.copy_(torch.from_numpy(shipped["head.answerable.w"]))
        model.answerable.bias.copy_(torch.from_numpy(shipped["head.answerable.b"]))
        model.span.weight.copy_(torch.from_numpy(shipped["head.span.w"]))
        model.span.bias.copy_(torch.from_numpy(shipped["head.span.b"]))
    reader = Reader(
        ensure_reader(tmp_path / "c", npz, _source(tmp_path), quantise=False, weights=w), threads=1
    )
    got = reader.score("who founded paris?", WINDOWS)
    tok = PairTokenizer(write_folder(w, tmp_path / "enc"))
    for window, (p, span) in zip(WINDOWS, got, strict=True):
        pair = tok.pair("who founded paris?", window, 256)
        ids = torch.tensor([pair.ids])
        with torch.no_grad():
            out = model(ids, torch.ones_like(ids))
        assert abs(torch.sigmoid(out["answerable"]).item() - p) < 1e-4
        start, end = out["start"][0].numpy(), out["end"][0].numpy()
        (s, e), best = best_span(start, end, pair)
        assert span == (pair.char_span(s, e) if best > start[0] + end[0] else None)


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def test_an_ensemble_reads_the_mean_of_its_members_logits(tmp_path: Path) -> None:
    w, src = tiny_weights(), _source(tmp_path)
    folders = [
        ensure_reader(
            tmp_path / "c",
            _npz(tmp_path, _learned(False, seed=s), f"{s}.npz"),
            src,
            quantise=False,
            weights=w,
        )
        for s in (1, 2)
    ]
    one, two = (Reader(f, threads=1) for f in folders)
    both = Reader(folders, threads=1)
    q = "who founded paris?"
    alone = [one.score(q, WINDOWS), two.score(q, WINDOWS)]
    assert [p for p, _ in alone[0]] != [p for p, _ in alone[1]]
    tok = PairTokenizer(folders[0])
    encoders = [Encoder(f, threads=1) for f in folders]
    heads = [runtime.load_learned(f / "heads.npz") for f in folders]
    for k, (p, span) in enumerate(both.score(q, WINDOWS)):
        mean = (_logit(alone[0][k][0]) + _logit(alone[1][k][0])) / 2
        assert p == pytest.approx(1.0 / (1.0 + np.exp(-mean)), abs=1e-6)
        # the span: the best over the members' mean start and end logits
        pair = tok.pair(q, WINDOWS[k], both.seq_len)
        logits = [
            runtime.head_logits(e.forward([pair.ids], "hidden")[0], h)
            for e, h in zip(encoders, heads, strict=True)
        ]
        start = np.mean([lg[1] for lg in logits], axis=0)
        end = np.mean([lg[2] for lg in logits], axis=0)
        (a, b), best = best_span(start, end, pair)
        assert span == (pair.char_span(a, b) if best > start[0] + end[0] else None)
    assert Reader([folders[0]], threads=1).score(q, WINDOWS) == alone[0]


def test_an_ensemble_of_two_tokenizers_is_refused(tmp_path: Path) -> None:
    w, npz = tiny_weights(), _npz(tmp_path, _learned(False))
    a = ensure_reader(tmp_path / "c", npz, _source(tmp_path), quantise=False, weights=w)
    b = tmp_path / "other"
    shutil.copytree(a, b)
    tok = json.loads((b / "tokenizer.json").read_text(encoding="utf-8"))
    tok["model"]["vocab"][-1][1] -= 1.0  # another base model's vocabulary
    (b / "tokenizer.json").write_text(json.dumps(tok), encoding="utf-8")
    Reader([a, shutil.copytree(a, tmp_path / "same")], threads=1)  # one tokenizer: accepted
    with pytest.raises(ValueError, match="one base model"):
        Reader([a, b], threads=1)


def test_members_are_named_by_the_first_readers_calibration_file(tmp_path: Path) -> None:
    npz = _npz(tmp_path, _learned(False))
    assert runtime.members(npz) == [npz]  # no reader.json: the reader alone
    npz.with_suffix(".json").write_text(json.dumps({"threshold": 0.1}))
    assert runtime.members(npz) == [npz]
    npz.with_suffix(".json").write_text(json.dumps({"members": ["sub/other.npz"]}))
    assert runtime.members(npz) == [npz, tmp_path / "sub" / "other.npz"]
    npz.with_suffix(".json").write_text(json.dumps({"members": "other.npz"}))
    with pytest.raises(ValueError, match="members"):
        runtime.members(npz)
