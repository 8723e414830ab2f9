"""Export: the float16 learned part within 20 MB, and a model card from measured output."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from reader import export


def _train_out(tmp_path: Path, learned: dict[str, np.ndarray]) -> Path:
    out = tmp_path / "train"
    out.mkdir()
    np.savez(out / "learned.npz", **learned)
    summary = {"steps": 7, "seconds": 1.5, "device": "cpu", "args": {"rank": "4", "alpha": "8.0"}}
    (out / "train_summary.json").write_text(json.dumps(summary))
    (out / "dev_figures.json").write_text(json.dumps({"auroc": 0.8125, "span_f1": 0.5}))
    return out


def test_export_writes_float16_npz_and_a_card_with_the_figures(tmp_path: Path) -> None:
    learned = {
        "l0.q.lora_a": np.full((4, 8), 0.5, np.float32),
        "l0.q.lora_b": np.zeros((8, 4), np.float32),
        "head.answerable.w": np.ones((1, 8), np.float32),
        "lora.scale": np.array(2.0, np.float32),
        "not.learned": np.ones(3, np.float32),
    }
    data = tmp_path / "data"
    data.mkdir()
    stats = {"seed": 13, "train": {"DRCD_test:positive": 3, "total": 3}, "dev": {}}
    (data / "stats.json").write_text(json.dumps(stats))
    path = export.export(_train_out(tmp_path, learned), tmp_path / "ship", data)
    with np.load(path) as f:
        assert sorted(f.files) == ["head.answerable.w", "l0.q.lora_a", "l0.q.lora_b", "lora.scale"]
        assert f["l0.q.lora_a"].dtype == np.float16 and float(f["lora.scale"]) == 2.0
    card = (tmp_path / "ship" / "MODEL_CARD.md").read_text()
    assert '"auroc": 0.8125' in card and "rank 4" in card and "7 steps" in card
    assert "CC BY-SA 3.0" in card and "CMRC" not in card  # only the sets that were used


def test_an_oversized_learned_part_is_refused(tmp_path: Path) -> None:
    learned = {"l0.fi.lora_a": np.random.default_rng(0).normal(size=(8, 1000)).astype(np.float32)}
    assert export.write_learned(learned, tmp_path / "ok.npz", max_bytes=20_000) > 10_000
    with pytest.raises(ValueError, match="over 10000"):
        export.write_learned(learned, tmp_path / "reader.npz", max_bytes=10_000)
    assert not (tmp_path / "reader.npz").exists()


def test_the_card_says_when_training_started_from_a_learned_part(tmp_path: Path) -> None:
    learned = {"head.answerable.w": np.ones((1, 8), np.float32)}
    out = _train_out(tmp_path, learned)
    summary = json.loads((out / "train_summary.json").read_text())
    card = export.model_card(summary, {}, None, 1)
    assert "--init" not in card
    summary["args"]["init"] = "/somewhere/engine/models/reader.npz"
    card = export.model_card(summary, {}, None, 1)
    assert "started from the learned part reader.npz (--init)" in card


def test_the_card_names_the_recipe_options_a_run_set_off_their_default(tmp_path: Path) -> None:
    learned = {"head.answerable.w": np.ones((1, 8), np.float32)}
    summary = json.loads((_train_out(tmp_path, learned) / "train_summary.json").read_text())
    defaults = {"schedule": "constant", "warmup": "0", "group_by_length": "0"}
    summary["args"] |= defaults | {"train_layers": "0", "precision": "auto"}
    card = export.model_card(summary, {}, None, 1)
    assert not any(f"--{k}" in card for k in ("schedule", "warmup", "group-by-length", "train"))
    summary["args"] |= {"schedule": "linear", "warmup": "100", "train_layers": "6"}
    card = export.model_card(summary, {}, None, 1)
    assert "--schedule linear --warmup 100" in card and "--train-layers 6" in card
    assert "--group-by-length" not in card and "--precision" not in card


@pytest.mark.parametrize("stage", ["stage3", "stage5", "e5_d8"])
def test_each_candidate_is_the_file_its_card_describes(stage: str) -> None:
    """reader/candidates/*: the committed npz is the one whose sha256 its card gives, and its
    calibration names it (GQA_READER=that path reads reader.json beside it)."""
    folder = Path(export.__file__).parent / "candidates" / stage
    card = (folder / "CARD.md").read_text(encoding="utf-8")
    digest = re.search(r"sha256 ([0-9a-f]{64})", card)
    assert digest is not None
    assert hashlib.sha256((folder / "reader.npz").read_bytes()).hexdigest() == digest.group(1)
    calibration = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
    assert calibration["learned"] == "reader.npz" and {"decide", "cross_rank"} <= set(calibration)
