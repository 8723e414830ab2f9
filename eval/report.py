"""Reports: JSON for machines, Markdown for terminals and PRs, HTML (eval.html) for people."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from eval.html import render as render_html
from eval.metrics import Record, answer_correct

_LABELS = {
    "answer_accuracy": "Answer accuracy (answerable)",
    "false_refusal_rate": "False-refusal rate (answerable)",
    "refusal_recall": "Refusal rate on unanswerable (recall)",
    "refusal_precision": "Refusal precision",
    "refusal_f1": "Refusal F1",
    "grounding_rate": "Grounding rate (answered)",
    "citation_support_rate": "Citation support (answered answerable)",
    "over_quote_rate": "Over-quote rate (correct answers with an extra sentence)",
    "answer_sentence_precision": "Answer sentence precision (correct answers)",
    "mrr": "Retrieval MRR",
}


FILES = ("report.json", "report.md", "report.html")


def ingest_failures(meta: dict[str, Any]) -> list[dict[str, str]]:
    """The corpus files (or JSONL records) that failed to ingest: meta.ingest.failed, and over
    HTTP also failed_locally (files the eval could not read to upload). [{file, reason}]."""
    ingest = meta.get("ingest") or {}
    return [*(ingest.get("failed_locally") or []), *(ingest.get("failed") or [])]


def describe_failures(failed: list[dict[str, str]], n: int = 3) -> str:
    """The first `n` ingest failures as 'file: reason; ...' ('no failures reported' if none)."""
    shown = [f"{f.get('file') or '(corpus)'}: {f.get('reason')}" for f in failed[:n]]
    return "; ".join(shown) or "no failures reported"


def check_out(out: Path) -> None:
    """Create the report folder and check the reports can be written into it (before a run,
    so a bad --out does not lose it). Raises ConfigError naming the folder and the fix."""
    fix = "pass --out a folder you can write"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--out {out} is a file, not a folder - {fix}") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot create the report folder {out} ({exc.strerror}) - {fix}"
        ) from None
    for name in FILES:
        path = out / name
        if path.exists() and (not path.is_file() or not os.access(path, os.W_OK)):
            raise ConfigError(f"cannot write {path} (not a writable file) - {fix}")
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write into {out} ({exc.strerror}) - {fix}") from None


def markdown(meta: dict[str, Any], summary: dict[str, Any], records: list[Record]) -> str:
    """A summary table, the corpus files that failed to ingest, then the wrong and ungrounded
    questions."""
    lines = [
        f"# Eval: {meta['dataset']}",
        "",
        f"{summary['questions']} questions ({summary['answerable']} answerable, "
        f"{summary['unanswerable']} unanswerable); embedder `{meta['embedder']}`; "
        f"{meta['seconds']:.1f} s",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, value in summary.items():
        if key in ("questions", "answerable", "unanswerable"):
            continue
        label = _LABELS.get(key, key.replace("_", " "))
        lines.append(f"| {label} | {'n/a' if value is None else value} |")
    failed = ingest_failures(meta)
    if failed:
        lines += ["", f"## Ingest failures ({len(failed)}, first 15)", ""]
        lines += [f"- `{f['file'] or '(corpus)'}`: {f['reason']}" for f in failed[:15]]
    wrong = [
        r
        for r in records
        if (r.answerable and not answer_correct(r)) or (not r.answerable and not r.refused)
    ]
    if wrong:
        lines += ["", f"## Wrong ({len(wrong)}, first 15)", ""]
        for r in wrong[:15]:
            got = (
                f"refused ({r.reason})" if r.refused else (r.answer or "")[:120].replace("\n", " ")
            )
            want = "refusal" if not r.answerable else " + ".join(a[0] for a in r.accepted)
            lines.append(f"- `{r.id}` {r.question} — want: {want}; got: {got}")
    bad = [r for r in records if r.citation_problems]
    if bad:
        lines += ["", f"## Ungrounded ({len(bad)})", ""]
        lines += [f"- `{r.id}`: {'; '.join(r.citation_problems)}" for r in bad[:15]]
    return "\n".join(lines) + "\n"


def write_all(
    out: Path, meta: dict[str, Any], summary: dict[str, Any], records: list[Record]
) -> tuple[Path, Path, Path]:
    """Write report.json, report.md and report.html into `out`; returns the three paths."""
    out.mkdir(parents=True, exist_ok=True)
    js, md, page = (out / name for name in FILES)
    data = {"meta": meta, "summary": summary, "records": [asdict(r) for r in records]}
    js.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    md.write_text(markdown(meta, summary, records), encoding="utf-8")
    page.write_text(render_html([data]), encoding="utf-8")
    return js, md, page


def write(
    out: Path, meta: dict[str, Any], summary: dict[str, Any], records: list[Record]
) -> tuple[Path, Path]:
    """Like write_all (report.html is written too) but returns only (json, md) paths."""
    js, md, _ = write_all(out, meta, summary, records)
    return js, md
