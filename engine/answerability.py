"""Does this sentence answer this question? A learned model over features of (question, sentence).

The model is small on purpose: a logistic regression over the features below, trained by
`python -m eval.answerability_training` on Chinese reading-comprehension sets (CMRC 2018, DRCD
test; CC BY-SA) with same-topic negatives, and shipped as JSON weights (`models/answerability.json`)
applied with numpy: no torch or scikit-learn at run time. The answer engine asks it for every
candidate sentence; the best sentence's probability is the question's answerability.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import jieba.posseg
import numpy as np

from core.embedders import cosine_scale
from core.text import fold, words
from engine.evidence import (
    QUESTION_WORDS,
    SURNAMES,
    QuestionTerms,
    Sentence,
    answers_kind,
    credit,
)

log = logging.getLogger(__name__)
_WANTS_PERSON = re.compile(r"谁|哪位|哪一位|什么人|何人|\bwho\b|\bwhom\b")
_WANTS_PLACE = re.compile(r"哪里|哪儿|在哪|何地|何处|哪个(?:国家|城市|省|地方)|\bwhere\b")
_WANTS_NAME = re.compile(r"叫什么|什么名字|名字|名称|称为|称作|\bname\b|\bcalled\b")
# A question that ends on a noun asks for what that noun names ("2021赛季中超冠军",
# "《人世间》的编剧"): a person, a place, or some other name.
_END = r"(?:是|有|为)?\s*[?？。.!！]*\s*$"
_HEAD_PERSON = re.compile(
    r"(?:主演|导演|编剧|作者|得主|获得者|获奖者|主持人|创始人|创办人|发明人|旗手|代言人|主角|"
    rf"首席执行官|ceo|总统|总理|首相|主席|市长|教练|队长|负责人|董事长|总经理|校长){_END}"
)
_HEAD_PLACE = re.compile(rf"(?:地点|举办地|所在地|发源地|产地|总部|首都|地址){_END}")
_HEAD_NAME = re.compile(rf"(?:冠军|亚军|季军|吉祥物|口号|主题曲|主题|名字|名称|型号|品牌){_END}")
# What may follow a question's head noun in a sentence that states its value:
# "冠军：山东泰山", "吉祥物（冰墩墩）", "主演为杨紫", "票房达75亿".
_SLOT = re.compile(
    r"\s*(?:是|为|乃|：|:|（|\(|叫做?|名为|称为|达到?|共计?|约|有|由)\s*[\"“「『《]?\s*(.)"
)
_CONTENT = re.compile(r"[\u3400-\u9fff]|[a-z0-9]+")
_LATIN = re.compile(r"[a-z][a-z0-9]*")
_FOREIGN_NAME = re.compile(r"[\u3400-\u9fff]{1,6}[·•・][\u3400-\u9fff]{1,6}")
_QUOTED_NAME = re.compile(r"[“「『《\"]([^”」』》\"]{1,20})[”」』》\"]")
_PLACE_SUFFIX = re.compile(r"[国省市县州岛城镇村区港馆场]$|体育场|中心$")
# A measure word after the question word is part of it (哪一个人, 哪位, 几年).
_MEASURE_AFTER = re.compile(r"^\s*一?[个位种家座本部所条项次名只间]?人?")
_WH_GAP, _WH_SIDE = 30, 8  # characters between the framing words / beside one of them
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")

FEATURES = (
    "cov_sentence",  # IDF-weighted share of the question's plain terms in the sentence
    "cov_context",  # ... in the sentence, its neighbours and the document title
    "crit_sentence",  # share of the critical terms (years, numbers, names, quotes) in the sentence
    "crit_context",  # ... in its context
    "has_critical",  # the question has critical terms at all
    "bigram_recall",  # share of the question's character bigrams in the sentence
    "lcs_ratio",  # longest common substring / question length
    "wants_value",  # asks for a quantity or a date
    "wants_entity",  # asks who / where / what name
    "kind_match",  # the sentence holds a value or name of the asked kind, not from the question
    "novel_share",  # share of the sentence's characters that are not in the question
    "log_len",  # log sentence length
    "dense",  # the passage's dense cosine to the question
    "rank_inv",  # 1 / (1 + retrieval rank of the passage)
    "title_cov",  # share of the question's terms in the document title
    "spread",  # how far apart the matched question terms lie in the sentence (0 = adjacent)
    "cov_x_kind",  # interactions a linear model cannot form by itself
    "crit_x_cov",
    "other_year",  # the question names a year and the sentence names another one
    "head_slot",  # the question's last noun is followed by 是/为/：/（ and something new
    "wh_slot",  # the words around the question word frame something new in the sentence
)
# Bump when a feature's computation changes (the trainer's cache of feature rows is keyed by it).
FEATURES_VERSION = 10
QUESTION_FEATURES = ("best_sentence", "top_dense")


@dataclass(frozen=True)
class Question:
    """What the model needs of a question, computed once per question."""

    terms: QuestionTerms
    folded: str  # the folded question with question words removed
    bigrams: frozenset[str]
    wants_person: bool
    wants_place: bool
    wants_name: bool
    head: str = ""  # the question's last content word ("冠军" in "2021赛季中超冠军")
    wh_left: str = ""  # the content words just before and after the question word:
    wh_right: str = ""  # 会稽 and 提出 in "会稽的谁提出..."


def analyse(terms: QuestionTerms, question: str) -> Question:
    """The question as the features see it. What kind of answer it asks for is read from the
    whole question (谁, 哪里 and 叫什么 are question words, gone from `Question.folded`)."""
    asked = fold(question)
    folded = question_text(question)
    content = "".join(_CONTENT.findall(folded))
    bigrams = frozenset(content[i : i + 2] for i in range(len(content) - 1))
    plain = [w for w in words(folded) if w in terms.weights and len(w) > 1 and not w.isdigit()]
    return Question(
        terms,
        folded,
        bigrams,
        _WANTS_PERSON.search(asked) is not None or _HEAD_PERSON.search(asked) is not None,
        _WANTS_PLACE.search(asked) is not None or _HEAD_PLACE.search(asked) is not None,
        _WANTS_NAME.search(asked) is not None or _HEAD_NAME.search(asked) is not None,
        plain[-1] if plain else "",
        *_around_question_word(asked),
    )


def _around_question_word(asked: str) -> tuple[str, str]:
    """The content words just before and just after the question's first question word."""
    m = QUESTION_WORDS.search(asked)
    if not m:
        return "", ""
    rest = _MEASURE_AFTER.sub("", asked[m.end() :], count=1)
    before = [w for w in words(asked[: m.start()]) if len(w) > 1 and not w.isdigit()]
    after = [w for w in words(rest) if len(w) > 1 and not w.isdigit()]
    return (before[-1] if before else ""), (after[0] if after else "")


