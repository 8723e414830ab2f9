"""The extractive answer engine: retrieve, select evidence, decide, quote with citations."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.embedders import Embedder
from core.errors import ConfigError
from core.records import Answer, Citation, Passage
from core.settings import Settings
from core.sparse import Bm25Encoder, SparseTerms
from core.store import Store
from core.text import clean_question, fold, language_of, script_of
from engine import answerability
from engine.decide import NOT_ANSWERED, PART_NOT_ANSWERED, Decision, decide, message
from engine.evidence import (
    Evidence,
    QuestionTerms,
    Sentence,
    answer_candidates,
    answers_kind,
    conflicts,
    judged_wants,
    question_terms,
    select,
    split_sentences,
    unstated_numbers,
)
from engine.generative import LlmClient, LlmError, build_messages, enforce
from engine.pairs import Pair, split_pair
from engine.read import Reading, ReadStage, Window, load_reader, logit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answered:
    """One question's answer and the evidence it quotes (None when refused)."""

    answer: Answer
    evidence: Evidence | None


class AnswerEngine:
    """Answers a question only from retrieved passages, or refuses with a reason."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        llm: LlmClient | None = None,
        reader: ReadStage | None = None,
    ) -> None:
        self.settings, self.store, self.embedder = settings, store, embedder
        self.sparse = Bm25Encoder()
        self.llm = llm or _llm_from(settings)
        model = load_answerability(settings)
        self.model = model.for_embedder(embedder.name) if model else None
        self.reader = reader or load_reader(settings)

    def warm_up(self) -> None:
        """Load jieba's dictionaries and the query path once, so the first question is not slow."""
        question_terms("预热 warm-up 2024")
        self.sparse.encode_query("预热")

    def retrieve(self, question: str, groups: Sequence[str] | None = None) -> list[Passage]:
        """Top-k passages by hybrid retrieval, within the caller's groups."""
        return self.store.search(
            self.embedder.embed_query(question),
            self.sparse.encode_query(question),
            limit=self.settings.top_k,
            pool=self.settings.candidate_pool,
            groups=groups,
        )

    def answer(self, question: str, groups: Sequence[str] | None = None) -> Answer:
        """A cited extractive answer, or a refusal whose message is in the question's script.
        Raises ValueError for a question that is not valid Unicode (`clean_question`)."""
        question = clean_question(question)  # the HTTP edge has done it; eval calls this directly
        pair = split_pair(question)
        if pair is not None:
            answer = self._answer_pair(question, pair, groups)
            if answer is not None:
                return answer
        return self._answer(question, groups).answer

    def _answer_pair(
        self, question: str, pair: Pair, groups: Sequence[str] | None
    ) -> Answer | None:
        """A question about two things (`engine.pairs`): each thing's own question, answered
        from its own evidence (in either language), the two quoted and cited together
        (extractive, also in generative mode), never one document's sentences standing for
        both. Refused, naming the part, when one part is not answered; None when neither is
        (then it is asked whole: "Research and Development" is one thing)."""
        parts = [self._answer(q, groups, generate=False) for q in pair.questions]
        refused = [i for i, part in enumerate(parts) if part.answer.refused]
        if len(refused) == 2:
            return None
        seen: dict[tuple[str, int], Passage] = {}
        for part in parts:
            for p in part.answer.passages:
                seen.setdefault((p.chunk.doc_id, p.chunk.char_start), p)
        features = {"pair": 1.0}
        timings: dict[str, float] = {}
        for i, part in enumerate(parts, 1):
            features |= {f"{k}_{i}": v for k, v in part.answer.features.items()}
            for k, ms in part.answer.timings_ms.items():
                timings[k] = timings.get(k, 0.0) + ms
        passages = tuple(seen.values())
        script = script_of(question)
        if refused:
            decision = Decision(True, PART_NOT_ANSWERED, (pair.names[refused[0]],))
            text = message(decision, script)
            return Answer(None, True, decision.reason, text, (), passages, features, timings)
        sentences: dict[tuple[str, int, int], Sentence] = {}  # one quote for what both cite
        for part in parts:
            assert part.evidence is not None
            for s in part.evidence.sentences:
                sentences.setdefault((s.passage.chunk.doc_id, s.start, s.end), s)
        text, citations = compose(list(sentences.values()), script)
        return Answer(text, False, None, None, citations, passages, features, timings)

    def _answer(
        self,
        question: str,
        groups: Sequence[str] | None,
        generate: bool = True,
    ) -> Answered:
        """`answer` for one question: the answer and the evidence it quotes (None: refused);
        `generate=False` keeps it extractive when an LLM is configured."""
        t0 = time.perf_counter()
        passages = self.retrieve(question, groups)
        t1 = time.perf_counter()
        terms = question_terms(question)
        evidence, reading = None, None
        read_ms = 0.0  # time the pick stage spent reading
        top_dense = max((p.dense_score for p in passages), default=0.0)
        first_p = None  # the answerability model's p for the evidence's first sentence
        sentences: list[Sentence] = []
        scores: list[float] | None = None
        if passages:
            sentences = split_sentences(passages)
            scores = self._scores(question, terms, sentences)
            rank = None
            if self.model is not None and scores is not None:
                rank = self.model.ranking(scores, [x.passage.dense_score for x in sentences])
            first = None
            if self.reader is not None and self.reader.pick is not None and rank is not None:
                # the reader chooses among the best-ranked candidates (None: no pick stage)
                tp = time.perf_counter()
                picked = self.reader.choose(question, terms, sentences, rank)
                if picked is not None:
                    first, reading = picked
                    read_ms = (time.perf_counter() - tp) * 1000
            evidence = select(
                terms, sentences, self.settings.max_answer_sentences, scores, rank, first
            )
            first_p = evidence.answerability
            if self.model is not None and first_p is not None:
                evidence = replace(
                    evidence, answerability=self.model.answerability(first_p, top_dense)
                )
        t2 = time.perf_counter()
        s = self.settings
        limits = (s.min_coverage, s.min_dense_score, s.min_answerability)
        decision = decide(evidence, top_dense, *limits)
        crossed = False
        stage = self.reader.decide if self.reader is not None else None
        if (
            stage is not None
            and first_p is not None
            and self.model is not None
            and self.model.question is not None  # cosines on the scale the stage was fitted on
            and not decide(evidence, top_dense, s.min_coverage, s.min_dense_score).refused
        ):
            # The other checks pass: the reader's P joins the answerability model's inputs (the
            # pick's reading; without a pick, the reader is read only when its P can change the
            # decision)
            assert self.reader is not None and evidence is not None
            p = None
            if reading is None and s.reader_skip:
                p = stage.decided(first_p, top_dense, s.min_answerability)
            if p is None:
                if reading is None:
                    reading = self.reader.read(question, sentences, scores, evidence.sentences[0])
                p = stage.answerability(first_p, top_dense, reading.best)
            evidence = replace(evidence, answerability=p)
            decision = decide(evidence, top_dense, *limits)
        if not decision.refused and self.reader is not None and self.settings.reader_veto:
            # The reader (~0.2 CPU-s a window here) is asked only what the other checks would answer
            assert evidence is not None
            if reading is None:
                reading = self.reader.read(question, sentences, scores, evidence.sentences[0])
            decision = decide(evidence, top_dense, *limits, reading.best, self.reader.threshold)
        elif decision.refused and self.reader is not None and passages:
            across = self._read_across(question, terms, groups)
            if across is not None:
                evidence, reading, decision, passages = across
                crossed = True
        timings = {"retrieve": (t1 - t0) * 1000, "select": (t2 - t1) * 1000}
        if reading is not None:
            timings["read"] = read_ms + (time.perf_counter() - t2) * 1000
            timings["select"] -= read_ms
        features = {
            "coverage": evidence.coverage if evidence else 0.0,
            "missing_critical": float(len(evidence.missing_critical)) if evidence else 0.0,
            "top_dense": top_dense,
        }
        if crossed:
            features["cross_language"] = 1.0
        if evidence is not None and evidence.answerability is not None:
            features["answerability"] = evidence.answerability
        if reading is not None:
            features["reader"] = reading.best
        if decision.refused:
            refusal = Answer(
                None,
                True,
                decision.reason,
                message(decision, script_of(question)),
                passages=tuple(passages),
                features=features,
                timings_ms=timings,
            )
            return Answered(refusal, None)
        assert evidence is not None
        if self.llm is not None and generate:
            t3 = time.perf_counter()
            if self.reader is None:
                shown, judged = list(passages), None
            else:
                if reading is None:
                    reading = self.reader.read(question, sentences, scores, evidence.sentences[0])
                shown, judged = self._judged(reading, crossed)
                timings["read"] = timings.get("read", 0.0) + (time.perf_counter() - t3) * 1000
                features["reader"] = reading.best
            generated = self._generate(question, shown, features, judged) if shown else None
            if generated is not None:
                text, citations = generated
                generative = Answer(
                    text,
                    False,
                    None,
                    None,
                    citations,
                    tuple(passages),
                    features,
                    timings,
                    "generative",
                )
                return Answered(generative, evidence)
        text, citations = compose(evidence.sentences, script_of(question))
        extractive = Answer(text, False, None, None, citations, tuple(passages), features, timings)
        return Answered(extractive, evidence)

    def _read_across(
        self, question: str, terms: QuestionTerms, groups: Sequence[str] | None
    ) -> tuple[Evidence, Reading, Decision, list[Passage]] | None:
        """A question the same-language checks refused, read against the candidate sentences
        in the other language (an English question over Chinese documents, or the reverse),
        whose words those checks cannot match. Dense retrieval alone (BM25 terms do not cross
        languages) of twice top-k passages, within the caller's groups; the reader reads the
        `cross_windows` candidates closest to the question by e5 cosine, and the answer is the
        sentence where its span head puts the answer in its best window (the window's centre
        when the span is in the title or nowhere; best: by cosine + the fitted weight x logit
        P, or by P) whose P(answers) reaches the cross-language threshold, whose window states
        every number the question writes in digits (`unstated_numbers`: a version, year or
        figure) and whose sentence names no other year or model than the question
        (`conflicts`). None when
        no candidate is in another language, or when the reader finds none and same-language
        passages were found too (then the same-language refusal and its reason stand)."""
        assert self.reader is not None
        asked = "en" if script_of(question) == "en" else "zh"
        query = self.embedder.embed_query(question)
        passages = self.store.search(
            query,
            SparseTerms([], []),
            limit=2 * self.settings.top_k,
            pool=self.settings.candidate_pool,
            groups=groups,
        )
        sentences = split_sentences(passages)
        language = {id(p): language_of(p.chunk.text) for p in passages}
        other = [s for s in answer_candidates(terms, sentences) if language[id(s.passage)] != asked]
        if not other:
            return None
        vectors = self.embedder.embed_passages([s.text for s in other])
        cosines = (vectors @ query).tolist()
        reading = self.reader.read(question, other, cosines, limit=self.reader.cross_windows)
        order = list(range(len(reading.windows)))  # by P
        if (weight := self.reader.cross_weight) is not None:
            # across languages the reader judges the topic better than the asked value: the
            # question's cosine to the sentence ranks with it (weight fitted: eval.cross_rank)
            cosine = {id(s): c for s, c in zip(other, cosines, strict=True)}
            order.sort(
                key=lambda k: (
                    -(cosine[id(reading.windows[k].sentence)] + weight * logit(reading.scores[k]))
                )
            )
        # The same-language checks' rules that cross languages: a sentence naming another year
        # or another model of the asked line ("R300" asked, "R500" stated) does not answer, nor
        # one without a value of the kind asked, as when a model judges the sentences (a
        # quantity or a price: "多久" is not answered by "launched in March 2025"; a date where
        # the question can only ask for one: "什么时候上市" is not answered by a title).
        kinds = judged_wants(terms, dates=True)
        for k in order:
            window = reading.windows[k]
            if reading.scores[k] < self.reader.cross_threshold:
                continue
            if unstated_numbers(terms, fold(window.text)):
                continue  # a year, version or figure asked that the window does not state
            sentence = _answer_sentence(window, reading.spans[k], other)
            if not conflicts(terms, sentence.folded) and answers_kind(kinds, sentence.folded):
                evidence = Evidence((sentence,), 0.0, (), True)
                kept = Reading((window,), (reading.scores[k],), (reading.spans[k],))
                return evidence, kept, Decision(False), passages
        if asked in language.values():
            return None
        evidence = Evidence((reading.windows[0].sentence,), 0.0, (), True)
        return evidence, reading, Decision(True, NOT_ANSWERED), passages

    def _judged(self, reading: Reading, crossed: bool) -> tuple[list[Passage], list[Window]]:
        """What the LLM may see and cite when a reader is loaded: the passages holding a window
        the reader judged as answering (P at least its threshold, the cross-language one for a
        question read across languages), best window first, and those windows."""
        assert self.reader is not None
        threshold = self.reader.cross_threshold if crossed else self.reader.threshold
        judged = [w for w, p in zip(reading.windows, reading.scores, strict=True) if p >= threshold]
        shown: dict[tuple[str, int], Passage] = {}
        for w in judged:
            shown.setdefault(
                (w.sentence.passage.chunk.doc_id, w.sentence.passage.chunk.char_start),
                w.sentence.passage,
            )
        return list(shown.values()), judged

    def _scores(
        self, question: str, terms: QuestionTerms, sentences: Sequence[Sentence]
    ) -> list[float] | None:
        """The answerability model's p(sentence answers question) per sentence (None: off)."""
        if self.model is None:
            return None
        q = answerability.analyse(terms, question)
        return self.model.probabilities(answerability.sentence_features(q, sentences))

    def _generate(
        self,
        question: str,
        passages: Sequence[Passage],
        features: dict[str, float],
        judged: Sequence[Window] | None = None,
    ) -> tuple[str, tuple[Citation, ...]] | None:
        """The LLM's checked answer, or None (then the extractive one stands): never unchecked.
        `judged`: the windows the reader judged as answering; every kept sentence must cite a
        span within one of them (None: no reader, today's checks alone)."""
        assert self.llm is not None
        try:
            reply = self.llm.complete(build_messages(question, passages))
        except LlmError as exc:
            log.warning("LLM failed, answering extractively: %s", exc)
            features["llm_error"] = 1.0
            return None
        ranges = None
        if judged is not None:
            ranges = [(w.sentence.passage.chunk.doc_id, w.start, w.end) for w in judged]
        result = enforce(question, reply, passages, self.settings.min_coverage, ranges)
        features["llm_rejected"] = float(result is None)
        return result


