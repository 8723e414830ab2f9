"""`python -m eval gate REPORT.json --floors eval/floors.json`: fail when a metric is below its floor.

The floors file holds, per metric, a lower bound ("min") and/or an upper bound ("max"), the
dataset they are for, and the run they were measured on:

    {"dataset": "acme",
     "floors": {"grounding_rate": {"min": 1.0}, "answer_accuracy": {"min": 0.83}, ...},
     "measured": {"command": ..., "date": ..., "summary": {...}}}

One line per floor (PASS/FAIL, value vs floor); a metric that is missing or None fails, and so
does a report of another dataset. Exit 0 when every floor holds, 1 otherwise, 2 when the report
or the floors cannot be read. `--write-floors` sets the floors from the report instead (measured
value minus `--margin` for a min, plus it for a max; grounding stays at exactly 1.0), then gates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from core.errors import GqaError
from eval.compare import load

Bound = Literal["min", "max"]
BOUNDS: tuple[Bound, ...] = ("min", "max")
# The metrics a fresh floors file gates, and which way.
DEFAULT_BOUNDS: dict[str, Bound] = {
    "grounding_rate": "min",
    "answer_accuracy": "min",
    "refusal_f1": "min",
    "false_refusal_rate": "max",
    "citation_support_rate": "min",
}
# Floors that are requirements, not measurements: --write-floors never moves them.
FIXED: dict[str, tuple[Bound, float]] = {"grounding_rate": ("min", 1.0)}


@dataclass(frozen=True)
class Floor:
    metric: str
    bound: Bound
    value: float


@dataclass(frozen=True)
class Result:
    metric: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.metric}: {self.message}"


def parse_floors(data: Any, source: str = "floors") -> tuple[str | None, list[Floor]]:
    """The dataset name and the floors of a floors file's parsed JSON.

    Raises:
        GqaError: the file is not shaped like a floors file, or holds no floor at all.
    """
    fix = 'see eval/floors.json, or write one with "python -m eval gate REPORT --write-floors"'
    if not isinstance(data, dict) or not isinstance(data.get("floors"), dict):
        raise GqaError(f'{source} has no "floors" object - {fix}')
    dataset = data.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise GqaError(f'{source}: "dataset" must be a name, not {dataset!r}')
    floors = []
    for metric, spec in data["floors"].items():
        ok = isinstance(spec, dict) and spec and set(spec) <= set(BOUNDS)
        if not ok or any(_number(v) is None for v in spec.values()):
            raise GqaError(
                f'{source}: floor {metric!r} is {spec!r} - use {{"min": number}} or {{"max": number}}'
            )
        floors += [Floor(metric, b, float(spec[b])) for b in BOUNDS if b in spec]
    if not floors:
        raise GqaError(f"{source} sets no floors - a gate that checks nothing always passes; {fix}")
    return dataset, floors


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def check(summary: Mapping[str, Any], floors: list[Floor]) -> list[Result]:
    """One result per floor; a metric that is absent from the summary or None fails."""
    results = []
    for f in floors:
        want = f"{'>=' if f.bound == 'min' else '<='} {f.value:g}"
        value = _number(summary.get(f.metric))
        if f.metric not in summary:
            results.append(Result(f.metric, False, f"missing from the report (floor: {want})"))
        elif value is None:
            got = summary[f.metric]
            results.append(
                Result(f.metric, False, f"is {got!r} in the report, not a number (floor: {want})")
            )
        else:
            ok = value >= f.value if f.bound == "min" else value <= f.value
            results.append(Result(f.metric, ok, f"{value:g} {'' if ok else 'not '}{want}"))
    return results


def check_dataset(meta: Mapping[str, Any], dataset: str | None) -> Result | None:
    """A failure when the report is of another dataset than the floors were set on."""
    if dataset is None or meta.get("dataset") == dataset:
        return None
    return Result(
        "dataset", False, f"report is of {meta.get('dataset')!r}, floors are for {dataset!r}"
    )


def make_floors(
    meta: Mapping[str, Any],
    summary: Mapping[str, Any],
    bounds: Mapping[str, Bound],
    margin: float,
    measured: Mapping[str, Any],
) -> dict[str, Any]:
    """A floors file from one report: each measured value minus `margin` (a min) or plus it
    (a max); the FIXED floors as they are. `measured` (command, date, ...) is recorded with
    the report's dataset, embedder and non-latency summary.

    Raises:
        GqaError: a metric to floor has no value in the report.
    """
    floors: dict[str, dict[str, float]] = {}
    for metric, bound in bounds.items():
        if metric in FIXED:
            fixed_bound, fixed_value = FIXED[metric]
            floors[metric] = {fixed_bound: fixed_value}
            continue
        value = _number(summary.get(metric))
        if value is None:
            raise GqaError(
                f"cannot set a floor for {metric}: the report has {summary.get(metric)!r} for it - "
                "gate a metric the run measures, or fix the run"
            )
        moved = value - margin if bound == "min" else value + margin
        floors[metric] = {bound: round(max(moved, 0.0), 4)}
    return {
        "dataset": meta.get("dataset"),
        "floors": floors,
        "measured": {
            **measured,
            "margin": margin,
            "embedder": meta.get("embedder"),
            "machine": meta.get("machine"),
            "summary": {k: v for k, v in summary.items() if not k.startswith("latency")},
        },
    }


def _bounds_of(floors: list[Floor]) -> dict[str, Bound]:
    return {f.metric: f.bound for f in floors}


def _read_floors(path: Path) -> tuple[str | None, list[Floor]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GqaError(f"cannot read floors {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GqaError(f"floors {path} is not JSON ({exc})") from exc
    return parse_floors(data, str(path))


def _write_floors(args: argparse.Namespace, meta: dict[str, Any], summary: dict[str, Any]) -> None:
    # Keep the metric set of an existing floors file; a new one gets the default set.
    bounds = _bounds_of(_read_floors(args.floors)[1]) if args.floors.exists() else DEFAULT_BOUNDS
    measured = {
        "command": args.run_command,
        "report": str(args.report),
        "date": datetime.now(UTC).date().isoformat(),
    }
    data = make_floors(meta, summary, bounds, args.margin, measured)
    tmp = args.floors.with_name(args.floors.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(args.floors)
    print(f"wrote {args.floors} from {args.report} (margin {args.margin:g})")


def main(argv: list[str] | None = None) -> int:
    """CLI: gate a report; 0 all floors hold, 1 a floor failed, 2 unreadable input."""
    parser = argparse.ArgumentParser(
        prog="python -m eval gate", description="Fail when a report's metric is below its floor."
    )
    parser.add_argument("report", type=Path, help="report.json from python -m eval run")
    parser.add_argument("--floors", type=Path, required=True, help="floors file (JSON)")
    parser.add_argument(
        "--write-floors",
        action="store_true",
        help="rewrite the floors file from this report, then gate it",
    )
    parser.add_argument(
        "--margin", type=float, default=0.03, help="slack below (min) or above (max) the measure"
    )
    parser.add_argument(
        "--run-command", help="with --write-floors: the command that produced the report"
    )
    args = parser.parse_args(argv)
    if args.margin < 0:
        parser.error("--margin must be >= 0")
    try:
        report = load(args.report)
        if args.write_floors:
            _write_floors(args, report.meta, report.summary)
        dataset, floors = _read_floors(args.floors)
    except GqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = check(report.summary, floors)
    mismatch = check_dataset(report.meta, dataset)
    results = [mismatch, *results] if mismatch else results
    for r in results:
        print(r.line())
    failed = sum(not r.ok for r in results)
    print(f"gate: {len(results) - failed} passed, {failed} failed ({args.floors})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
