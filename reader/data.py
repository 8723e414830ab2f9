"""Training examples for the reader: (question, window) pairs from SQuAD-format files.

A window is what the product shows the reader: the article title on its own line, then a
sentence of the paragraph with its neighbours (`core.sentences.sentence_spans`, the splitter the
engine's evidence uses), copied verbatim so that a span in the window maps back to the context.

Each answerable question gives one positive (the window centred on the sentence where its answer
starts) and negatives that teach refusal (see the team's notes on models: a relevance head is
not enough, the reader must see the asked constraint missing):
- `other_window`: other windows of the same article that do not contain the answer text;
- `squad2_unanswerable`: SQuAD 2.0's human-written unanswerable questions, on the window of
  their plausible answer (or the window sharing most words with the question, character bigrams
  for a Chinese one), in English and, with `--squad2-zh`, in Chinese (`read_squad2_zh`);
- `perturbed_number`: a year or number of the question (Arabic or Chinese numerals) that the
  window states, replaced by another value the window does not state;
- `perturbed_entity`: a name, place or organisation of the question (jieba POS tags nr/ns/nt for
  Chinese, capitalised spans for English) that the window states, replaced by an entity of the
  same kind from another article that the window does not contain;
- `hard_window` (`--hard-windows N`): the N windows of the same article, other than those above,
  that share the most question terms and do not contain the answer: what a retriever puts first
  when the answer is not there (the random `other_window` is mostly an easy negative);
- `other_article` (`--other-articles N`): the same from other articles of the same file, found by
  the question's terms: a passage about the same names or subject in another document;
- `answer_removed` (`--answer-removed`): the positive's own context with the sentence holding the
  answer taken out (the three nearest other sentences of its paragraph, in order, none holding an
  answer text): the same entity, event and time, but not the asked value, as when a retrieved
  report about the asked event never states it.
With `--query-forms F`, a share F of the questions has its examples given again with the question
as people type it into a search box (`query_form`: no question mark, English lowercased, a
trailing Chinese interrogative dropped), labels unchanged, so that the form does not decide.
With `--absent-boost K`, a train positive whose window lacks a share s of its question's content
words (`absent_share`) is written round(K * s) more times: the readers trained without it give
such windows a low P (a question in other words than its answer), as if word overlap decided.
Term overlap is weighted by inverse document frequency over the file's windows; the terms are
character bigrams of Chinese runs and lowercased words of other scripts.

The train/dev split is by article (a hash of seed and article key), so no article is in both.
Pure Python (no torch): `python -m reader.data --training DIR --out DIR`.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.sentences import sentence_spans

log = logging.getLogger(__name__)

SOURCES = ("cmrc2018_dev", "cmrc2018_trial", "DRCD_test", "squad2_dev_part")
CROSS_SOURCES = ("xquad_en2zh", "xquad_zh2en")  # question and window in different languages
KINDS = (
    "positive",
    "other_window",
    "squad2_unanswerable",
    "perturbed_number",
    "perturbed_entity",
    "hard_window",
    "other_article",
    "answer_removed",
    "answer_cut",
)


@dataclass(frozen=True)
class Example:
    """One (question, window) pair. `span` is the answer's [start, end) in `window`."""

    id: str
    source: str
    article: str
    question: str
    window: str
    answerable: bool
    span: tuple[int, int] | None
    kind: str

    def to_json(self) -> str:
        d = asdict(self)
        d["span"] = list(self.span) if self.span else None
        return json.dumps(d, ensure_ascii=False)

    @staticmethod
    def from_json(line: str) -> Example:
        d = json.loads(line)
        d["span"] = tuple(d["span"]) if d["span"] else None
        return Example(**d)


@dataclass(frozen=True)
class Window:
    """A window of one paragraph: context[start:end] (centre sentence and neighbours)."""

    title: str
    context: str
    start: int
    end: int

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.context[self.start : self.end]}"

    def span_of(self, a: int, b: int) -> tuple[int, int] | None:
        """Window offsets of context[a:b], or None when it is not wholly inside."""
        if a < self.start or b > self.end:
            return None
        shift = len(self.title) + 1 - self.start
        return a + shift, b + shift


def windows(title: str, context: str) -> list[Window]:
    """One window per sentence: the sentence with the one before and the one after it."""
    spans = sentence_spans(context)
    return [
        Window(title, context, spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1])
        for i in range(len(spans))
    ]