def question_text(question: str) -> str:
    """The folded question without its question words (多少, 什么, who ...)."""
    return QUESTION_WORDS.sub(" ", fold(question)).strip()


def sentence_features(q: Question, sentences: Sequence[Sentence]) -> list[list[float]]:
    """FEATURES of every sentence; its context is its neighbours and the heading above it."""
    by_passage: dict[int, list[int]] = {}
    for i, s in enumerate(sentences):
        by_passage.setdefault(id(s.passage), []).append(i)
    rows: list[list[float]] = [[] for _ in sentences]
    for idx in by_passage.values():
        title = fold(sentences[idx[0]].passage.chunk.title)
        for j, i in enumerate(idx):
            near = [sentences[k].folded for k in idx[max(0, j - 1) : j + 2]]
            heading = next(
                (sentences[k].folded for k in reversed(idx[:j]) if sentences[k].heading), ""
            )
            rows[i] = features(q, sentences[i], " ".join([title, heading, *near]), title)
    return rows


def features(q: Question, s: Sentence, context: str, title: str) -> list[float]:
    """The FEATURES of one candidate sentence (`context`, `title`: folded)."""
    t = q.terms
    critical = {f for _, f in t.critical}
    plain = {k: w for k, w in t.weights.items() if k not in critical}
    total = sum(plain.values())

    def cov(text: str) -> float:
        return sum(w * credit(text, k) for k, w in plain.items()) / total if total else 1.0

    def crit(text: str) -> float:
        return sum(t.has(text, f) for f in critical) / len(critical) if critical else 1.0

    cov_s, crit_s = cov(s.folded), crit(s.folded)
    kind = _kind_match(q, s.folded)
    return [
        cov_s,
        cov(context),
        crit_s,
        crit(context),
        float(bool(critical)),
        _bigram_recall(q, s.folded),
        _lcs(q.folded, s.folded) / max(1, len(q.folded)),
        float(bool(t.wants)),
        float(q.wants_person or q.wants_place or q.wants_name),
        kind,
        _novel(q, s.folded),
        math.log1p(len(s.text)),
        s.passage.dense_score,
        1 / (1 + s.rank),
        cov(title) if title else 0.0,
        _spread(t, s.folded),
        cov_s * kind,
        crit_s * cov_s,
        _other_year(q, s.folded),
        _head_slot(q, s.folded),
        _wh_slot(q, s.folded),
    ]


