"""What the reader's veto would do on an eval report, without re-running it.

Run the eval with the reader reading but never refusing (`GQA_READER=bundled GQA_READER_VETO=1
GQA_READER_THRESHOLD=0 python -m eval run ...`): every record then carries the reader's best
P(answers) in `features["reader"]`. This script replays the decide stage's veto (refuse when
P < t) over those records for the calibrated threshold and a few others, and prints the
report's answer and refusal metrics for each, beside the reader's AUROC for telling the
answerable questions from the unanswerable ones (and those of e5 cosine and of the hand-featured
answerability model, the baselines to beat).

    python benchmarks/reader_veto.py REPORT.json [--threshold T ...]

The veto only adds refusals, so the replay is exact for it; the figures a user sees come from
a real run with the threshold set (the closing note reports both).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from eval.compare import load
from eval.metrics import Record, summarize
from reader.metrics import auroc

KEYS = (
    "answer_accuracy",
    "false_refusal_rate",
    "refusal_recall",
    "refusal_precision",
    "refusal_f1",
    "citation_support_rate",
)


def veto(records: list[Record], t: float) -> list[Record]:
    return [
        dataclasses.replace(
            r, refused=True, reason="evidence_does_not_answer", answer=None, citations=[]
        )  # fmt: skip
        if not r.refused
        and r.features.get("reader", 1.0) < t
        and "cross_language" not in r.features
        else r
        for r in records
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=Path)
    ap.add_argument("--threshold", type=float, action="append", default=[])
    ap.add_argument("--calibration", type=Path, default=Path("engine/models/reader.json"))
    args = ap.parse_args()
    records = list(load(args.report).records.values())
    # the veto's readings (a cross-language answer's is judged by its own threshold, already)
    scored = [r for r in records if "reader" in r.features and "cross_language" not in r.features]
    labels = [r.answerable for r in scored]
    print(f"{len(records)} records, {len(scored)} read by the reader")
    signals = {
        "reader": "reader",
        "top cosine": "top_dense",
        "answerability model": "answerability",
    }
    print(
        "AUROC answerable vs not (questions the reader read): "
        + ", ".join(
            f"{name} {auroc(labels, [r.features.get(key, 0.0) for r in scored]):.3f}"
            for name, key in signals.items()
        )
    )
    thresholds = list(args.threshold)
    if args.calibration.is_file():
        thresholds.insert(0, json.loads(args.calibration.read_text())["threshold"])
    rows = [("none", summarize(records))]
    rows += [(f"{t:.3f}", summarize(veto(records, t))) for t in thresholds]
    print("| veto below | " + " | ".join(KEYS) + " |")
    print("|---" * (len(KEYS) + 1) + "|")
    for name, s in rows:
        print(f"| {name} | " + " | ".join(f"{s.get(k) or 0:.3f}" for k in KEYS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
