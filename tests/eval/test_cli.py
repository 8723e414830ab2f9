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
    monkeypatch.setenv("GQA_READER", "off")  # the real reader is built in tests/engine (slow)
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
    assert set(meta["machine"]) == {"cpu", "int8", "onnxruntime"}  # answers move with it
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


# --- checks before anything runs ---------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--limit", "0"],
        ["run", "--limit", "-1"],
        ["calibrate", "--folds", "0"],
        ["calibrate", "--folds", "-2"],
        ["calibrate", "--folds", "1"],
    ],
)
def test_limit_and_folds_out_of_range_are_usage_errors(
    env: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--dataset", str(env)])
    assert exc.value.code == 2
    assert "or more, got" in capsys.readouterr().err


def nothing_ran(env: Path) -> bool:
    """No store was opened: the check came before the run."""
    return not (env / "data" / "eval").exists()


@pytest.mark.parametrize("command", ["run", "calibrate"])
def test_questions_not_in_utf8_exit_2_before_the_run(
    env: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    lines = (env / "set" / "questions.jsonl").read_text(encoding="utf-8")
    (env / "set" / "questions.jsonl").write_bytes(lines.encode("gbk"))
    assert main([command, "--dataset", str(env / "set")]) == 2
    assert "questions.jsonl:1: not UTF-8" in capsys.readouterr().err
    assert nothing_ran(env)


def test_a_repeated_question_id_exits_2_naming_it(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    with (env / "set" / "questions.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "vpn", "question": "VPN?", "answerable": False}) + "\n")
    assert main(["run", "--dataset", str(env / "set")]) == 2
    err = capsys.readouterr().err
    assert f":{len(QUESTIONS) + 1}: question id 'vpn' repeats the id of line 3" in err
    assert nothing_ran(env)


@pytest.mark.parametrize("bad", ["/proc/nope", "a-file", "a-file/below"])
def test_an_out_folder_that_cannot_be_written_exits_2_before_the_run(
    env: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    (env / "a-file").write_text("not a folder")
    assert main(["run", "--dataset", str(env / "set"), "--out", bad]) == 2
    err = capsys.readouterr().err
    assert "pass --out a folder you can write" in err and "Traceback" not in err
    assert nothing_ran(env)


@pytest.mark.parametrize("bad", ["a-folder", "no-such-folder/.env", "gbk.env"])
def test_a_write_file_that_cannot_be_written_exits_2_before_calibrating(
    env: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    (env / "a-folder").mkdir()
    (env / "gbk.env").write_bytes("# 阈值\n".encode("gbk"))
    assert main(["calibrate", "--dataset", str(env / "set"), "--write", bad]) == 2
    assert "pass --write a .env file you can write" in capsys.readouterr().err
    assert nothing_ran(env)


# --- ingest failures ------------------------------------------------------------------------
def test_corpus_files_that_fail_to_ingest_are_shown_and_exit_1(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    (env / "set" / "corpus" / "it" / "scan.pdf").write_bytes(b"\x00\x01\x02 not a pdf")
    out = env / "out"
    assert main(["run", "--dataset", str(env / "set"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: 1 corpus files (or records) failed to ingest and are not in the index" in err
    assert "(meta.ingest.failed): corpus/it/scan.pdf: " in err
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Ingest failures (1, first 15)" in md and "`corpus/it/scan.pdf`" in md
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(report["records"]) == len(QUESTIONS)  # the run itself went on


def test_a_corpus_of_which_nothing_ingests_exits_2(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (env / "set" / "corpus").mkdir(parents=True)
    (env / "set" / "corpus" / "scan.pdf").write_bytes(b"\x00\x01\x02 not a pdf")
    (env / "set" / "questions.jsonl").write_text(json.dumps(QUESTIONS[0]) + "\n")
    assert main(["run", "--dataset", str(env / "set"), "--out", str(env / "out")]) == 2
    err = capsys.readouterr().err
    assert "no document of" in err and "1 failed; corpus/scan.pdf:" in err


# --- calibrate ------------------------------------------------------------------------------
def test_calibrate_caps_folds_at_the_smaller_kind_with_a_note(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")  # 6 answerable, 2 unanswerable questions
    assert main(["calibrate", "--dataset", str(env / "set"), "--folds", "5"]) == 0
    out = capsys.readouterr().out
    assert "note: 2 folds instead of 5: only 2 unanswerable questions" in out
    assert "cross-validated (2 folds, thresholds " in out


def test_calibrate_needs_two_questions_of_each_kind(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    lines = [json.dumps(q) for q in QUESTIONS if q["id"] != "wifi"]
    (env / "set" / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["calibrate", "--dataset", str(env / "set")]) == 2
    assert "6 answerable and 1 unanswerable questions" in capsys.readouterr().err
    assert nothing_ran(env)


def test_calibrating_answerability_with_the_model_off_exits_2(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(env / "set")
    monkeypatch.setenv("GQA_ANSWERABILITY_MODEL", "off")
    assert main(["calibrate", "--dataset", str(env / "set")]) == 2
    assert "GQA_ANSWERABILITY_MODEL=off gives no answerability values" in capsys.readouterr().err
    assert nothing_ran(env)
    assert main(["calibrate", "--dataset", str(env / "set"), "--threshold", "coverage"]) == 0


def test_calibrate_leaves_out_the_readers_cross_language_answers(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An answer the reader gave across languages carries no answerability value: no
    same-language threshold decides it, so calibration leaves it out rather than fail."""
    import dataclasses

    real = runner.run

    def with_a_cross_language_answer(*args: object, **kwargs: object) -> object:
        meta, summary, records = real(*args, **kwargs)  # type: ignore[arg-type]
        extra = dataclasses.replace(
            records[0], id="crossed", refused=False, features={"cross_language": 1.0}
        )
        return meta, summary, [*records, extra]

    monkeypatch.setattr(runner, "run", with_a_cross_language_answer)
    make_dataset(env / "set")
    assert main(["calibrate", "--dataset", str(env / "set"), "--folds", "2"]) == 0
    assert "cross-validated (2 folds" in capsys.readouterr().out