def _wh_slot(q: Question, folded: str) -> float:
    """1 when the words before and after the question word occur in the sentence in order with
    something new between them ("X由谁领导" and "X由刘裕领导"); 0.5 when one of them has
    something new on the question word's side; else 0."""
    left, right = q.wh_left, q.wh_right

    def novel(text: str) -> bool:
        return sum(ch not in q.folded for ch in _CONTENT.findall(text)) >= 2

    lefts = [m.end() for m in re.finditer(re.escape(left), folded)] if left else []
    rights = [m.start() for m in re.finditer(re.escape(right), folded)] if right else []
    if any(0 < j - i <= _WH_GAP and novel(folded[i:j]) for i in lefts for j in rights):
        return 1.0
    if any(novel(folded[i : i + _WH_SIDE]) for i in lefts):
        return 0.5
    if any(novel(folded[max(0, j - _WH_SIDE) : j]) for j in rights):
        return 0.5
    return 0.0


def _head_slot(q: Question, folded: str) -> float:
    """1 when the question's head noun is followed by a copula, colon or bracket and then by
    something the question does not say: the shape of a sentence that states the value."""
    if not q.head:
        return 0.0
    for m in re.finditer(re.escape(q.head), folded):
        slot = _SLOT.match(folded, m.end())
        if slot and slot.group(1) not in q.folded and _CONTENT.match(slot.group(1)):
            return 1.0
    return 0.0


def _other_year(q: Question, folded: str) -> float:
    asked = set(_YEAR.findall(q.folded))
    return float(bool(asked) and bool(set(_YEAR.findall(folded)) - asked))


def _bigram_recall(q: Question, folded: str) -> float:
    return sum(b in folded for b in q.bigrams) / len(q.bigrams) if q.bigrams else 0.0


def _novel(q: Question, folded: str) -> float:
    chars = _CONTENT.findall(folded)
    return sum(c not in q.folded for c in chars) / len(chars) if chars else 0.0


