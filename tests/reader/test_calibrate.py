"""reader.calibrate's dev figures (numpy only; the scoring itself runs in the slow tests)."""

from __future__ import annotations

import pytest

from reader.calibrate import figures, keep_threshold


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
    # cmrc separates, squad2_zh is inverted, drcd has no unanswerable example: left out
    assert out["auroc_by_source"] == {"cmrc": 1.0, "squad2_zh": 0.0}
    assert out["auroc"] == pytest.approx(5 / 6, abs=1e-4)
    assert "auroc_by_source" not in figures(labels, probs, kinds, 0.5)