def _answer_sentence(
    window: Window, span: tuple[int, int] | None, candidates: Sequence[Sentence]
) -> Sentence:
    """The candidate sentence of the window where the reader's span head puts the answer (a
    neighbour of the window's centre, sometimes), else the centre sentence."""
    centre = window.sentence
    at = window.offset(span[0]) if span is not None else None
    if at is None:
        return centre
    chunk = centre.passage.chunk
    return next(
        (s for s in candidates if s.passage.chunk == chunk and s.start <= at < s.end), centre
    )


def load_answerability(settings: Settings) -> answerability.Model | None:
    """The configured answerability model (None when off); raises ConfigError when it cannot
    be used. The app factory calls it first, so a bad setting stops the service at start."""
    choice = settings.answerability_model
    if choice == "off":
        return None
    try:
        model = answerability.load(None if choice == "bundled" else Path(choice))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise ConfigError(
            f"GQA_ANSWERABILITY_MODEL={choice!r} cannot be loaded ({exc}); use 'bundled', 'off', "
            "or a file written by python -m eval.answerability_training"
        ) from exc
    return model


def _llm_from(settings: Settings) -> LlmClient | None:
    if not settings.llm_base_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LlmClient(settings.llm_base_url, settings.llm_model, key, settings.llm_timeout)


