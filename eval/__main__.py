"""`python -m eval run --dataset DIR`: ask a question set, grade it, write JSON + Markdown."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import GqaError
from core.settings import Settings
from eval import datasets, report, runner
from eval.calibrate import calibrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a question set and write the report")
    r.add_argument(
        "--dataset", type=Path, required=True, help="folder with questions.jsonl + corpus"
    )
    r.add_argument("--out", type=Path, help="report folder (default DATA_DIR/eval-runs/NAME)")
    r.add_argument("--no-ingest", action="store_true", help="use the collection as it is")
    r.add_argument("--limit", type=int, help="only the first N questions")
    c = sub.add_parser("calibrate", help="sweep the refusal threshold with cross-validation")
    c.add_argument("--dataset", type=Path, required=True)
    c.add_argument("--folds", type=int, default=5)
    c.add_argument(
        "--write", type=Path, metavar="ENV_FILE", help="set GQA_MIN_COVERAGE in this .env file"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    settings = Settings()
    if args.command == "calibrate":
        try:
            print(calibrate(datasets.load(args.dataset), settings, args.folds, args.write))
        except GqaError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        ds = datasets.load(args.dataset, args.limit)
        meta, summary, records = runner.run(
            ds, settings, ingest=not args.no_ingest, progress=sys.stderr.isatty()
        )
    except GqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or settings.data_dir / "eval-runs" / ds.name
    js, md = report.write(out, meta, summary, records)
    print(report.markdown(meta, summary, records))
    print(f"wrote {js} and {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
