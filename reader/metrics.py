"""Dev figures of the reader (numpy only): answerability AUROC, accuracy at a threshold chosen
on the same split, span exact match and character F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def auroc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks averaged); nan when one class
    is absent."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_threshold(labels: Sequence[bool], probs: Sequence[float]) -> tuple[float, float]:
    """(threshold, accuracy): the cut `p >= threshold` means answerable, chosen to maximise
    accuracy over the given examples (the lowest such threshold on ties)."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(probs, dtype=np.float64)
    best = (1.0, float((~y).mean()) if len(y) else 0.0)
    for t in np.unique(p):
        acc = float(((p >= t) == y).mean())
        if acc > best[1]:
            best = (float(t), acc)
    return best


def _chars(text: str) -> list[str]:
    return [c for c in text.lower() if not c.isspace()]


def char_f1(prediction: str, gold: str) -> float:
    """F1 over non-space characters (lowercased): one measure for Chinese and English."""
    p, g = _chars(prediction), _chars(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def exact(prediction: str, gold: str) -> bool:
    return _chars(prediction) == _chars(gold)