def centre_window(title: str, context: str, char: int) -> Window | None:
    """The window centred on the sentence holding context[char]."""
    spans = sentence_spans(context)
    for i, (s, e) in enumerate(spans):
        if s <= char < e:
            return Window(
                title, context, spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
            )
    return None


# --- perturbations ----------------------------------------------------------------------------
_CN_DIGITS = "零一二三四五六七八九"
_NUMBER = re.compile(r"\d+(?:\.\d+)?|[零一二两三四五六七八九十百]+")


def cn_to_int(text: str) -> int | None:
    """A Chinese numeral below 1000 (三, 十二, 二十五, 一百零八) as an int; None otherwise."""
    if text.isdigit():
        return int(text)
    units = {"十": 10, "百": 100}
    total, digit = 0, None
    for ch in text:
        if ch in units:
            total += (1 if digit is None else digit) * units[ch]
            digit = None
        elif ch == "两" or ch in _CN_DIGITS:
            digit = 2 if ch == "两" else _CN_DIGITS.index(ch)
        else:
            return None
    return total + (digit or 0)


def int_to_cn(n: int) -> str:
    """0 <= n < 1000 in Chinese numerals (十二, 二十五, 一百零八)."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n - 10] if n % 10 else "")
    if n < 100:
        return _CN_DIGITS[n // 10] + "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + int_to_cn(rest) if rest < 10 else int_to_cn(rest))
    if 10 <= rest < 20:
        tail = "一" + tail
    return _CN_DIGITS[n // 100] + "百" + tail


def _number_forms(n: int) -> set[str]:
    forms = {str(n)}
    if 0 <= n < 1000:
        forms.add(int_to_cn(n))
    return forms


def perturb_number(question: str, window: str, rng: random.Random) -> tuple[str, str] | None:
    """The question with one number that the window states replaced by a value that the window
    does not state (in Arabic or Chinese numerals); returns (new question, new value) or None."""
    found = [m for m in _NUMBER.finditer(question) if m.group() in window]
    rng.shuffle(found)
    for m in found:
        old = m.group()
        if "." in old:
            continue
        value = int(old) if old.isdigit() else cn_to_int(old)
        if value is None or (not old.isdigit() and value in (0, 1)):
            continue  # a lone 一 is mostly not a quantity (这一, 一般, 一种)
        is_year = old.isdigit() and len(old) == 4
        offsets = [d for d in range(-3, 4) if d] if is_year else [d for d in range(-4, 6) if d]
        rng.shuffle(offsets)
        for d in offsets:
            new_value = value + d
            if new_value <= 0 or any(f in window for f in _number_forms(new_value)):
                continue
            new = str(new_value) if old.isdigit() else int_to_cn(new_value)
            if old.isdigit() and len(new) != len(old) and len(old) > 1:
                continue  # keep 2021 -> 2019, not 2021 -> 999
            if new in window:
                continue
            return question[: m.start()] + new + question[m.end() :], new
    return None


_CAPS = re.compile(r"\b[A-Z][A-Za-z'\-]+(?: (?:of |the |de )?[A-Z][A-Za-z'\-]+)*")
_EN_SKIP = {"What", "Who", "When", "Where", "Which", "Why", "How", "In", "The", "A", "An", "On"}
ZH_ENTITY_TAGS = {"nr": "person", "ns": "place", "nt": "org"}


@functools.lru_cache(maxsize=65536)  # the pool and the perturbation both ask; jieba is slow
def entities(question: str, language: str) -> tuple[tuple[str, str], ...]:
    """(text, kind) of the names in a question: jieba POS nr/ns/nt for Chinese (kind person,
    place, org), capitalised spans for English (kind `name`; the first word when it is a
    question word is skipped)."""
    if language == "en":
        out = []
        for m in _CAPS.finditer(question):
            words = m.group().split(" ")
            while words and words[0] in _EN_SKIP:
                words = words[1:]
            if words:
                out.append((" ".join(words), "name"))
        return tuple(out)
    import jieba.posseg

    return tuple(
        (w.word, ZH_ENTITY_TAGS[w.flag])
        for w in jieba.posseg.lcut(question)
        if w.flag in ZH_ENTITY_TAGS and len(w.word) >= 2
    )


@dataclass
class EntityPool:
    """Entities seen in questions, by (group, kind), each with its article. The group is the
    source file, so a swap stays in one script (simplified, traditional, English)."""

    by_kind: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, group: str, kind: str, text: str, article: str) -> None:
        self.by_kind.setdefault((group, kind), []).append((text, article))

    def freeze(self) -> None:
        for key, items in self.by_kind.items():
            self.by_kind[key] = sorted(set(items))


def perturb_entity(
    question: str,
    window: str,
    article: str,
    language: str,
    pool: EntityPool,
    rng: random.Random,
    group: str | None = None,
) -> tuple[str, str] | None:
    """The question with one entity that the window states swapped for an entity of the same
    kind from another article of the pool's `group` (default: the language) that the window
    does not contain; (new question, new entity)."""
    found = [(t, k) for t, k in entities(question, language) if t in window]
    rng.shuffle(found)
    for text, kind in found:
        candidates = [
            e
            for e, a in pool.by_kind.get((group or language, kind), [])
            if a != article and e != text and e not in window and text not in e
        ]
        if not candidates:
            continue
        new = rng.choice(candidates)
        return question.replace(text, new, 1), new
    return None


# --- questions as people type them -----------------------------------------------------------
# A trailing interrogative of a Chinese question (simplified or traditional), with the copula or
# particle around it: "锣鼓经是什么？" -> "锣鼓经", "北京大学创建于哪一年？" -> "北京大学创建于".
_ZH_ASKED = re.compile(
    r"(?:是|为|為|在|有|的)?(?:什么时候|什麼時候|什么|什麼|甚麼|哪一年|哪一个|哪一個|哪一|哪些|哪个|哪個"
    r"|哪里|哪裡|哪儿|哪|谁|誰|多少|多久|几|幾|何时|何時|何处|何處|为什么|為什麼|为何|為何|如何"
    r"|怎样|怎樣|怎么|怎麼)(?:呢|了|的|啊)?$"
)


def query_form(question: str, language: str) -> str:
    """The question as it is typed into a search box: an English one lowercased without its
    question mark ("what tractor was made in charles city iowa"), a Chinese one without its
    question mark and its trailing interrogative ("2022年法网开始时间" style; an interrogative
    inside the question stays). The question itself when nothing is left to drop or keep."""
    bare = question.strip().rstrip("？?。.！! ")
    if language == "en":
        return bare.lower() or question
    short = _ZH_ASKED.sub("", bare).rstrip("，, ")
    if short == bare and len(bare) > 3 and bare[-1] in "为為是":
        short = bare[:-1]  # "負責管理的單位為？"
    return short if len(short) >= 2 else bare or question


# --- positives in other words -----------------------------------------------------------------
# What a question asks with (interrogatives, function words) is in no answering window: left out
# of the share below. A data weighting, not an engine rule: it only decides how often a training
# positive is seen.
_ZH_ASKING_WORDS = (
    "什么 什麼 甚么 甚麼 什么时候 什麼時候 哪个 哪個 哪些 哪里 哪裡 哪儿 哪兒 哪一 哪一年 哪一个 哪一個 "
    "哪一位 哪年 哪位 几年 幾年 几个 幾個 几月 幾月 第几 第幾 多少 多久 多长 多長 多大 多高 为何 為何 "
    "为什么 為什麼 如何 怎么 怎麼 怎样 怎樣 是否 何时 何時 何地 何处 何處 何种 何種 是谁 是誰"
)
_EN_FUNCTION_WORDS = (
    "what which when where who whom whose why how does did do is are was were the a an of in on "
    "at to for from by with and or that this these those as it its into than then be been has "
    "have had"
)
_ZH_ASKING = frozenset(_ZH_ASKING_WORDS.split())
_EN_FUNCTION = frozenset(_EN_FUNCTION_WORDS.split())


def absent_share(question: str, window: str, language: str) -> float:
    """The share of the question's content words that the window does not contain (jieba words
    of two or more characters for Chinese, words of three or more letters for English; the
    asking and function words above left out); 0.0 when it has none. On the dev split the
    shipped reader's P falls with it on answering windows (1,500 seeded D8 dev pairs: median
    0.86 with every word there, 0.04 with over half missing; e5_d8 0.93 and 0.09), and the share
    alone separates answering windows from the rest at AUROC 0.80: the readers read word overlap
    more than whether the asked value is stated."""
    if language == "en":
        low = window.lower()
        words = [w for w in re.findall(r"[^\W_]{3,}", question.lower()) if w not in _EN_FUNCTION]
        return sum(w not in low for w in words) / len(words) if words else 0.0
    import jieba

    words = [
        w
        for w in jieba.lcut(question)
        if len(w) >= 2 and w not in _ZH_ASKING and re.search(r"[\u4e00-\u9fff0-9A-Za-z]", w)
    ]
    return sum(w not in window for w in words) / len(words) if words else 0.0


# --- retrieval-like negatives ----------------------------------------------------------------
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[^\W\d_]{2,}|\d+", re.UNICODE)


@functools.lru_cache(maxsize=262144)  # a window's terms, asked once per question of its article
def terms(text: str) -> frozenset[str]:
    """Character bigrams of the Chinese runs (a lone character alone) and the lowercased words
    (digit runs too) of the rest: the overlap measure of the retrieval-like negatives."""
    out: set[str] = set()
    for run in _HAN_RUN.findall(text):
        out.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    out.update(w.lower() for w in _WORD.findall(_HAN_RUN.sub(" ", text)))
    return frozenset(out)


class TermIndex:
    """An inverted index of windows' terms with idf weights: the windows that share the most
    weight with a question. Written here: a BM25 library would add a dependency for twenty
    lines, and the weights only rank negatives."""

    def __init__(self, texts: Sequence[str], max_df: float = 0.05) -> None:
        self.postings: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            for term in terms(t):
                self.postings.setdefault(term, []).append(i)
        n = max(1, len(texts))
        self.idf = {t: math.log(n / len(ids)) for t, ids in self.postings.items()}
        self.cap = max(50, int(max_df * n))  # terms in more windows rank nothing

    def weight(self, question_terms: frozenset[str], text: str) -> float:
        # in sorted order: a float sum in set order (string hashes differ per process) would break
        # ties differently from one run to the next
        return sum(self.idf.get(t, 0.0) for t in sorted(question_terms & terms(text)))

    def top(self, question_terms: frozenset[str], k: int) -> list[int]:
        """Indices of the (up to) k windows with the highest shared weight (ties: lower index)."""
        score: Counter[int] = Counter()
        for t in sorted(question_terms):  # sorted, as in `weight`
            ids = self.postings.get(t, ())
            if 0 < len(ids) <= self.cap:
                w = self.idf[t]
                for i in ids:
                    score[i] += w  # type: ignore[assignment]  # Counter of floats
        return [i for i, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


# --- reading and building ---------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[tuple[str, int], ...]  # (text, answer_start)
    plausible: tuple[tuple[str, int], ...]
    impossible: bool


@dataclass(frozen=True)
class Paragraph:
    source: str
    article: str
    title: str
    context: str
    questions: tuple[Question, ...]
    # The questions' language when it is not the paragraph's (the cross-language sets); None:
    # the paragraph's, as `language_of(context)` guesses it (the monolingual sources).
    question_language: str | None = None


def read_squad(path: Path, source: str) -> list[Paragraph]:
    """Paragraphs of a SQuAD v1/v2 JSON file; the article key is `source/title`."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for ai, art in enumerate(data):
        title = str(art.get("title") or art.get("id") or ai)
        for para in art["paragraphs"]:
            qs = tuple(
                Question(
                    str(q["id"]),
                    q["question"].strip(),
                    tuple((a["text"], int(a["answer_start"])) for a in q.get("answers", [])),
                    tuple(
                        (a["text"], int(a["answer_start"])) for a in q.get("plausible_answers", [])
                    ),
                    bool(q.get("is_impossible", False)),
                )
                for q in para["qas"]
            )
            out.append(Paragraph(source, f"{source}/{title}", title, para["context"], qs))
    return out