def _lcs(a: str, b: str) -> int:
    """Length of the longest common substring (dynamic programming over the short question)."""
    best, prev = 0, [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, 1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def _spread(t: QuestionTerms, folded: str) -> float:
    positions = [folded.find(k) for k in t.weights if k in folded]
    if len(positions) < 2 or not folded:
        return 1.0
    return (max(positions) - min(positions)) / len(folded)


def _kind_match(q: Question, folded: str) -> float:
    """1 when the sentence holds an answer of the kind asked: a value (answers_kind), a person,
    a place or a name that the question does not name; 0.5 when nothing specific is asked.
    jieba's part-of-speech tags are guesses for unknown words, so names are also recognised by
    their shape: a transliterated name (德劳帕迪·穆尔穆), a quoted or 《》 title, a Latin word."""
    if q.terms.wants:
        return float(answers_kind(q.terms, folded))
    if not (q.wants_person or q.wants_place or q.wants_name):
        return 0.5
    if q.wants_person and any(n not in q.folded for n in _FOREIGN_NAME.findall(folded)):
        return 1.0
    if q.wants_name and any(
        fold(m.group(1)) not in q.folded for m in _QUOTED_NAME.finditer(folded)
    ):
        return 1.0
    for tok in _tagged(folded):
        if tok.word in q.folded or len(tok.word) < 2:
            continue
        latin = _LATIN.fullmatch(tok.word) is not None
        person = (tok.flag in ("nr", "nrfg") and tok.word[0] in SURNAMES) or tok.flag == "nrt"
        if q.wants_person and (person or latin):
            return 1.0
        if q.wants_place and (tok.flag in ("ns", "nt") or _PLACE_SUFFIX.search(tok.word)):
            return 1.0
        if q.wants_name and (tok.flag in ("nz", "nt", "ns", "nr", "nrt", "eng") or latin):
            return 1.0
    return 0.0


@functools.lru_cache(maxsize=4096)
def _tagged(folded: str) -> tuple[Any, ...]:
    return tuple(jieba.posseg.lcut(folded))


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, rows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        z = ((np.asarray(rows, dtype=float) - self.mean) / self.scale) @ self.coef + self.intercept
        return np.asarray(1 / (1 + np.exp(-z)))

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Logistic:
        return cls(
            np.asarray(d["mean"]),
            np.asarray(d["scale"]),
            np.asarray(d["coef"]),
            float(d["intercept"]),
        )


@dataclass(frozen=True)
class Model:
    """Two stages: p(sentence answers question) over FEATURES, then p(question is answerable)
    over QUESTION_FEATURES (the best sentence's p and the top passage's dense cosine)."""

    sentence: Logistic
    question: Logistic | None
    meta: dict[str, Any]

    def probabilities(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """p(answers) of each sentence's FEATURES row."""
        return [float(p) for p in self.sentence.predict(rows)] if len(rows) else []

    def answerability(self, best_sentence: float, top_dense: float) -> float:
        """p(the question is answerable from these passages)."""
        if self.question is None:
            return best_sentence
        return float(self.question.predict([[best_sentence, top_dense]])[0])

    def ranking(self, probabilities: Sequence[float], cosines: Sequence[float]) -> list[float]:
        """The key that picks the evidence's first sentence: each sentence's p(answerable) by
        the question stage, as if it were the best sentence and its own passage's dense cosine
        the top one. A sentence of a passage far from the question must then be rated that much
        better than one of the passage closest to it (ClapNQ's "where is Yemen located"
        answered from a river's "headwaters ... are located", a lower-cosine passage, is how the
        sentence's p alone chose). Without a question stage: the probabilities."""
        if self.question is None or not len(probabilities):
            return list(probabilities)
        return [float(p) for p in self.question.predict(np.c_[probabilities, cosines])]

    def for_embedder(self, name: str) -> Model:
        """The model for passages scored by embedder `name`. Cosines are on the scale of the
        embedder the model was trained with (meta["embedder"]), shared by embedders of the same
        network (core.embedders.cosine_scale); for another network the
        cosine-based inputs are dropped (the sentence stage's `dense` weight is zeroed, the
        question stage falls back to the best sentence's p) rather than misread."""
        trained = self.meta.get("embedder")
        if trained is None or cosine_scale(trained) == cosine_scale(name):
            return self
        coef = self.sentence.coef.copy()
        coef[FEATURES.index("dense")] = 0.0
        log.warning(
            "answerability model trained with %s, embedder is %s: ignoring cosine features",
            self.meta.get("embedder"),
            name,
        )
        return Model(replace(self.sentence, coef=coef), None, self.meta)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic",
            "features": list(FEATURES),
            **self.sentence.to_json(),
            "question": None
            if self.question is None
            else {"features": list(QUESTION_FEATURES), **self.question.to_json()},
            "meta": self.meta,
        }


def model_bytes(path: Path | None = None) -> bytes:
    """The shipped model file's bytes (or those of the file at `path`)."""
    if path is None:
        return resources.files("engine").joinpath("models/answerability.json").read_bytes()
    return Path(path).read_bytes()


def model_sha256(path: Path | None = None) -> str:
    """The sha256 of the shipped model file (or of the file at `path`): what a stage fitted on
    this model's outputs records, to tell it apart from another model."""
    return hashlib.sha256(model_bytes(path)).hexdigest()


def load(path: Path | None = None) -> Model:
    """The shipped model (or one at `path`); raises ValueError if its features differ from
    FEATURES (a model trained for other features would score garbage)."""
    d = json.loads(model_bytes(path).decode("utf-8"))
    q = d.get("question")
    if tuple(d["features"]) != FEATURES or (q and tuple(q["features"]) != QUESTION_FEATURES):
        raise ValueError(
            "answerability model was trained for other features; rebuild it with "
            "python -m eval.answerability_training"
        )
    return Model(Logistic.from_json(d), Logistic.from_json(q) if q else None, d.get("meta", {}))
