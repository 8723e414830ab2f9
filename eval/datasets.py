"""Question sets: a folder with questions.jsonl and either corpus.jsonl or a corpus/ folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

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


def load(folder: Path, limit: int | None = None) -> Dataset:
    """Read a dataset folder; raises ConfigError with what is missing."""
    folder = Path(folder)
    qfile = folder / "questions.jsonl"
    corpus = folder / "corpus.jsonl" if (folder / "corpus.jsonl").exists() else folder / "corpus"
    if not qfile.exists() or not corpus.exists():
        raise ConfigError(f"{folder} needs questions.jsonl and corpus.jsonl (or a corpus/ folder)")
    questions = []
    for lineno, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            questions.append(
                Question(
                    id=str(r["id"]),
                    question=r["question"],
                    answerable=bool(r["answerable"]),
                    answers=tuple(r.get("answers") or ()),
                    alternatives=tuple(tuple(a) for a in r.get("answer_alternatives") or ()),
                    supporting_ids=tuple(r.get("supporting_ids") or ()),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"{qfile}:{lineno}: not a question record ({exc})") from exc
    return Dataset(
        folder.resolve().name, folder, corpus, tuple(questions[:limit] if limit else questions)
    )
