"""One self-contained HTML page for one or more eval reports: metric bars, latency, feature
histograms (answerable vs unanswerable, with the refusal threshold), a confusion matrix, and the
slowest and wrongest questions with their citations.

No plotting library is used: the charts are hand-written inline SVG and the CSS sits in one
<style>, so the page is a single file with no dependencies, no JavaScript and no external URLs
(it renders offline). Everything taken from the data goes through `html.escape`.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeGuard

from eval.metrics import Record, answer_correct

RATES = {
    "answer_accuracy": "answer accuracy",
    "false_refusal_rate": "false-refusal rate",
    "refusal_recall": "refusal recall",
    "refusal_precision": "refusal precision",
    "refusal_f1": "refusal F1",
    "grounding_rate": "grounding rate",
    "citation_support_rate": "citation support",
    "citation_recall": "citation recall",
    "citation_precision": "citation precision",
    "over_quote_rate": "over-quote rate",
    "answer_sentence_precision": "answer sentence precision",
    "mrr": "retrieval MRR",
}
PALETTE = ["#2a8c82", "#8e6bb8", "#c9a227", "#d65f5f", "#8c613c", "#777777"]  # datasets
ANS, UNA = "#4878d0", "#ee854a"
CAP = 25
W, H, PAD, NBINS = 540, 200, 34, 20  # histogram geometry
CSS = """
body{font-family:system-ui,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","Noto Sans SC",
"Microsoft YaHei","PingFang SC",sans-serif;margin:24px auto;max-width:1180px;color:#222;
padding:0 12px;line-height:1.4}
svg text{font-family:inherit;font-size:12px;fill:#333}svg text.threshold-label{fill:#c00}
h1{font-size:24px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;
text-align:left;vertical-align:top}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.good{background:#e3f4e1}td.bad{background:#fbe3e1}
.plots{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:4px 10px;margin:6px 0;font-size:14px}
.card p{margin:3px 0}.card table{font-size:12px;width:100%;margin:4px 0}td.quote{width:60%}
.tag{border-radius:3px;padding:0 6px;margin-right:4px;font-size:12px;background:#eee}
.tag.bad,.problem{background:#fbe3e1}.muted{color:#777}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _record(rec: dict[str, Any]) -> Record:
    """A Record from its JSON dict, ignoring keys a newer writer may have added."""
    names = {f.name for f in fields(Record)}
    return Record(**{k: v for k, v in rec.items() if k in names})


def _rates(summary: dict[str, Any]) -> dict[str, float]:
    """The [0, 1] rate metrics of a summary that have a value, with their labels as keys."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        label = RATES.get(key) or (key.replace("_", " ") if key.startswith("retrieval_") else None)
        if label and _num(value) and 0 <= value <= 1:
            out[label] = float(value)
    return out


def metric_bars(reports: Sequence[dict[str, Any]]) -> str:
    """Grouped horizontal bars: one group per metric, one bar per dataset, value on the bar."""
    names = [_e(r["meta"].get("dataset", f"report {i + 1}")) for i, r in enumerate(reports)]
    rates = [_rates(r["summary"]) for r in reports]
    labels = list(dict.fromkeys(k for r in rates for k in r))
    bar, left, scale = 16, 190, 720
    group = bar * len(reports) + 10
    height = 30 + group * len(labels)
    parts = [f'<svg class="bars" width="{left + scale + 70}" height="{height}" role="img">']
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{left + i * 180}" y="4" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{left + i * 180 + 16}" y="14">{name}</text>')
    for g, label in enumerate(labels):
        y0 = 26 + g * group
        parts.append(f'<text x="{left - 8}" y="{y0 + group / 2}" text-anchor="end">{label}</text>')
        for i, r in enumerate(rates):
            if label not in r:
                continue
            y, w = y0 + i * bar, max(r[label] * scale, 1)
            color = PALETTE[i % len(PALETTE)]
            parts.append(
                f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" '
                f'fill="{color}"><title>{names[i]}: {label} {r[label]}</title></rect>'
                f'<text x="{left + w + 4:.1f}" y="{y + bar - 4}">{r[label]:.3f}</text>'
            )
    return "\n".join(parts) + "</svg>"


def latency_table(reports: Sequence[dict[str, Any]]) -> str:
    rows = ["<table><tr><th>dataset</th><th>questions</th><th>p50 ms</th><th>p95 ms</th>"]
    rows[0] += "<th>max ms</th></tr>"
    for r in reports:
        s = r["summary"]
        cells = [s.get(k) for k in ("latency_p50_ms", "latency_p95_ms", "latency_max_ms")]
        nums = "".join(f'<td class="num">{"n/a" if c is None else _e(c)}</td>' for c in cells)
        rows.append(
            f"<tr><td>{_e(r['meta'].get('dataset', ''))}</td>"
            f'<td class="num">{_e(s.get("questions", len(r["records"])))}</td>{nums}</tr>'
        )
    return "\n".join(rows) + "</table>"


def _bins(values: list[float], lo: float, hi: float, n: int) -> list[int]:
    counts = [0] * n
    for v in values:
        counts[min(int((v - lo) / (hi - lo) * n), n - 1)] += 1
    return counts


def _x(v: float, lo: float, hi: float) -> float:
    return PAD + (v - lo) / (hi - lo) * (W - 2 * PAD)


def _threshold_line(t: float, lo: float, hi: float) -> str:
    tx = _x(t, lo, hi)
    side, dx = ("end", -4) if tx > W / 2 else ("start", 4)
    return (
        f'<line class="threshold" x1="{tx:.1f}" y1="28" x2="{tx:.1f}" y2="{H}" stroke="#c00" '
        f'stroke-width="2" stroke-dasharray="5,3"/><text class="threshold-label" x="{tx + dx:.1f}" y="36" '
        f'text-anchor="{side}">threshold {t:g}</text>'
    )


def histogram(name: str, ans: list[float], una: list[float], threshold: float | None) -> str:
    """Side-by-side bars per bin for answerable and unanswerable, and the threshold line."""
    span = [*ans, *una, *([] if threshold is None else [threshold])]
    lo, hi = min(span), max(span)
    lo, hi = (lo - 0.5, hi + 0.5) if hi == lo else (lo, hi)
    counts = [_bins(ans, lo, hi, NBINS), _bins(una, lo, hi, NBINS)]
    top, bw = max(*counts[0], *counts[1], 1), (W - 2 * PAD) / NBINS
    parts = [
        f'<svg class="hist" width="{W}" height="{H + 24}" role="img">',
        f'<text x="{PAD}" y="14" font-weight="bold">{_e(name)}</text>',
        f'<text x="{PAD - 4}" y="44" text-anchor="end">{top}</text>',
        f'<line x1="{PAD}" y1="{H}" x2="{W - PAD}" y2="{H}" stroke="#555"/>',
    ]
    parts += [
        f'<text x="{_x(v, lo, hi):.1f}" y="{H + 16}" text-anchor="middle">{v:.3g}</text>'
        for v in (lo, (lo + hi) / 2, hi)
    ]
    for k, (color, label, n) in enumerate(
        ((ANS, "answerable", len(ans)), (UNA, "unanswerable", len(una)))
    ):
        parts.append(
            f'<rect x="{W - 280 + k * 130}" y="4" width="10" height="10" fill="{color}"/>'
            f'<text x="{W - 266 + k * 130}" y="14">{label} ({n})</text>'
        )
        for b, c in enumerate(counts[k]):
            y = H - c / top * (H - 40)
            parts.append(
                f'<rect class="bin" x="{PAD + b * bw + k * bw / 2:.1f}" y="{y:.1f}" '
                f'width="{bw / 2 - 1:.1f}" height="{H - y:.1f}" fill="{color}"/>' * (c > 0)
            )
    parts += [] if threshold is None else [_threshold_line(threshold, lo, hi)]
    return "\n".join(parts) + "</svg>"


def histograms(report: dict[str, Any]) -> str:
    """One histogram per numeric feature found in the records."""
    thresholds = report["meta"].get("thresholds") or {}
    names = sorted(
        {k for r in report["records"] for k, v in r.get("features", {}).items() if _num(v)}
    )
    plots = []
    for name in names:
        split: tuple[list[float], list[float]] = ([], [])
        for r in report["records"]:
            v = r.get("features", {}).get(name)
            if _num(v):
                split[0 if r["answerable"] else 1].append(float(v))
        t = thresholds.get(name)
        plots.append(histogram(name, *split, float(t) if _num(t) else None))
    if not plots:
        return '<p class="muted">No numeric features in these records.</p>'
    return '<div class="plots">' + "\n".join(plots) + "</div>"


def confusion(records: Sequence[Record]) -> dict[str, dict[str, int]]:
    """Counts per row (answerable / unanswerable) and column (correct / wrong / refused).

    An answered unanswerable question is wrong: there is nothing correct to answer."""
    m = {row: {"correct": 0, "wrong": 0, "refused": 0} for row in ("answerable", "unanswerable")}
    for r in records:
        row = m["answerable" if r.answerable else "unanswerable"]
        correct = r.answerable and answer_correct(r)
        row["refused" if r.refused else "correct" if correct else "wrong"] += 1
    return m


def confusion_table(records: Sequence[Record]) -> str:
    m = confusion(records)
    good = {("answerable", "correct"), ("unanswerable", "refused")}
    rows = [
        "<table class='confusion'><tr><th></th><th>answered correctly</th>"
        "<th>answered wrong</th><th>refused</th></tr>"
    ]
    for row, cols in m.items():
        total = sum(cols.values()) or 1
        cells = "".join(
            f'<td class="num {"good" if (row, col) in good else "bad"}" data-cell="{row}-{col}">'
            f"{n} <span class='muted'>({n / total:.0%})</span></td>"
            for col, n in cols.items()
        )
        rows.append(f"<tr><th>{row}</th>{cells}</tr>")
    return "\n".join(rows) + "</table>"


def _wrongness(r: Record) -> int:
    wrong = (r.answerable and not answer_correct(r)) or (not r.answerable and not r.refused)
    return int(wrong) * 2 + len(r.citation_problems)


def card(r: Record) -> str:
    """One question: tags, answer or refusal reason, expected answer, problems, citations."""
    tags = ["answerable" if r.answerable else "unanswerable", f"{r.latency_ms:.0f} ms"]
    tags += ["refused"] if r.refused else []
    bad = ["wrong"] if _wrongness(r) >= 2 else []
    head = "".join(f'<span class="tag">{_e(t)}</span>' for t in tags)
    head += "".join(f'<span class="tag bad">{t}</span>' for t in bad)
    got = f"refused: {_e(r.reason)}" if r.refused else _e(r.answer or "")
    want = " + ".join("/".join(a) for a in r.accepted) if r.answerable else "a refusal"
    out = [
        f'<div class="card"><p>{head}<code>{_e(r.id)}</code> <b>{_e(r.question)}</b></p>',
        f"<p>{got}</p><p class='muted'>want: {_e(want)}</p>",
    ]
    out += [f"<p class='problem'>citation problem: {_e(p)}</p>" for p in r.citation_problems]
    if r.citations:
        out.append("<table><tr><th>n</th><th>doc_id</th><th>start</th><th>end</th><th>quote</th>")
        for c in r.citations:
            cells = "".join(f"<td>{_e(c.get(k, ''))}</td>" for k in ("n", "doc_id", "start", "end"))
            out.append(f"<tr>{cells}<td class='quote'>{_e(c.get('quote', ''))}</td></tr>")
        out.append("</table>")
    return "\n".join(out) + "</div>"


def dataset_section(report: dict[str, Any]) -> str:
    meta, records = report["meta"], [_record(r) for r in report["records"]]
    slowest = sorted(records, key=lambda r: -r.latency_ms)[:10]
    wrongest = sorted((r for r in records if _wrongness(r)), key=lambda r: -_wrongness(r))
    facts = ", ".join(f"{k}: {_e(meta[k])}" for k in ("embedder", "seconds") if k in meta)
    return "\n".join(
        [
            f"<section><h2>{_e(meta.get('dataset', 'report'))}</h2>",
            f"<p class='muted'>{len(records)} questions; {facts}</p>",
            "<h3>Feature distributions</h3><p class='muted'>The engine's decision inputs per "
            "question; the dashed line is the refusal threshold where one is recorded.</p>",
            histograms(report),
            "<h3>Confusion matrix</h3>",
            confusion_table(records),
            f"<h3>Slowest {len(slowest)}</h3>",
            *map(card, slowest),
            f"<h3>Wrongest {min(CAP, len(wrongest))} of {len(wrongest)}</h3>",
            *map(card, wrongest[:CAP]),
            "</section>",
        ]
    )


def render(reports: Sequence[dict[str, Any]]) -> str:
    """The whole page for these report dicts (each as stored in report.json).

    Args:
        reports: dicts with "meta" (with "dataset", optionally "thresholds" by feature name),
            "summary" (eval.metrics.summarize) and "records" (Record as dict).
    Returns:
        One HTML document with no external resources.
    """
    title = "Eval: " + ", ".join(str(r["meta"].get("dataset", "?")) for r in reports)
    return "\n".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
            f"<h1>{_e(title)}</h1><h2>Metrics</h2>",
            metric_bars(reports),
            "<h3>Latency</h3>",
            latency_table(reports),
            *map(dataset_section, reports),
            "</body></html>",
        ]
    )


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read report {path}: {exc}") from exc
    shape = {"meta": dict, "summary": dict, "records": list}
    if not isinstance(data, dict) or any(not isinstance(data.get(k), t) for k, t in shape.items()):
        raise ValueError(f"{path} is not a report.json (needs meta, summary and records)")
    try:
        for rec in data["records"]:
            _record(rec)
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"{path} has a malformed record: {exc}") from exc
    return data


def _threshold(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """`python -m eval html REPORT.json [...] --out report.html`: write the page, print its path."""
    parser = argparse.ArgumentParser(
        prog="python -m eval html", description="Render eval report.json files as one HTML page."
    )
    parser.add_argument("reports", type=Path, nargs="+", help="report.json files of eval runs")
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write")
    parser.add_argument(
        "--threshold",
        type=_threshold,
        action="append",
        default=[],
        metavar="FEATURE=VALUE",
        help="draw this threshold on FEATURE's histogram (overrides meta.thresholds)",
    )
    args = parser.parse_args(argv)
    try:
        reports = [_load(p) for p in args.reports]
        extra = dict(args.threshold)
        for r in reports:
            r["meta"]["thresholds"] = {**(r["meta"].get("thresholds") or {}), **extra}
        args.out.write_text(render(reports), encoding="utf-8")
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
