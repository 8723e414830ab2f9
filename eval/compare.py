"""`python -m eval compare OLD.json NEW.json`: what changed between two eval reports.

A Markdown summary table (each metric's old and new value, the delta, and whether that is
better or worse), then the questions whose verdict changed, matched by id and grouped as fixed
(wrong -> right), broken (right -> wrong) and changed (another verdict, still right or still
wrong), then the ids found in only one report.

Verdict of one record: answerable -> "correct", "wrong" or "refused"; unanswerable ->
"refused" (right) or "answered" (wrong); ", ungrounded" is added when the citation check found
problems. A record is right when its verdict is "correct" (answerable) or "refused"
(unanswerable) and it is grounded: an answer without evidence is a failure of this service
even when its text happens to be right.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import GqaError
from eval.metrics import Record, answer_correct

COUNTS = ("questions", "answerable", "unanswerable")  # sizes, not metrics: no direction
EXCERPT = 100  # characters of an answer shown per side

Kind = Literal["fixed", "broken", "changed"]
Change = Literal["better", "worse", "same", ""]


@dataclass(frozen=True)
class Report:
    """One report.json: meta, summary metrics and its records keyed by question id."""

    path: Path
    meta: dict[str, Any]
    summary: dict[str, Any]
    records: dict[str, Record]


@dataclass(frozen=True)
class MetricDelta:
    name: str
    old: float | None
    new: float | None
    delta: float | None  # new - old; None when either side is missing
    change: Change  # "" when either side is missing


@dataclass(frozen=True)
class QuestionChange:
    kind: Kind
    old: Record
    new: Record


@dataclass(frozen=True)
class Comparison:
    metrics: list[MetricDelta]
    changes: list[QuestionChange]  # in NEW's question order
    only_old: list[str]
    only_new: list[str]
    unchanged: int
    warnings: list[str]


def load(path: Path) -> Report:
    """Read a report.json written by `python -m eval run`.

    Raises:
        GqaError: the file is missing, not JSON, or not shaped like a report.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GqaError(f"cannot read report {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GqaError(f"report {path} is not JSON ({exc}) - pass a report.json") from exc
    fix = 'pass the report.json written by "python -m eval run"'
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), t)
        for k, t in (("meta", dict), ("summary", dict), ("records", list))
    ):
        raise GqaError(f"{path} is not an eval report (needs meta, summary, records) - {fix}")
    fields = {f.name for f in dataclasses.fields(Record)}
    records: dict[str, Record] = {}
    for i, raw in enumerate(data["records"]):
        try:
            # Unknown keys (from a newer or older Record) are dropped, not fatal.
            rec = Record(**{k: v for k, v in raw.items() if k in fields})
        except (AttributeError, TypeError) as exc:
            raise GqaError(f"{path}: record {i} is not a question record ({exc}) - {fix}") from exc
        if rec.id in records:
            raise GqaError(f"{path}: question id {rec.id!r} appears twice - ids must be unique")
        records[rec.id] = rec
    return Report(path, data["meta"], data["summary"], records)


def verdict(r: Record) -> str:
    """ "correct" / "wrong" / "refused" (answerable) or "refused" / "answered" (unanswerable),
    with ", ungrounded" appended when the record has citation problems."""
    if r.answerable:
        base = "refused" if r.refused else "correct" if answer_correct(r) else "wrong"
    else:
        base = "refused" if r.refused else "answered"
    return base + (", ungrounded" if r.citation_problems else "")


