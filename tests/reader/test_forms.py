"""reader.forms: the same pairs in both question forms, and the figures per form."""

from __future__ import annotations

from reader.data import Example
from reader.forms import figures, paired


def _ex(
    i: str, question: str, answerable: bool, kind: str, source: str = "cmrc2018_dev"
) -> Example:
    return Example(
        i, source, "a", question, "T\nw", answerable, (2, 3) if answerable else None, kind
    )


def test_pairs_are_the_same_examples_in_both_forms_cross_language_left_out() -> None:
    dev = [
        _ex("q1", "锣鼓经是什么？", True, "positive"),
        _ex("q1#w0", "锣鼓经是什么？", False, "other_window"),
        _ex("q2", "谁？", True, "positive"),  # no query form: not paired
        _ex("q1~q", "锣鼓经", True, "positive"),
        _ex("q1#w0~q", "锣鼓经", False, "other_window"),
        _ex("x1", "Who?", True, "positive", "xquad_en2zh"),
        _ex("x1~q", "who", True, "positive", "xquad_en2zh"),
    ]
    written, query = paired(dev, 10)
    assert sorted(e.id for e in written) == ["q1", "q1#w0"]
    assert [e.id for e in query] == [f"{e.id}~q" for e in written]
    assert len(paired(dev, 1)[0]) == 1


def test_figures_per_form() -> None:
    exs = [
        _ex("p1", "q", True, "positive"),
        _ex("p2", "q", True, "positive"),
        _ex("n1", "q", False, "other_window"),
        _ex("n2", "q", False, "hard_window"),
    ]
    out = figures(exs, [0.9, 0.5, 0.1, 0.7])
    assert out["pairs"] == 4 and out["mean_p_answerable"] == 0.7
    assert out["auroc"] == 0.75  # the hard window outscores one answerable window
    assert out["auroc_other_window"] == 1.0 and out["auroc_hard_window"] == 0.5
