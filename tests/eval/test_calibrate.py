"""Calibration on hand-made records whose best threshold is known."""

import dataclasses
from pathlib import Path

import pytest

from eval.calibrate import best, cross_validate, outcome, write_setting
from eval.metrics import Record


def rec(i: int, answerable: bool, coverage: float, correct: bool = True) -> Record:
    return Record(
        id=str(i),
        question="?",
        answerable=answerable,
        accepted=[["甲"]] if answerable else [],
        supporting_ids=[],
        answer="甲 [1]" if correct else "乙 [1]",
        refused=False,
        reason=None,
        citations=[],
        retrieved=[],
        latency_ms=1.0,
        features={"coverage": coverage},
    )


# answerable questions cover >= 0.6, unanswerable ones <= 0.29: any threshold in (0.29, 0.6] separates
RECORDS = [rec(i, True, 0.6 + 0.01 * (i % 30)) for i in range(40)] + [
    rec(100 + i, False, 0.1 + 0.01 * (i % 30)) for i in range(20)
]


def test_outcome_counts_refusals_below_the_threshold() -> None:
    p = outcome(RECORDS, 0.5)
    assert (p.correct, p.answer_accuracy, p.false_refusal, p.refusal_recall) == (1.0, 1.0, 0.0, 1.0)
    p0 = outcome(RECORDS, 0.0)
    assert (p0.correct, p0.refusal_recall) == (round(40 / 60, 4), 0.0)


def test_best_threshold_separates_and_cross_validation_holds() -> None:
    assert 0.29 < best(RECORDS) <= 0.6
    chosen, cv = cross_validate(RECORDS, folds=5)
    assert len(chosen) == 5 and all(0.29 < t <= 0.6 for t in chosen)
    assert cv.correct == 1.0


def test_wrong_answers_are_better_refused() -> None:
    wrong = [rec(i, True, 0.5, correct=False) for i in range(10)] + [
        rec(50 + i, True, 0.9) for i in range(10)
    ]
    assert 0.5 < best(wrong) <= 0.9


def test_write_setting_keeps_other_lines(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("GQA_PORT=9000\nGQA_MIN_COVERAGE=0.1\n")
    write_setting(env, "GQA_MIN_COVERAGE", 0.45)
    assert env.read_text().splitlines() == ["GQA_PORT=9000", "GQA_MIN_COVERAGE=0.45"]


def test_folds_are_stratified_so_each_holds_both_kinds() -> None:
    # 3 unanswerable among 30: an unstratified split can leave a fold without one
    records = [rec(i, True, 0.6) for i in range(27)] + [rec(100 + i, False, 0.1) for i in range(3)]
    for seed in range(20):
        chosen, cv = cross_validate(records, folds=3, seed=seed)
        assert len(chosen) == 3 and all(0.1 < t <= 0.6 for t in chosen), seed
        assert cv.correct == 1.0


def test_too_few_records_or_folds_is_refused() -> None:
    with pytest.raises(ValueError, match="2 or more folds"):
        cross_validate(RECORDS, folds=1)
    with pytest.raises(ValueError, match="at least 5 records"):
        cross_validate(RECORDS[:4], folds=5)


def test_calibrate_runs_the_set_with_the_threshold_off_and_every_p_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader's decide stage skips reading where the reader cannot change the decision at the
    engine's threshold, and then reports a bound, not p; a sweep over other thresholds needs the
    exact p, so calibrate runs with GQA_READER_SKIP off."""
    from types import SimpleNamespace

    from core.settings import Settings
    from eval import calibrate as cal
    from eval.datasets import Dataset

    seen: list[Settings] = []
    records = [
        dataclasses.replace(r, features={"answerability": r.features["coverage"]}) for r in RECORDS
    ]

    def run(dataset: object, settings: Settings, ingest: bool = True) -> tuple:
        seen.append(settings)
        return None, None, records

    monkeypatch.setattr(cal, "runner", SimpleNamespace(run=run))
    questions = tuple(SimpleNamespace(answerable=r.answerable) for r in RECORDS)
    dataset = Dataset("toy", tmp_path, tmp_path, questions)  # type: ignore[arg-type]
    settings = Settings(_env_file=None, data_dir=tmp_path, embedder="hashing")  # type: ignore[call-arg]
    assert "Calibration of answerability" in cal.calibrate(dataset, settings, 3, None)
    (used,) = seen
    assert used.min_answerability == 0.0 and used.reader_skip is False
    assert settings.reader_skip is True  # the caller's settings are left as they were
