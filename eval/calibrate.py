"""Calibrate a refusal threshold on a question set, with cross-validation.

The threshold is one of KNOBS: the answerability model's probability (default) or the key-term
coverage of the evidence. The set is run once with that threshold off; the other refusals
(nothing retrieved, a critical term missing, no value of the asked kind, the other threshold)
stay as they are. For each candidate threshold, an answer whose feature is below it becomes a
refusal; the objective is the share of questions handled correctly (answerable: right answer;
unanswerable: refused). Stratified k-fold cross-validation (each fold holds both kinds) picks
the threshold on k-1 folds and scores it on the held-out fold, so the reported figures are not
fitted to the questions they are measured on.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.settings import Settings
from engine.decide import LOW_SUPPORT, NOT_ANSWERED
from eval import runner
from eval.datasets import Dataset
from eval.metrics import Record, answer_correct

GRID = tuple(round(0.05 * i, 2) for i in range(0, 20))  # 0.00 .. 0.95
# the refusal reason the engine gives below each threshold (engine.decide)
REASONS = {"answerability": NOT_ANSWERED, "coverage": LOW_SUPPORT}
# feature of Answer.features -> (Settings field, environment variable) of its threshold
KNOBS = {
    "answerability": ("min_answerability", "GQA_MIN_ANSWERABILITY"),
    "coverage": ("min_coverage", "GQA_MIN_COVERAGE"),
}


@dataclass(frozen=True)
class Point:
    """The outcome of one threshold on a set of records."""

    threshold: float
    correct: float  # share handled correctly
    answer_accuracy: float | None
    false_refusal: float | None
    refusal_recall: float | None
    wrong_answers: int = 0  # answered, but not correctly (answerable) or at all (unanswerable)


def outcome(records: Sequence[Record], threshold: float, feature: str = "coverage") -> Point:
    """What the records would score if answers with `feature` < threshold were refused."""
    ans = [r for r in records if r.answerable]
    una = [r for r in records if not r.answerable]

    def refused(r: Record) -> bool:
        return r.refused or r.features.get(feature, 0.0) < threshold

    right = sum(answer_correct(r) and not refused(r) for r in ans) + sum(refused(r) for r in una)

    def rate(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    wrong = sum(not refused(r) and not answer_correct(r) for r in records)
    return Point(
        threshold,
        rate(right, len(records)) or 0.0,
        rate(sum(answer_correct(r) and not refused(r) for r in ans), len(ans)),
        rate(sum(refused(r) for r in ans), len(ans)),
        rate(sum(refused(r) for r in una), len(una)),
        wrong,
    )


def curve(records: Sequence[Record], feature: str = "coverage") -> list[Point]:
    return [outcome(records, t, feature) for t in GRID]


def best(records: Sequence[Record], feature: str = "coverage") -> float:
    """The threshold with the most questions handled correctly; among ties, the fewest wrong
    answers (a refusal is better than a quote that does not answer), then the lowest."""
    points = curve(records, feature)
    return max(points, key=lambda p: (p.correct, -p.wrong_answers, -p.threshold)).threshold


def cross_validate(
    records: Sequence[Record], folds: int = 5, seed: int = 0, feature: str = "coverage"
) -> tuple[list[float], Point]:
    """Thresholds chosen on each training split and the pooled held-out outcome.

    Folds are stratified: answerable and unanswerable records are shuffled and dealt out
    separately, so with at least `folds` of each kind every fold holds both. Raises
    ValueError when `folds` < 2 or there are fewer records than folds (a fold would be empty).
    """
    if folds < 2 or len(records) < folds:
        raise ValueError(f"{folds} folds need 2 or more folds and at least {folds} records")
    rng = random.Random(seed)
    fold_of: dict[int, int] = {}
    for kind in (True, False):
        group = [i for i, r in enumerate(records) if r.answerable is kind]
        rng.shuffle(group)
        fold_of.update((i, n % folds) for n, i in enumerate(group))
    chosen, held_out = [], []
    for k in range(folds):
        test = [r for i, r in enumerate(records) if fold_of[i] == k]
        train = [r for i, r in enumerate(records) if fold_of[i] != k]
        t = best(train, feature)
        chosen.append(t)
        held_out += [_refuse_below(r, t, feature) for r in test]
    return chosen, outcome(held_out, 0.0, feature)


def _refuse_below(r: Record, t: float, feature: str) -> Record:
    """The record as the engine would have returned it with threshold t."""
    if r.refused or r.features.get(feature, 0.0) >= t:
        return r
    return Record(
        **{
            **r.__dict__,
            "refused": True,
            "answer": None,
            "citations": [],
            "reason": REASONS[feature],
        }
    )


def write_setting(env_file: Path, key: str, value: float) -> None:
    """Set KEY=value in a .env file, keeping its other lines."""
    lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
    lines = [ln for ln in lines if not ln.startswith(f"{key}=")] + [f"{key}={value}"]
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def markdown(
    points: Sequence[Point], chosen: Sequence[float], cv: Point, final: float, env_key: str
) -> str:
    rows = [
        "| threshold | handled correctly | answer accuracy | false refusals | refusal recall |",
        "|---|---|---|---|---|",
    ]
    rows += [
        f"| {p.threshold:.2f}{' *' if p.threshold == final else ''} | {p.correct} | {p.answer_accuracy} | {p.false_refusal} | {p.refusal_recall} |"
        for p in points
    ]
    rows += [
        "",
        f"cross-validated ({len(chosen)} folds, thresholds {', '.join(f'{t:.2f}' for t in chosen)}): "
        f"handled correctly {cv.correct}, answer accuracy {cv.answer_accuracy}, "
        f"false refusals {cv.false_refusal}, refusal recall {cv.refusal_recall}",
        f"chosen on all questions: {env_key}={final}",
    ]
    return "\n".join(rows)


def usable_folds(dataset: Dataset, folds: int) -> tuple[int, str | None]:
    """The folds to use (at most the count of each kind of question) and a note when capped.

    Raises ConfigError when there are not 2 answerable and 2 unanswerable questions: a
    refusal threshold trades one kind against the other, and each fold needs both.
    """
    kinds = {
        "answerable": sum(q.answerable for q in dataset.questions),
        "unanswerable": sum(not q.answerable for q in dataset.questions),
    }
    fewest = min(kinds, key=lambda k: kinds[k])
    if kinds[fewest] < 2:
        raise ConfigError(
            f"{dataset.name} has {kinds['answerable']} answerable and {kinds['unanswerable']} "
            "unanswerable questions - calibrating a refusal threshold needs at least 2 of each"
        )
    if kinds[fewest] >= folds:
        return folds, None
    return kinds[fewest], (
        f"note: {kinds[fewest]} folds instead of {folds}: only {kinds[fewest]} {fewest} questions"
    )


def check_env_file(env_file: Path) -> None:
    """Fail before a run when `--write` could not set a value in `env_file` after it.

    Raises ConfigError naming the path and the fix."""
    fix = "pass --write a .env file you can write (its folder must exist)"
    if env_file.is_dir():
        raise ConfigError(f"--write {env_file} is a folder, not a .env file - {fix}")
    try:
        if env_file.exists():
            env_file.read_text(encoding="utf-8")  # write_setting keeps its other lines
            with env_file.open("a", encoding="utf-8"):
                pass
        else:
            parent = env_file.parent
            if not parent.is_dir():
                raise ConfigError(f"--write {env_file}: folder {parent} does not exist - {fix}")
            with tempfile.TemporaryFile(dir=parent):
                pass
    except UnicodeDecodeError:
        raise ConfigError(f"--write {env_file} is not UTF-8 text - {fix}") from None
    except OSError as exc:
        raise ConfigError(
            f"--write {env_file}: cannot write there ({exc.strerror}) - {fix}"
        ) from None


def calibrate(
    dataset: Dataset,
    settings: Settings,
    folds: int,
    env_file: Path | None,
    feature: str = "answerability",
    ingest: bool = True,
) -> str:
    """Run the set with `feature`'s threshold off, sweep it, cross-validate, and (optionally)
    write the chosen value to `env_file`. Returns the Markdown report.

    Raises ConfigError before the run when there are too few questions of a kind (see
    usable_folds), `env_file` cannot be written, or the answerability model is off while its
    threshold is calibrated; after it, when answered records lack the feature.
    """
    field, env_key = KNOBS[feature]
    folds, note = usable_folds(dataset, folds)
    if env_file is not None:
        check_env_file(env_file)
    if feature == "answerability" and settings.answerability_model == "off":
        raise ConfigError(
            "GQA_ANSWERABILITY_MODEL=off gives no answerability values to calibrate - turn the "
            "model on, or pass --threshold coverage"
        )
    # the threshold off, and the reader's decide stage reading every question, so that each
    # answer's p is exact rather than the bound it decided on at the engine's threshold
    s = settings.model_copy(update={field: 0.0, "reader_skip": False})
    _, _, records = runner.run(dataset, s, ingest=ingest)
    # Answers the reader gave to cross-language questions pass no same-language threshold
    records = [r for r in records if "cross_language" not in r.features]
    lacking = [r.id for r in records if not r.refused and feature not in r.features]
    if lacking:
        raise ConfigError(
            f"{len(lacking)} answered questions have no {feature!r} value (first: "
            f"{', '.join(lacking[:3])}) - the engine did not compute it; check "
            "GQA_ANSWERABILITY_MODEL, or calibrate another --threshold"
        )
    chosen, cv = cross_validate(records, folds, feature=feature)
    final = best(records, feature)
    if env_file is not None:
        write_setting(env_file, env_key, final)
    head = f"# Calibration of {feature}: {dataset.name} ({len(records)} questions)\n\n"
    head += f"{note}\n\n" if note else ""
    return head + markdown(curve(records, feature), chosen, cv, final, env_key)
