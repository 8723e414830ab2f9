"""Question sets: a folder with questions.jsonl and either corpus.jsonl or a corpus/ folder.

Each line of questions.jsonl is one question (the format of ../shared/benchmarks/README.md):
`id` (a non-empty string or an integer, unique), `question` (non-empty text), `answerable`
(true/false), `answers` (a list of required answer elements: at least one when answerable,
none when not), optional `answer_alternatives` (one list of accepted spellings per element of
`answers`), `supporting_ids` (a list of corpus ids) and `evidence_sentences` (a list of text).
`load` checks every line before anything runs and names the file, line and field of the first
problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    answers: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, ...], ...] = ()
    supporting_ids: tuple[str, ...] = ()

    def accepted(self) -> list[tuple[str, ...]]:
        """For each required element, the spellings that count."""
        if self.alternatives and len(self.alternatives) == len(self.answers):
            return [alts or (a,) for a, alts in zip(self.answers, self.alternatives, strict=True)]
        return [(a,) for a in self.answers]


@dataclass(frozen=True)
class Dataset:
    name: str
    folder: Path
    corpus: Path  # corpus.jsonl or a folder of files
    questions: tuple[Question, ...] = field(default=())


class BadField(ValueError):
    """One field of a question line is wrong; `field` names it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"field {name!r} {problem}")
        self.field = name


def load(folder: Path, limit: int | None = None) -> Dataset:
    """Read a dataset folder, checking every question line (see the module docstring).

    `limit`: only the first `limit` questions (None: all). Raises ConfigError naming what is
    missing, or the file, line and field of a bad or repeated question.
    """
    folder = Path(folder)
    qfile = folder / "questions.jsonl"
    corpus = folder / "corpus.jsonl" if (folder / "corpus.jsonl").exists() else folder / "corpus"
    if not qfile.exists() or not corpus.exists():
        raise ConfigError(f"{folder} needs questions.jsonl and corpus.jsonl (or a corpus/ folder)")
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(_text(qfile).split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            q = parse(line)
        except ValueError as exc:
            raise ConfigError(f"{qfile}:{lineno}: {exc}") from None
        if q.id in first_line:
            raise ConfigError(
                f"{qfile}:{lineno}: question id {q.id!r} repeats the id of line "
                f"{first_line[q.id]} - give every question its own id"
            )
        first_line[q.id] = lineno
        questions.append(q)
    return Dataset(
        folder.resolve().name, folder, corpus, tuple(questions[:limit] if limit else questions)
    )


def _text(qfile: Path) -> str:
    """The file as UTF-8 (a byte-order mark is allowed); ConfigError naming the line if not."""
    data = qfile.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{qfile}:{lineno}: not UTF-8 (byte {data[exc.start : exc.start + 1]!r} at offset "
            f"{exc.start}) - save the file as UTF-8 (e.g. iconv -f GBK -t UTF-8)"
        ) from None


def parse(line: str) -> Question:
    """One questions.jsonl line -> Question. Raises ValueError (BadField names the field)."""
    try:
        r = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(r, dict):
        raise ValueError(f"not a question record (a JSON object), but {type(r).__name__}")
    qid = _get(r, "id", _id)
    answerable = _get(r, "answerable", _bool)
    answers = _get(r, "answers", _strings, ())
    if answerable and not answers:
        raise BadField("answers", "is empty: an answerable question needs its answer elements")
    if not answerable and answers:
        raise BadField("answers", "must be empty (or absent) when the question is unanswerable")
    alternatives = _get(r, "answer_alternatives", _alternatives, ())
    if alternatives and len(alternatives) != len(answers):
        raise BadField(
            "answer_alternatives",
            f"has {len(alternatives)} lists for {len(answers)} answer elements - give one "
            "list of accepted spellings per element of 'answers'",
        )
    _get(r, "evidence_sentences", lambda v: _strings(v, empty_ok=True), ())
    return Question(
        id=qid,
        question=_get(r, "question", _text_value),
        answerable=answerable,
        answers=answers,
        alternatives=alternatives,
        supporting_ids=_get(r, "supporting_ids", _strings, ()),
    )


_MISSING = object()


def _get(r: dict[str, Any], name: str, check: Callable[[Any], Any], default: Any = _MISSING) -> Any:
    """r[name] through `check`; absent or null is `default` (an error when there is none)."""
    value = r.get(name)
    if value is None:
        if default is _MISSING:
            raise BadField(name, "is missing")
        return default
    try:
        return check(value)
    except (TypeError, ValueError) as exc:
        raise BadField(name, f"{exc}, got {_show(value)}") from None


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= 60 else text[:57] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate, escaped


def _id(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, str | int) or not str(v).strip():
        raise TypeError("must be a non-empty string or an integer")
    return _unicode(str(v))


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("must be true or false (a JSON boolean, not a string or number)")
    return v


def _text_value(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise TypeError("must be non-empty text")
    return _unicode(v)


def _unicode(v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
    return v


def _strings(v: Any, empty_ok: bool = False) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise TypeError("must be a list of strings")
    if not empty_ok and not all(s.strip() for s in v):
        # an empty element is in every answer: the question would always be graded correct
        raise ValueError("must not hold empty strings")
    return tuple(_unicode(s) for s in v)


def _alternatives(v: Any) -> tuple[tuple[str, ...], ...]:
    if not isinstance(v, list) or not all(isinstance(a, list) for a in v):
        raise TypeError("must be a list of lists of strings (one list per answer element)")
    return tuple(_strings(a) for a in v)
