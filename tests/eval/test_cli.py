"""`python -m eval`: exit codes, clear errors, and the subcommands it hands on."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from core.embedders import HashingEmbedder
from eval import runner
from eval.__main__ import main
from service.app import create_app
from service.gate import StoreGate
from tests.eval.test_runner import QUESTIONS, edge_settings, make_dataset
from tests.service.conftest import ADMIN, free_port, serve, service_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings() of the CLI: hashing embedder, Qdrant Edge, data under tmp_path."""
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    for name in [n for n in os.environ if n.startswith("GQA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GQA_EMBEDDER", "hashing")
    monkeypatch.setenv("GQA_STORE_ENGINE", "edge")
    return tmp_path


def test_missing_dataset_exits_2_and_says_what_is_missing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--dataset", str(env / "nowhere")]) == 2
    assert "needs questions.jsonl" in capsys.readouterr().err


def test_a_url_that_is_not_http_exits_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_dataset(env / "set")
    assert main(["run", "--dataset", str(env / "set"), "--url", "localhost:8000"]) == 2
    assert "is not an http(s) URL - e.g. http://127.0.0.1:8000" in capsys.readouterr().err


def test_a_url_nothing_listens_on_exits_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_dataset(env / "set")
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["run", "--dataset", str(env / "set"), "--url", url]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the service at {url}" in err and "python -m service" in err


def test_concurrency_must_be_positive(env: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--dataset", str(env), "--concurrency", "0"])
    assert exc.value.code == 2


def test_in_process_run_writes_the_three_reports(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    out = env / "out"
    argv = ["run", "--dataset", str(env / "set"), "--concurrency", "2", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "report.html"}
    meta = report["meta"]
    assert (meta["mode"], meta["concurrency"], meta["errors"]) == ("in-process", 2, [])
    assert meta["ingest"]["new"] == 5  # ingests by default in process
    assert len(report["records"]) == len(QUESTIONS)
    assert "questions/s" in capsys.readouterr().out


def test_failed_questions_exit_1_with_the_report_written(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = make_dataset(env / "set")
    settings = runner.isolated(edge_settings(env / "data"), ds)
    app = create_app(
        settings, embedder=HashingEmbedder(), service_settings=service_settings(retry_after_s=1)
    )
    monkeypatch.setenv("GQA_EVAL_API_KEY", ADMIN)
    with serve(app) as url:
        gate: StoreGate = app.state.store
        gate.release("store lent to a test")  # every answer is 503 until the retries run out
        argv = ["run", "--dataset", str(env / "set"), "--url", url, "--limit", "1"]
        argv += ["--out", str(env / "out")]
        code = main(argv)
        gate.reopen()
    assert code == 1
    meta = json.loads((env / "out" / "report.json").read_text(encoding="utf-8"))["meta"]
    assert meta["errors"] == [
        {"id": "leave", "message": "POST /v1/answer: HTTP 503: store lent to a test"}
    ]
    assert "1 questions failed" in capsys.readouterr().err


def test_compare_gate_html_are_handed_their_arguments(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    assert main(["run", "--dataset", str(env / "set"), "--out", str(env / "out")]) == 0
    report = str(env / "out" / "report.json")
    page = env / "page.html"
    assert main(["html", report, "--out", str(page)]) == 0
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert main(["compare", report, report]) == 0
    floors = env / "floors.json"
    floors.write_text(json.dumps({"floors": {"answer_accuracy": {"min": 1.01}}}))
    assert main(["gate", report, "--floors", str(floors)]) == 1


def test_a_missing_subcommand_module_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "eval.compare", None)  # as if eval/compare.py were absent
    assert main(["compare", "a.json", "b.json"]) == 2
    assert "needs eval/compare.py" in capsys.readouterr().err


def test_an_llm_judge_regrades_support_and_is_recorded(env: Path) -> None:
    from tests.eval.test_judge import ScriptedJudgeServer

    judge = ScriptedJudgeServer()
    judge.replies = ["no"] * 500  # the judge rejects every claim: nothing is grounded
    try:
        make_dataset(env / "set")
        out = env / "out"
        argv = ["run", "--dataset", str(env / "set"), "--out", str(out)]
        assert main([*argv, "--judge-url", judge.url, "--judge-model", "scripted"]) == 0
    finally:
        judge.server.shutdown()
        judge.server.server_close()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["judge"]["name"] == "llm:scripted"
    assert report["meta"]["judge"]["calls"] == len(judge.requests) > 0
    assert report["meta"]["judge"]["fallbacks"] == 0
    assert report["summary"]["grounding_rate"] == 0.0
    assert report["summary"]["verbatim_rate"] == 1.0  # the quotes are still exact