# XQuAD (github.com/google-deepmind/xquad at 7d30520, CC BY-SA 4.0): 240 paragraphs of SQuAD
# v1.1 dev with their 1,190 questions, professionally translated; the same ids in every language.
XQUAD_COMMIT = "7d30520c717524000f0d9d2f9c10a069acd9d285"
XQUAD_SHA256 = {
    "en": "e4c57d1c9143aaa1c5d265ba5987a65f4e69528d2a98f29d6e75019b10344f29",
    "zh": "691d0b3359bc6b8faa8de931dfdfe21d50a65861ae348e32a0d1a0190b0c8835",
}


def read_xquad(folder: Path, digests: Mapping[str, str] = XQUAD_SHA256) -> list[Paragraph]:
    """Cross-language paragraphs from XQuAD's English and Chinese files: every English question
    asked of the Chinese paragraph (source `xquad_en2zh`) and every Chinese question asked of the
    English one (`xquad_zh2en`), with the answer in the paragraph's language. Both directions of
    an article share its key (`xquad/<title>`), so the split keeps them together. Raises
    ValueError when a file is not the pinned one or the two do not align."""
    parts = {}
    for lang, digest in digests.items():
        path = folder / f"xquad.{lang}.json"
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != digest:
            raise ValueError(f"{path}: sha256 {got[:12]}..., not XQuAD at {XQUAD_COMMIT[:7]}")
        parts[lang] = read_squad(path, "xquad")
    out = []
    for en, zh in zip(parts["en"], parts["zh"], strict=True):
        asked = {q.id: q.text for q in en.questions}, {q.id: q.text for q in zh.questions}
        if asked[0].keys() != asked[1].keys():
            raise ValueError(f"XQuAD {en.title}: the English and Chinese questions differ")
        for source, para, lang, other in (
            ("xquad_en2zh", zh, "en", asked[0]),
            ("xquad_zh2en", en, "zh", asked[1]),
        ):
            qs = tuple(replace(q, id=f"{q.id}:{source}", text=other[q.id]) for q in para.questions)
            out.append(replace(para, source=source, questions=qs, question_language=lang))
    return out


