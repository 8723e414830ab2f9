"""benchmarks.reader_overlap: the bins of the absent-word share and the figures within them."""

from __future__ import annotations

import pytest

from benchmarks.reader_overlap import bin_of, by_bin


@pytest.mark.parametrize(
    ("share", "b"), [(0.0, 0), (0.2, 1), (0.25, 1), (0.4, 2), (0.5, 2), (0.51, 3), (1.0, 3)]
)
def test_bins_are_none_quarter_half_more(share: float, b: int) -> None:
    assert bin_of(share) == b


def test_by_bin_reports_median_and_floor_share_per_class_and_auroc_within() -> None:
    labels = [True, True, True, False, False, True, False, False]
    shares = [0.0, 0.0, 0.6, 0.0, 0.6, 0.6, 0.6, 0.6]
    probs = [0.9, 0.8, 0.1, 0.3, 0.05, 0.2, 0.3, 0.01]
    out = by_bin(labels, shares, probs)
    assert out["answering"] == {
        "none": {"pairs": 2, "median_p": 0.85, "under_0.25": 0.0},
        "over 1/2": {"pairs": 2, "median_p": 0.15, "under_0.25": 1.0},
    }
    assert out["other"] == {
        "none": {"pairs": 1, "median_p": 0.3, "under_0.25": 0.0},
        "over 1/2": {"pairs": 3, "median_p": 0.05, "under_0.25": 0.667},
    }
    assert out["auroc_up_to_1/4"] == 1.0  # 0.9, 0.8 above 0.3
    # over half missing: answering 0.1, 0.2 against 0.05, 0.3, 0.01: 4 of 6 pairs ordered
    assert out["auroc_more"] == pytest.approx(0.6667, abs=1e-4)