def compose(sentences: Sequence[Sentence], script: str) -> tuple[str, tuple[Citation, ...]]:
    """Verbatim quotes, each followed by its marker. Neighbouring sentences of one chunk with
    only whitespace between them become one quote (the exact chunk text that spans them)."""
    groups: list[list[Sentence]] = []
    for s in sentences:
        prev = groups[-1][-1] if groups else None
        if prev is not None and prev.passage.chunk == s.passage.chunk and s.start >= prev.end:
            cs = s.passage.chunk.char_start
            if not s.passage.chunk.text[prev.end - cs : s.start - cs].strip():
                groups[-1].append(s)
                continue
        groups.append([s])
    parts, citations = [], []
    for n, group in enumerate(groups, 1):
        first, last = group[0], group[-1]
        chunk = first.passage.chunk
        quote = chunk.text[first.start - chunk.char_start : last.end - chunk.char_start]
        score = round(first.passage.score, 6)
        citations.append(
            Citation(
                n,
                chunk.doc_id,
                chunk.source,
                chunk.title,
                quote,
                first.start,
                last.end,
                score,
                chunk.page_at(first.start),
            )
        )
        parts.append(f"{quote} [{n}]")
    sep = "" if script.startswith("zh") else " "
    return sep.join(parts), tuple(citations)
