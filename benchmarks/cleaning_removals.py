"""What the cleaning rules remove from corpora: lines, characters, sentence lines, emptied documents.

    python benchmarks/cleaning_removals.py ../shared/corpus/web-articles-zh samples/acme/corpus \
        ../shared/benchmarks/rgb-zh/corpus.jsonl

A folder's files are parsed as ingest parses them; a .jsonl export's record texts are cleaned
as if they were files (ingest keeps records as they are: this measures the rules, not a sync).
Statistics (lines recurring across documents) cover each corpus, as in one sync. To compare two
versions of the rules, run this script with PYTHONPATH pointing at each checkout.

A "sentence line" is a removed line that ends with sentence punctuation (。！？!?. and the
like) and holds at least 12 CJK or 40 other characters: text a reader would call prose.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from ingest import cleaning, formats

_END = re.compile(r"[。！？!?.…」』”\"]$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def texts_of(corpus: Path) -> list[str]:
    if corpus.suffix == ".jsonl":
        lines = corpus.read_text(encoding="utf-8").splitlines()
        return [str(json.loads(line)["text"]) for line in lines if line.strip()]
    out = []
    for p in sorted(corpus.rglob("*")):
        if p.is_file() and p.suffix.lower() in formats.SUFFIXES and p.suffix != ".jsonl":
            try:
                out.append(formats.parse(p.read_bytes(), p.suffix).text)
            except ValueError:
                continue  # a file ingest would report as failed
    return out


def is_sentence(line: str) -> bool:
    body = line.strip()
    cjk = len(_CJK.findall(body))
    long_enough = cjk >= 12 if cjk >= len(body) / 3 else len(body) >= 40
    return long_enough and bool(_END.search(body))


def measure(corpus: Path) -> dict[str, object]:
    texts = texts_of(corpus)
    stats = cleaning.CorpusStats.build(texts)
    lines: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    sentences: Counter[str] = Counter()
    emptied = 0
    for text in texts:
        cleaned = cleaning.clean(text, stats)
        emptied += bool(text.strip()) and not cleaned.text.strip()
        for r in cleaned.removals:
            if r.rule == "blank_lines":
                continue
            for line in r.text.splitlines():
                if line.strip():
                    lines[r.rule] += 1
                    sentences[r.rule] += is_sentence(line)
            chars[r.rule] += len(r.text)
    return {
        "corpus": str(corpus),
        "documents": len(texts),
        "emptied": emptied,
        "link_list": (lines["link_list"], chars["link_list"], sentences["link_list"]),
        "all_rules": (sum(lines.values()), sum(chars.values()), sum(sentences.values())),
        "lines_by_rule": dict(sorted(lines.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpora", nargs="+", type=Path)
    args = parser.parse_args()
    print(f"cleaning version {cleaning.CLEANING_VERSION}")
    print(
        "| corpus | documents | emptied | link_list lines / chars / sentence lines "
        "| all rules lines / chars / sentence lines | lines by rule |"
    )
    print("|---|---|---|---|---|---|")
    for corpus in args.corpora:
        m = measure(corpus)
        ll, al = m["link_list"], m["all_rules"]
        print(
            f"| {m['corpus']} | {m['documents']} | {m['emptied']} "
            f"| {ll[0]} / {ll[1]} / {ll[2]} | {al[0]} / {al[1]} / {al[2]} "  # type: ignore[index]
            f"| {m['lines_by_rule']} |"
        )


if __name__ == "__main__":
    main()
