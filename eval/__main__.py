"""`python -m eval run --dataset DIR [--url URL]`: ask a question set, grade it, write the
report (JSON, Markdown, HTML). Also `calibrate`, and `compare`, `gate`, `html` on reports.

Exit codes of `run`: 0 every question answered, 1 some questions failed (listed in
meta.errors; the report is written without them) or some corpus files failed to ingest (listed
in meta.ingest.failed, on stderr and in report.md), 2 configuration, dataset, service or store
error (checked before anything runs where possible: the question file, --out, --write), or a
corpus of which nothing could be ingested.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path

from core.errors import GqaError
from core.settings import Settings
from eval import datasets, report, runner
from eval.calibrate import KNOBS, calibrate
from eval.http_client import ServiceClient
from eval.judge import LlmJudge
from eval.metrics import summarize

# Subcommands with their own parsers: `python -m eval compare ...` runs eval.compare.main.
DELEGATED = {
    "compare": "compare two reports, per metric and per question",
    "gate": "fail when a report's metrics are below the floors",
    "html": "render reports as one HTML page",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a question set and write the report")
    r.add_argument(
        "--dataset", type=Path, required=True, help="folder with questions.jsonl + corpus"
    )
    r.add_argument("--out", type=Path, help="report folder (default DATA_DIR/eval-runs/NAME)")
    r.add_argument(
        "--limit", type=_positive, metavar="N", help="only the first N questions (N >= 1)"
    )
    r.add_argument(
        "--url", help="ask the service at this URL over HTTP (default: the engine in process)"
    )
    ing = r.add_mutually_exclusive_group()
    ing.add_argument(
        "--ingest",
        dest="ingest",
        action="store_const",
        const=True,
        help="sync the corpus first (default in process; with --url: upload it as "
        "eval-NAME.jsonl and run an ingest job through the admin API; the eval-*.jsonl uploads "
        "of other datasets are deleted from the service first, so that one dataset's eval "
        "documents are indexed at a time; other uploads and configured sources stay)",
    )
    ing.add_argument(
        "--no-ingest",
        dest="ingest",
        action="store_const",
        const=False,
        help="use the collection as it is (default with --url)",
    )
    r.add_argument(
        "--concurrency",
        type=_positive,
        help="questions in flight at once (default 1 in process, 8 with --url)",
    )
    r.add_argument(
        "--api-key-env",
        default="GQA_EVAL_API_KEY",
        metavar="NAME",
        help="environment variable holding the service's API key (default GQA_EVAL_API_KEY)",
    )
    r.add_argument(
        "--admin-key-env",
        default="GQA_EVAL_ADMIN_KEY",
        metavar="NAME",
        help="environment variable holding an admin key for --ingest with --url "
        "(default GQA_EVAL_ADMIN_KEY; unset: the API key)",
    )
    r.add_argument(
        "--judge-url",
        metavar="URL",
        help="grade support with an LLM judge at this OpenAI-compatible base URL (key from "
        "GQA_JUDGE_API_KEY; default: the lexical judge)",
    )
    r.add_argument("--judge-model", default="default", help="model name for --judge-url")
    c = sub.add_parser("calibrate", help="sweep the refusal threshold with cross-validation")
    c.add_argument("--dataset", type=Path, required=True)
    c.add_argument(
        "--folds",
        type=_at_least_2,
        default=5,
        help="cross-validation folds, 2 or more (default 5; fewer when a kind of question has "
        "fewer questions, with a note)",
    )
    c.add_argument(
        "--threshold",
        choices=sorted(KNOBS),
        default="answerability",
        help="which refusal threshold to sweep (default answerability)",
    )
    c.add_argument("--no-ingest", dest="ingest", action="store_false", help="reuse the collection")
    c.add_argument(
        "--write", type=Path, metavar="ENV_FILE", help="set the chosen threshold in this .env file"
    )
    for name, help_text in DELEGATED.items():  # listed in --help; parsed by their own modules
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {n}")
    return n


def _at_least_2(value: str) -> int:
    n = int(value)
    if n < 2:
        raise argparse.ArgumentTypeError(f"must be 2 or more, got {n}")
    return n


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    try:
        if args.command == "calibrate":
            ds = datasets.load(args.dataset)
            print(calibrate(ds, settings, args.folds, args.write, args.threshold, args.ingest))
            return 0
        return _run(args, settings)
    except GqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _delegate(command: str, rest: list[str]) -> int:
    """Run eval.<command>.main(rest), imported only now (each has its own dependencies)."""
    try:
        module = importlib.import_module(f"eval.{command}")
    except ModuleNotFoundError as exc:
        if exc.name != f"eval.{command}":
            raise
        print(
            f"error: 'python -m eval {command}' needs eval/{command}.py, which this checkout "
            "does not have yet",
            file=sys.stderr,
        )
        return 2
    code: int = module.main(rest)
    return code


def _run(args: argparse.Namespace, settings: Settings) -> int:
    ds = datasets.load(args.dataset, args.limit)
    out = args.out or settings.data_dir / "eval-runs" / ds.name
    report.check_out(out)  # before the run: a bad --out must not lose it
    progress = sys.stderr.isatty()
    if args.url:
        with ServiceClient(
            args.url,
            os.environ.get(args.api_key_env) or None,
            admin_key=os.environ.get(args.admin_key_env) or None,
            key_env=args.api_key_env,
            admin_key_env=args.admin_key_env,
        ) as client:
            meta, summary, records = runner.run_url(
                ds,
                client,
                ingest=bool(args.ingest),
                progress=progress,
                concurrency=args.concurrency or 8,
            )
    else:
        meta, summary, records = runner.run(
            ds,
            settings,
            ingest=args.ingest is not False,
            progress=progress,
            concurrency=args.concurrency or 1,
        )
    if args.judge_url:  # re-grade support with the LLM judge (the lexical one graded the run)
        judge = LlmJudge(
            args.judge_url, args.judge_model, os.environ.get("GQA_JUDGE_API_KEY") or None
        )
        summary = summarize(records, judge=judge)
        meta["judge"] = {"name": judge.name, "calls": judge.calls, "fallbacks": judge.fallbacks}
    js, md, page = report.write_all(out, meta, summary, records)
    print(report.markdown(meta, summary, records))
    print(
        f"{meta['concurrency']} at a time: {meta['questions_per_s']} questions/s; "
        f"wrote {js}, {md} and {page}"
    )
    failed = report.ingest_failures(meta)
    if failed:
        print(
            f"error: {len(failed)} corpus files (or records) failed to ingest and are not in "
            f"the index (meta.ingest.failed): {report.describe_failures(failed, 5)}",
            file=sys.stderr,
        )
    for err in meta["errors"]:
        print(f"error: question {err['id']}: {err['message']}", file=sys.stderr)
    if meta["errors"]:
        print(f"error: {len(meta['errors'])} questions failed (meta.errors)", file=sys.stderr)
    return 1 if failed or meta["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
