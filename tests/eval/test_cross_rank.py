"""eval.cross_rank: top-1 of a ranking of read windows, the weight's choice and its
cross-validation, on made-up candidates (the real fit reads XQuAD with the reader)."""

from __future__ import annotations

import pytest

from eval.cross_rank import WEIGHTS, Question, choose, cross_validate, top1

# (cosine, P, holds the answer): the answer is the closest by cosine, the reader prefers another
COSINE_WINS: Question = ("a1", [(0.90, 0.6, True), (0.80, 0.9, False), (0.70, 0.1, False)])
# the reader is right, cosine is not
READER_WINS: Question = ("a2", [(0.85, 0.2, False), (0.84, 0.95, True)])


def test_top1_by_reader_by_cosine_and_by_a_weighted_sum() -> None:
    assert top1([COSINE_WINS, READER_WINS], None) == 0.5  # by P: right on READER_WINS only
    assert top1([COSINE_WINS, READER_WINS], 0.0) == 0.5  # by cosine: right on COSINE_WINS
    # 0.01 x logit: COSINE_WINS keeps its order (0.1 of cosine > 0.01 x 1.8), READER_WINS turns
    assert top1([COSINE_WINS, READER_WINS], 0.01) == 1.0


def test_choose_takes_the_best_weight_of_the_grid_and_the_smaller_on_a_tie() -> None:
    w = choose([COSINE_WINS, READER_WINS])
    assert w in WEIGHTS and top1([COSINE_WINS, READER_WINS], w) == 1.0
    assert choose([COSINE_WINS]) == 0.0  # every small weight ties: the smallest


@pytest.mark.parametrize("folds", [2, 5])
def test_cross_validation_scores_each_fold_with_a_weight_chosen_without_it(folds: int) -> None:
    questions = [(f"a{i}", COSINE_WINS[1]) for i in range(6)]
    questions += [(f"b{i}", READER_WINS[1]) for i in range(6)]
    cv = cross_validate(questions, folds)
    assert len(cv["weights"]) == folds and all(w in WEIGHTS for w in cv["weights"])
    # each fold's training half holds both kinds, so the weight chosen ranks both right
    assert cv["top1"] == 1.0