# SQuAD 2.0 dev in Chinese (github.com/pluto-junzeng/ChineseSquad at 6cc7b1c,
# squad_2.0/dev-v2.0-zh.json): all 35 articles of SQuAD 2.0's dev set machine-translated and
# corrected by hand, 3,991 answerable questions and 5,945 of SQuAD 2.0's human-written
# unanswerable ones, which are the hardest negative (a question on the paragraph's own topic
# that it does not answer) and which no Chinese set here has. A derivative of SQuAD 2.0 (CC BY-SA
# 4.0; the repository states no licence of its own, so SQuAD's share-alike terms apply).
SQUAD2_ZH_COMMIT = "6cc7b1cd0d96abd2fe71f587aacff5e9eff1ed7f"
SQUAD2_ZH_SHA256 = "3754c015f04ab09ac3f65f90f89ac88871405264550ef444df75e1787c517562"


def read_squad2_zh(
    path: Path, english: Sequence[Paragraph], digest: str = SQUAD2_ZH_SHA256
) -> list[Paragraph]:
    """The Chinese SQuAD 2.0 dev paragraphs (source `squad2_zh`). An article whose question ids
    are those of an English article already read (`squad2_dev_part`, 16 of the 35) takes that
    article's key, so the split keeps a paragraph and its translation on the same side; the
    others are keyed `squad2_zh/<title>`. Raises ValueError when the file is not the pinned one."""
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != digest:
        raise ValueError(
            f"{path}: sha256 {got[:12]}..., not ChineseSquad at {SQUAD2_ZH_COMMIT[:7]}"
        )
    key_of = {q.id: p.article for p in english for q in p.questions}
    paragraphs = read_squad(path, "squad2_zh")
    article_key: dict[str, str] = {}
    for p in paragraphs:  # ids as in SQuAD 2.0, made unique after this
        for q in p.questions:
            if q.id in key_of:
                article_key.setdefault(p.article, key_of[q.id])
    return [
        replace(
            p,
            article=article_key.get(p.article, p.article),
            questions=tuple(replace(q, id=f"{q.id}:zh") for q in p.questions),
        )
        for p in paragraphs
    ]