def is_right(r: Record) -> bool:
    """Handled as it should be: right outcome and no citation problems."""
    return verdict(r) == ("correct" if r.answerable else "refused")


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 for counts."""
    if metric in COUNTS:
        return 0
    if metric in ("false_refusal_rate", "over_quote_rate") or metric.startswith("latency"):
        return -1
    return 1


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def metric_deltas(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[MetricDelta]:
    """Every metric of either summary (counts excluded), in OLD's order then NEW's extras."""
    out = []
    for name in [*old, *(k for k in new if k not in old)]:
        if direction(name) == 0:
            continue
        a, b = _number(old.get(name)), _number(new.get(name))
        if a is None or b is None:
            out.append(MetricDelta(name, a, b, None, ""))
            continue
        delta = round(b - a, 4)
        sign = (delta > 0) - (delta < 0)
        change: Change = "same" if sign == 0 else "better" if sign == direction(name) else "worse"
        out.append(MetricDelta(name, a, b, delta, change))
    return out


def question_changes(
    old: Mapping[str, Record], new: Mapping[str, Record]
) -> tuple[list[QuestionChange], int]:
    """Questions in both whose verdict changed (NEW's order), and how many did not change."""
    changes, unchanged = [], 0
    for qid, b in new.items():
        a = old.get(qid)
        if a is None:
            continue
        if verdict(a) == verdict(b):
            unchanged += 1
            continue
        was, now = is_right(a), is_right(b)
        kind: Kind = "fixed" if now and not was else "broken" if was and not now else "changed"
        changes.append(QuestionChange(kind, a, b))
    return changes, unchanged


def compare(old: Report, new: Report) -> Comparison:
    """Everything the Markdown shows, computed without I/O."""
    warnings = []
    a, b = old.meta.get("dataset"), new.meta.get("dataset")
    if a != b:
        warnings.append(
            f"different datasets: OLD is {a!r}, NEW is {b!r} - questions are matched by id only"
        )
    m, n = old.meta.get("machine"), new.meta.get("machine")
    if m and n and m != n:
        warnings.append(
            f"different machines: OLD ran on {_machine(m)}, NEW on {_machine(n)} - the int8 "
            "encoder's scores differ slightly between CPUs and onnxruntime versions, so answers "
            "near a threshold can move with the machine: compare runs from one machine"
        )
    changes, unchanged = question_changes(old.records, new.records)
    return Comparison(
        metrics=metric_deltas(old.summary, new.summary),
        changes=changes,
        only_old=[q for q in old.records if q not in new.records],
        only_new=[q for q in new.records if q not in old.records],
        unchanged=unchanged,
        warnings=warnings,
    )


def _machine(m: Any) -> str:
    if not isinstance(m, dict):
        return repr(m)
    return f"{m.get('cpu')} ({m.get('int8')}, onnxruntime {m.get('onnxruntime')})"


def regressions(c: Comparison) -> list[str]:
    """Why `--fail-on-regression` fails: broken questions and dropped higher-is-better metrics.

    A higher-is-better metric that had a value in OLD and has none in NEW counts as dropped.
    """
    out = [
        f"{x.new.id}: {verdict(x.old)} -> {verdict(x.new)}" for x in c.changes if x.kind == "broken"
    ]
    for m in c.metrics:
        if direction(m.name) == 1 and m.old is not None and (m.new is None or m.new < m.old):
            out.append(f"{m.name}: {m.old} -> {'n/a' if m.new is None else m.new}")
    return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def _said(r: Record) -> str:
    if r.refused:
        text = f"refused ({r.reason or 'no reason'})"
    else:
        answer = " ".join((r.answer or "").split())
        text = '"' + (answer[:EXCERPT] + "…" if len(answer) > EXCERPT else answer) + '"'
    if r.citation_problems:
        text += f"; ungrounded: {r.citation_problems[0]}"
    return text


def _question_lines(x: QuestionChange) -> list[str]:
    want = " + ".join(a[0] for a in x.new.accepted if a) if x.new.answerable else "refusal"
    return [
        f"- `{x.new.id}` {x.new.question} — {verdict(x.old)} → **{verdict(x.new)}** (want: {want})",
        f"  - old: {_said(x.old)}",
        f"  - new: {_said(x.new)}",
    ]


def markdown(c: Comparison, old_name: str, new_name: str) -> str:
    """The comparison as Markdown: warnings, counts, metric table, question groups."""
    lines = [f"# Eval compare: {old_name} → {new_name}", ""]
    lines += [f"> **Warning:** {w}" for w in c.warnings]
    if c.warnings:
        lines.append("")
    count = {k: sum(x.kind == k for x in c.changes) for k in ("fixed", "broken", "changed")}
    lines += [
        f"{count['fixed']} fixed, {count['broken']} broken, {count['changed']} changed, "
        f"{c.unchanged} unchanged; {len(c.only_old)} only in old, {len(c.only_new)} only in new",
        "",
        "| metric | old | new | delta | |",
        "|---|---|---|---|---|",
    ]
    for m in c.metrics:
        delta = "n/a" if m.delta is None else f"{m.delta:+g}" if m.delta else "0"
        lines.append(f"| {m.name} | {_fmt(m.old)} | {_fmt(m.new)} | {delta} | {m.change} |")
    for kind, title in (("fixed", "Fixed"), ("broken", "Broken"), ("changed", "Changed")):
        group = [x for x in c.changes if x.kind == kind]
        if group:
            lines += ["", f"## {title} ({len(group)})", ""]
            for x in group:
                lines += _question_lines(x)
    for ids, title in ((c.only_old, "Only in old"), (c.only_new, "Only in new")):
        if ids:
            lines += ["", f"## {title} ({len(ids)})", "", ", ".join(f"`{q}`" for q in ids)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: print the comparison; 1 on a regression with --fail-on-regression, 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m eval compare", description="What changed between two eval reports."
    )
    parser.add_argument("old", type=Path, help="the earlier report.json")
    parser.add_argument("new", type=Path, help="the later report.json")
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a question went from right to wrong or a higher-is-better metric dropped",
    )
    args = parser.parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
    except GqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    c = compare(old, new)
    print(markdown(c, str(args.old), str(args.new)), end="")
    found = regressions(c)
    if args.fail_on_regression and found:
        print(f"regression: {'; '.join(found)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
