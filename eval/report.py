"""Reports: JSON for machines, Markdown for terminals and PRs, HTML (eval.html) for people."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

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
    "mrr": "Retrieval MRR",
}


def markdown(meta: dict[str, Any], summary: dict[str, Any], records: list[Record]) -> str:
    """A summary table, then the wrong and ungrounded questions."""
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
    js, md, page = out / "report.json", out / "report.md", out / "report.html"
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