def language_of(text: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def build_pool(paragraphs: Iterable[Paragraph]) -> EntityPool:
    pool = EntityPool()
    for p in paragraphs:
        lang = p.question_language or language_of(p.context)
        for q in p.questions:
            for text, kind in entities(q.text, lang):
                pool.add(p.source, kind, text, p.article)
    pool.freeze()
    return pool


def examples_for(
    paragraphs: Sequence[Paragraph],
    pool: EntityPool,
    seed: int = 13,
    other_windows: int = 2,
    hard_windows: int = 0,
    other_articles: int = 0,
    dev_fraction: float | None = None,
    query_forms: float = 0.0,
    answer_removed: bool = False,
    untitled: float = 0.0,
    answer_cut: bool = False,
) -> Iterator[Example]:
    """All examples of the paragraphs (of any number of articles), in input order.
    `dev_fraction`: the split (`split_of` with `seed`), so that an `other_article` negative comes
    from an article of the question's own split (None: any article). `query_forms`: the share of
    questions whose examples are given again with the question in its search-query form.
    `untitled`: the share of examples whose window loses its title line (`without_title`), as a
    document without a title is read; each example's draw is its own (seed and id), so the other
    examples stay as they were. `answer_cut`: per answerable question, its own window with the
    answer text cut out (`cut_answer`)."""
    by_article: dict[str, list[Window]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article, []).extend(windows(p.title, p.context))
    by_source: dict[str, list[tuple[str, Window]]] = {}
    if hard_windows or other_articles:
        for p in paragraphs:
            by_source.setdefault(p.source, []).extend((p.article, w) for w in by_article[p.article])
    index = {src: TermIndex([w.text for _, w in ws]) for src, ws in by_source.items()}

    def part(article: str) -> str:
        return "" if dev_fraction is None else split_of(article, seed, dev_fraction)

    def of_question(p: Paragraph, q: Question, lang: str) -> Iterator[Example]:
        rng = _rng(seed, q.id)
        base = dict(source=p.source, article=p.article, question=q.text)
        if q.impossible or not q.answers:
            w = _unanswerable_window(p, q)
            if w is not None:
                yield Example(
                    q.id,
                    **base,
                    window=w.text,
                    answerable=False,
                    span=None,
                    kind="squad2_unanswerable",
                )
            return
        answer, start = q.answers[0]
        w = centre_window(p.title, p.context, start)
        span = w.span_of(start, start + len(answer)) if w else None
        if w is None or span is None:
            return  # the answer crosses the window's edge
        text = w.text
        yield Example(q.id, **base, window=text, answerable=True, span=span, kind="positive")
        others = [
            o
            for o in by_article[p.article]
            if all(a not in o.text for a, _ in q.answers) and o.text != text
        ]
        sampled = rng.sample(others, min(other_windows, len(others)))

        def negative(suffix: str, window: str, kind: str, question: str = q.text) -> Example:
            return Example(
                f"{q.id}#{suffix}", p.source, p.article, question, window, False, None, kind
            )

        for i, o in enumerate(sampled):
            yield negative(f"w{i}", o.text, "other_window")
        num = perturb_number(q.text, text, rng)
        if num is not None:
            yield negative("n", text, "perturbed_number", num[0])
        ent = perturb_entity(q.text, text, p.article, lang, pool, rng, p.source)
        if ent is not None:
            yield negative("e", text, "perturbed_entity", ent[0])
        if answer_removed:  # drawing nothing from rng, like the kinds below
            rest = _without_answer(p, q, start)
            if rest is not None:
                yield negative("r", rest, "answer_removed")
        if answer_cut:  # nor this one
            cut = cut_answer(text, [a for a, _ in q.answers], len(w.title) + 1)
            if cut is not None:
                yield negative("c", cut, "answer_cut")
        if not (hard_windows or other_articles) or p.question_language is not None:
            return  # across languages the terms do not match
        # after the kinds above, drawing nothing from rng: their examples stay as they were
        asked, idx = terms(q.text), index[p.source]
        taken = {o.text for o in sampled}

        def fresh(texts: Iterable[str], n: int) -> Iterator[str]:
            """The first n texts not taken yet (a short paragraph's windows can be one text)."""
            for t in texts:
                if n <= 0:
                    return
                if t not in taken:
                    taken.add(t)
                    n -= 1
                    yield t

        ranked = sorted(others, key=lambda o: -idx.weight(asked, o.text))  # stable on ties
        for i, t in enumerate(fresh((o.text for o in ranked), hard_windows)):
            yield negative(f"h{i}", t, "hard_window")
        near = (by_source[p.source][j] for j in idx.top(asked, 50))
        elsewhere = (
            o.text
            for article, o in near
            if article != p.article
            and part(article) == part(p.article)
            and all(a not in o.text for a, _ in q.answers)
        )
        for i, t in enumerate(fresh(elsewhere, other_articles)):
            yield negative(f"a{i}", t, "other_article")

    for p in paragraphs:
        lang = p.question_language or language_of(p.context)
        for q in p.questions:
            made = list(of_question(p, q, lang))
            if untitled:
                made = [
                    without_title(ex) if _rng(seed, ex.id, "untitled").random() < untitled else ex
                    for ex in made
                ]
            yield from made
            if query_forms and _rng(seed, q.id, "query").random() < query_forms:
                # the same pairs asked as a search box query (`query_form`), labels unchanged
                for ex in made:
                    form = query_form(ex.question, lang)
                    if form != ex.question:
                        yield replace(ex, id=f"{ex.id}~q", question=form)


def without_title(ex: Example) -> Example:
    """The example with its window's title line dropped and its span moved with the text, as the
    engine reads a document that has no title (rgb-zh's passages, JSONL exports without one)."""
    cut = ex.window.find("\n") + 1
    if cut <= 0 or (ex.span is not None and ex.span[0] < cut):
        return ex  # no title line, or the answer is in it
    span = (ex.span[0] - cut, ex.span[1] - cut) if ex.span is not None else None
    return replace(ex, window=ex.window[cut:], span=span)


def cut_answer(window: str, answers: Sequence[str], body: int) -> str | None:
    """`window` with every occurrence of every answer text cut out of its body (from offset
    `body`, after the title line): the same words as the question's answering window, the asked
    value gone. None where that would leave too little to read: an answer of one character, an
    answer in the title line, or a cut of over a third of the body."""
    texts = sorted({a.strip() for a in answers if len(a.strip()) >= 2}, key=len, reverse=True)
    head, rest = window[:body], window[body:]
    if not texts or any(a in head for a in texts):
        return None
    cut = rest
    for a in texts:
        cut = cut.replace(a, "")
    if cut == rest or len(rest) - len(cut) > len(rest) / 3:
        return None
    cut = re.sub(r"[ \t]{2,}", " ", cut)
    cut = re.sub(r" ([,.;:!?)])", r"\1", cut)  # "held in , on" -> "held in, on"
    return head + cut


def _without_answer(p: Paragraph, q: Question, start: int, n: int = 3) -> str | None:
    """The title and the n sentences of the paragraph nearest the one where the answer starts,
    that one left out and none holding an answer text, in their order (None: none left)."""
    spans = sentence_spans(p.context)
    at = next((i for i, (s, e) in enumerate(spans) if s <= start < e), None)
    if at is None:
        return None
    near = sorted((i for i in range(len(spans)) if i != at), key=lambda i: (abs(i - at), i))
    kept = [
        i for i in near if all(a not in p.context[spans[i][0] : spans[i][1]] for a, _ in q.answers)
    ][:n]
    if not kept:
        return None
    sep = " " if language_of(p.context) == "en" else ""
    body = sep.join(p.context[spans[i][0] : spans[i][1]].strip() for i in sorted(kept))
    return f"{p.title}\n{body}"


def _unanswerable_window(p: Paragraph, q: Question) -> Window | None:
    """The window of the question's plausible answer, else the one sharing most words with it
    (character bigrams for a Chinese question: `terms`)."""
    if q.plausible:
        return centre_window(p.title, p.context, q.plausible[0][1])
    ws = windows(p.title, p.context)
    if not ws:
        return None
    if language_of(q.text) == "zh":
        asked = terms(q.text)
        return max(ws, key=lambda w: len(asked & terms(w.text)))
    words = set(re.findall(r"\w+", q.text.lower()))
    return max(ws, key=lambda w: len(words & set(re.findall(r"\w+", w.text.lower()))))


def split_of(article: str, seed: int, dev_fraction: float) -> str:
    """`dev` or `train`, from a hash of seed and article key: stable across runs and machines."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{article}".encode()).digest()[:8], "big")
    return "dev" if h / 2**64 < dev_fraction else "train"


def build(
    training: Path,
    out: Path,
    seed: int = 13,
    dev_fraction: float = 0.1,
    other_windows: int = 2,
    xquad: Path | None = None,
    hard_windows: int = 0,
    other_articles: int = 0,
    query_forms: float = 0.0,
    answer_removed: bool = False,
    untitled: float = 0.0,
    squad2_zh: Path | None = None,
    absent_boost: float = 0.0,
    answer_cut: bool = False,
) -> dict:
    """Write train.jsonl, dev.jsonl and stats.json under `out`; returns the stats. `xquad`: a
    folder with XQuAD's xquad.en.json and xquad.zh.json, for the cross-language examples;
    `squad2_zh`: ChineseSquad's dev-v2.0-zh.json (`read_squad2_zh`). `absent_boost` K: in the
    train split only, a same-language positive whose window lacks a share s of its question's
    content words (`absent_share`) is written round(K * s) more times (ids `<id>*<n>`), so that
    word overlap decides less; the dev split stays as it is, to compare readers on it."""
    paragraphs = []
    for source in SOURCES:
        path = training / f"{source}.json"
        if path.is_file():
            paragraphs.extend(read_squad(path, source))
        else:
            log.warning("%s not found: skipped", path)
    if not paragraphs:
        raise FileNotFoundError(f"no SQuAD files ({', '.join(SOURCES)}) under {training}")
    if xquad is not None:  # after the monolingual sources, so their examples stay as they were
        paragraphs.extend(read_xquad(xquad))
    if squad2_zh is not None:  # last, for the same reason
        paragraphs.extend(read_squad2_zh(squad2_zh, paragraphs))
    pool = build_pool(paragraphs)
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {"seed": seed, "dev_fraction": dev_fraction, "train": {}, "dev": {}}
    counts: dict[str, Counter[str]] = {"train": Counter(), "dev": Counter()}
    articles: dict[str, set[str]] = {"train": set(), "dev": set()}
    with (
        open(out / "train.jsonl", "w", encoding="utf-8") as ftrain,
        open(out / "dev.jsonl", "w", encoding="utf-8") as fdev,
    ):
        files = {"train": ftrain, "dev": fdev}
        for ex in examples_for(
            paragraphs,
            pool,
            seed,
            other_windows,
            hard_windows,
            other_articles,
            dev_fraction,
            query_forms,
            answer_removed,
            untitled,
            answer_cut,
        ):
            part = split_of(ex.article, seed, dev_fraction)
            files[part].write(ex.to_json() + "\n")
            if absent_boost and part == "train" and ex.kind == "positive":
                for n in range(repeats(ex, absent_boost)):
                    files[part].write(replace(ex, id=f"{ex.id}*{n + 1}").to_json() + "\n")
                    counts[part]["positive_repeated"] += 1
                    counts[part]["total"] += 1
            counts[part][f"{ex.source}:{ex.kind}"] += 1
            counts[part][ex.kind] += 1
            counts[part]["total"] += 1
            articles[part].add(ex.article)
    for part in ("train", "dev"):
        stats[part] = dict(sorted(counts[part].items())) | {"articles": len(articles[part])}
    (out / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False), "utf-8")
    return stats


def repeats(ex: Example, boost: float) -> int:
    """How many more times `build` writes a positive for `absent_boost` = boost (none across
    languages, where no word is shared)."""
    if ex.source in CROSS_SOURCES:
        return 0
    return round(boost * absent_share(ex.question, ex.window, language_of(ex.window)))


def read_examples(path: Path) -> list[Example]:
    with open(path, encoding="utf-8") as f:
        return [Example.from_json(line) for line in f if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reader.data", description=__doc__.split("\n")[0])
    ap.add_argument("--training", type=Path, required=True, help="folder of SQuAD-format files")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--dev-fraction", type=float, default=0.1)
    ap.add_argument("--other-windows", type=int, default=2, help="per answerable question")
    ap.add_argument(
        "--hard-windows",
        type=int,
        default=0,
        help="per answerable question: windows of its article sharing the most question terms",
    )
    ap.add_argument(
        "--other-articles",
        type=int,
        default=0,
        help="per answerable question: windows of other articles sharing the most question terms",
    )
    ap.add_argument(
        "--query-forms",
        type=float,
        default=0.0,
        help="share of questions also given as search-box queries (no question mark, English "
        "lowercased, a trailing Chinese interrogative dropped), with the same windows and labels",
    )
    ap.add_argument(
        "--answer-removed",
        action="store_true",
        help="per answerable question: its context without the sentence holding the answer",
    )
    ap.add_argument(
        "--untitled",
        type=float,
        default=0.0,
        help="share of examples whose window loses its title line (a document without a title)",
    )
    ap.add_argument(
        "--xquad",
        type=Path,
        default=None,
        help=f"folder with xquad.en.json and xquad.zh.json (github.com/google-deepmind/xquad at "
        f"{XQUAD_COMMIT[:7]}): adds English-question/Chinese-window pairs and the reverse",
    )
    ap.add_argument(
        "--squad2-zh",
        type=Path,
        default=None,
        help="ChineseSquad's squad_2.0/dev-v2.0-zh.json (github.com/pluto-junzeng/ChineseSquad "
        f"at {SQUAD2_ZH_COMMIT[:7]}): SQuAD 2.0 dev in Chinese, with its unanswerable questions",
    )
    ap.add_argument(
        "--absent-boost",
        type=float,
        default=0.0,
        help="train split only: a positive whose window lacks a share s of its question's "
        "content words is written round(K * s) more times (default 0: once)",
    )
    ap.add_argument(
        "--answer-cut",
        action="store_true",
        help="per answerable question: its own window with the answer text cut out (the "
        "question's words all there, the asked value gone)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)  # it logs its dictionary load at DEBUG
    try:
        stats = build(
            args.training,
            args.out,
            args.seed,
            args.dev_fraction,
            args.other_windows,
            args.xquad,
            args.hard_windows,
            args.other_articles,
            args.query_forms,
            args.answer_removed,
            args.untitled,
            args.squad2_zh,
            args.absent_boost,
            args.answer_cut,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    print(json.dumps({p: stats[p] for p in ("train", "dev")}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
