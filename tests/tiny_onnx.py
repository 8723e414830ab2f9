"""A tiny, deterministic BERT-like text-embedding model that fastembed loads offline.

Tests cannot download a real model (no network to a model hub), so this writes one: an ONNX
graph that looks up each token in a fixed random embedding table, plus tokenizer files built
with the `tokenizers` library. fastembed then runs its real code path on it (tokenizer loading,
padding, onnxruntime session, mean pooling, normalization).

Usage (fastembed 0.9.x)::

    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    build_tiny_onnx_model(folder, dim=16)
    try:
        TextEmbedding.add_custom_model(
            model="local/tiny-test",
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf="local/tiny-test"),  # never contacted with specific_model_path
            dim=16,
            model_file="model.onnx",  # the default is "onnx/model.onnx"
        )
    except ValueError:
        pass  # already registered in this process: the registry is class-level and global
    model = TextEmbedding(
        model_name="local/tiny-test",
        cache_dir=str(tmp_path / "fastembed_cache"),  # created (mkdir) even though unused
        specific_model_path=str(folder),
    )
    vectors = list(model.embed(["refund window", "vpn setup"]))  # float32 arrays of shape (16,)

Notes on fastembed's loader, as of 0.9.1:

* `TextEmbedding.add_custom_model` raises `ValueError("Model ... is already registered ...")`
  when the name (compared case-insensitively) is already known, including when this process
  registered it before, so callers must guard it (catch `ValueError`, or check
  `TextEmbedding.list_supported_models()` first). A registration cannot be undone; the name and
  its `dim` stay fixed for the process, so use one `dim` per model name.
* With `specific_model_path`, `download_model` returns that folder at once: no hub call, with or
  without `HF_HUB_OFFLINE=1`. `cache_dir` (default `$FASTEMBED_CACHE_PATH` or
  `<tmp>/fastembed_cache`) is still created, but nothing is written into it.
* `query_embed` and `passage_embed` add no prefix for a custom model; they are plain `embed`.
* fastembed feeds `input_ids` and, only when the graph declares them, `attention_mask` and
  `token_type_ids` (all zeros), all int64, and reads the graph's first output.

The model: the vocabulary holds the special tokens, some English words, and WordPiece
fallback pieces for ASCII letters, digits, pairs of them, punctuation and the CJK Unified
Ideographs, so an out-of-vocabulary word is spelled out rather than collapsed to `[UNK]`
(other scripts, e.g. Cyrillic, do become `[UNK]`); different texts thus get
different vectors, and texts that share words get similar ones. Text is lowercased and accents
are stripped (BERT normalizer). The vectors depend on `dim` and on nothing else.
"""

from __future__ import annotations

import json
import pathlib
import string
from collections.abc import Mapping

import numpy as np

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_LENGTH = 512
SEED = 20240531

_WORDS_TEXT = """
a an the and or not no of to in on at by for from with without about as is are was were be
been it this that these those there here what which who whom whose when where why how can
could should would will may might must do does did have has had i you he she we they me my
your our their his her its please help need want get set use using make new old all any some
each every more most less many much one two three four five first last day days week weeks
month months year years time hour hours business working calendar within after before until
refund refunds return returns window policy policies purchase order orders payment invoice
invoices receipt price cost fee fees charge charges billing account accounts customer
customers employee employees manager team office remote home travel expense expenses claim
claims reimbursement leave vacation holiday holidays sick parental benefit benefits salary
payroll contract contracts vpn setup install installation network wifi password passwords
reset login laptop computer email mail phone support ticket tickets issue issues error access
security data privacy backup server software hardware device devices update updates system
systems document documents file files report reports approval approve approved request
requests form forms submit deadline shipping delivery warranty product products service
services question questions answer answers evidence source sources company handbook guide
query passage
"""
WORDS = tuple(_WORDS_TEXT.split())


def _vocabulary() -> list[str]:
    alnum = string.ascii_lowercase + string.digits
    pieces = list(alnum + string.punctuation)
    pieces += [a + b for a in alnum for b in alnum]  # so that anagrams rarely collide
    cjk = [chr(c) for c in range(0x4E00, 0xA000)]  # CJK Unified Ideographs
    tokens = [*SPECIAL_TOKENS, *WORDS, *pieces, *(f"##{p}" for p in pieces), *cjk]
    return list(dict.fromkeys(tokens))  # drop repeats (e.g. "a", "i"), keeping the order


def _write_tokenizer(folder: pathlib.Path, vocab: list[str]) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    ids = {token: i for i, token in enumerate(vocab)}
    tokenizer = Tokenizer(models.WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in SPECIAL_TOKENS])
    tokenizer.enable_padding(pad_id=ids["[PAD]"], pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    tokenizer.save(str(folder / "tokenizer.json"))

    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    special_tokens_map = {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "model_max_length": MAX_LENGTH,
        "padding_side": "right",
        "truncation_side": "right",
        **special_tokens_map,
    }
    _write_json(folder / "special_tokens_map.json", special_tokens_map)
    _write_json(folder / "tokenizer_config.json", tokenizer_config)


def _write_onnx(folder: pathlib.Path, vocab_size: int, dim: int) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(SEED)
    word_table = rng.standard_normal((vocab_size, dim)).astype(np.float32)
    type_table = (0.1 * rng.standard_normal((2, dim))).astype(np.float32)

    nodes = [
        helper.make_node("Gather", ["word_embeddings", "input_ids"], ["words"], axis=0),
        helper.make_node("Gather", ["token_type_embeddings", "token_type_ids"], ["types"], axis=0),
        helper.make_node("Add", ["words", "types"], ["hidden"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_float", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["hidden", "mask_3d"], ["last_hidden_state"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info(
        "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim]
    )
    initializers = [
        numpy_helper.from_array(word_table, "word_embeddings"),
        numpy_helper.from_array(type_table, "token_type_embeddings"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
    ]
    graph = helper.make_graph(nodes, "tiny_bert", inputs, [output], initializers)
    # IR 8 / opset 14: loadable by any onnxruntime >= 1.11
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="tiny_onnx"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(folder / "model.onnx"))

    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": dim,
        "vocab_size": vocab_size,
        "type_vocab_size": 2,
        "max_position_embeddings": MAX_LENGTH,
        "pad_token_id": 0,
    }
    _write_json(folder / "config.json", config)


def _write_json(path: pathlib.Path, data: Mapping[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_tiny_onnx_model(folder: pathlib.Path, dim: int = 16) -> None:
    """Write a tiny, deterministic BERT-like text-embedding model that fastembed can load
    from `specific_model_path=folder`: model.onnx plus tokenizer files.

    Files: model.onnx (inputs `input_ids`, `attention_mask`, `token_type_ids`, int64
    [batch, sequence]; output `last_hidden_state`, float32 [batch, sequence, dim], zero at padded
    positions), tokenizer.json, tokenizer_config.json, special_tokens_map.json, config.json and
    vocab.txt. Register it with `TextEmbedding.add_custom_model(..., pooling=PoolingType.MEAN,
    normalization=True, dim=dim, model_file="model.onnx")`; that call raises `ValueError` if the
    name is already registered in the process, so guard it (see the module docstring).

    The same `dim` always gives byte-identical files, so the same text always gets the same
    vector, and in every folder.
    """
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = _vocabulary()
    _write_tokenizer(folder, vocab)
    _write_onnx(folder, len(vocab), dim)
