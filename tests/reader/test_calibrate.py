"""reader.calibrate's dev figures (numpy only; the scoring itself runs in the slow tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reader.calibrate import figures, keep_threshold, same_language_sample, write_calibration
from reader.data import Example


def test_keep_threshold_lets_the_asked_share_of_answering_windows_through() -> None:
    labels = [True] * 20 + [False] * 5
    probs = [i / 20 for i in range(20)] + [0.0] * 5
    t = keep_threshold(labels, probs, 0.95)
    assert t == 0.05 and sum(p >= t for p, y in zip(probs, labels, strict=True) if y) == 19


def test_figures_give_refusals_by_kind_and_auroc_within_each_source() -> None:
    labels = [True, False, True, False, True]
    probs = [0.9, 0.2, 0.4, 0.6, 0.8]
    kinds = ["positive", "other_window", "positive", "squad2_unanswerable", "positive"]
    sources = ["cmrc", "cmrc", "squad2_zh", "squad2_zh", "drcd"]
    out = figures(labels, probs, kinds, 0.5, sources)
    assert out["refused_by_negative_kind"] == {"other_window": 1.0, "squad2_unanswerable": 0.0}
    # the answering windows (0.9, 0.4, 0.8) against each kind alone: 0.2 is below all three,
    # 0.6 above one of them
    assert out["auroc_by_negative_kind"] == {
        "other_window": 1.0,
        "squad2_unanswerable": pytest.approx(2 / 3, abs=1e-4),
    }
    # cmrc separates, squad2_zh is inverted, drcd has no unanswerable example: left out
    assert out["auroc_by_source"] == {"cmrc": 1.0, "squad2_zh": 0.0}
    assert out["auroc"] == pytest.approx(5 / 6, abs=1e-4)
    assert "auroc_by_source" not in figures(labels, probs, kinds, 0.5)


def test_recalibrating_keeps_the_stages_fitted_later(tmp_path: Path) -> None:
    path = tmp_path / "reader.json"
    path.write_text(json.dumps({"threshold": 0.2, "pick": {"coef": [1.0]}}), "utf-8")
    write_calibration(path, {"threshold": 0.05, "keep": 0.95})
    assert json.loads(path.read_text("utf-8")) == {
        "threshold": 0.05,  # the new calibration's
        "keep": 0.95,
        "pick": {"coef": [1.0]},  # the stage stays
    }
    fresh = tmp_path / "new.json"
    write_calibration(fresh, {"threshold": 0.1})
    assert json.loads(fresh.read_text("utf-8")) == {"threshold": 0.1}
    assert not list(tmp_path.glob("*.tmp"))


def test_the_sample_is_seeded_same_language_pairs() -> None:
    def ex(i: int, source: str) -> Example:
        return Example(str(i), source, "a", "q", "w", True, None, "positive")

    dev = [ex(i, "cmrc2018_dev") for i in range(10)] + [ex(99, "xquad_en2zh")]
    assert same_language_sample(dev, 0) == dev[:10]  # the cross-language pair left out
    sample = same_language_sample(dev, 4)
    assert len(sample) == 4 and sample == same_language_sample(dev, 4)
    assert sample != dev[:4] and all(e.source == "cmrc2018_dev" for e in sample)
