"""eval gate: floors checked table-driven, the CLI's exit codes, --write-floors round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import GqaError
from eval.gate import DEFAULT_BOUNDS, Floor, check, check_dataset, main, make_floors, parse_floors

FLOORS = Path(__file__).resolve().parents[2] / "eval" / "floors.json"

SUMMARY = {
    "questions": 10,
    "answerable": 7,
    "unanswerable": 3,
    "answer_accuracy": 0.8571,
    "false_refusal_rate": 0.1429,
    "refusal_recall": 1.0,
    "refusal_precision": 0.75,
    "refusal_f1": 0.8571,
    "grounding_rate": 1.0,
    "citation_support_rate": 1.0,
    "mrr": 0.9,
    "latency_p50_ms": 12.5,
}


def write_report(path: Path, dataset: str = "acme", **changes: Any) -> str:
    summary = {**SUMMARY, **changes}
    meta = {"dataset": dataset, "embedder": "hashing"}
    path.write_text(json.dumps({"meta": meta, "summary": summary, "records": []}), "utf-8")
    return str(path)


def write_floors(path: Path, floors: dict[str, Any], dataset: str | None = "acme") -> str:
    path.write_text(json.dumps({"dataset": dataset, "floors": floors, "measured": {}}), "utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("summary", "floor", "ok", "message"),
    [
        ({"answer_accuracy": 0.9}, Floor("answer_accuracy", "min", 0.85), True, "0.9 >= 0.85"),
        ({"answer_accuracy": 0.85}, Floor("answer_accuracy", "min", 0.85), True, "0.85 >= 0.85"),
        (
            {"answer_accuracy": 0.84},
            Floor("answer_accuracy", "min", 0.85),
            False,
            "0.84 not >= 0.85",
        ),
        ({"grounding_rate": 1}, Floor("grounding_rate", "min", 1.0), True, "1 >= 1"),
        (
            {"grounding_rate": 0.9999},
            Floor("grounding_rate", "min", 1.0),
            False,
            "0.9999 not >= 1",
        ),
        (
            {"false_refusal_rate": 0.05},
            Floor("false_refusal_rate", "max", 0.1),
            True,
            "0.05 <= 0.1",
        ),
        (
            {"false_refusal_rate": 0.2},
            Floor("false_refusal_rate", "max", 0.1),
            False,
            "0.2 not <= 0.1",
        ),
        (
            {},
            Floor("refusal_f1", "min", 0.8),
            False,
            "missing from the report (floor: >= 0.8)",
        ),
        (
            {"refusal_f1": None},
            Floor("refusal_f1", "min", 0.8),
            False,
            "is None in the report, not a number (floor: >= 0.8)",
        ),
        (
            {"refusal_f1": "0.9"},
            Floor("refusal_f1", "min", 0.8),
            False,
            "is '0.9' in the report, not a number (floor: >= 0.8)",
        ),
    ],
)
def test_check(summary: dict[str, Any], floor: Floor, ok: bool, message: str) -> None:
    (result,) = check(summary, [floor])
    assert (result.metric, result.ok, result.message) == (floor.metric, ok, message)
    assert result.line().startswith("PASS  " if ok else "FAIL  ")


def test_check_gives_one_result_per_floor_in_order() -> None:
    floors = [Floor("a", "min", 0.5), Floor("b", "max", 0.5), Floor("a", "max", 0.6)]
    results = check({"a": 0.7, "b": 0.1}, floors)
    assert [(r.metric, r.ok) for r in results] == [("a", True), ("b", True), ("a", False)]


def test_check_dataset() -> None:
    assert check_dataset({"dataset": "acme"}, "acme") is None
    assert check_dataset({"dataset": "rgb-zh"}, None) is None
    mismatch = check_dataset({"dataset": "rgb-zh"}, "acme")
    assert mismatch is not None and not mismatch.ok
    assert mismatch.message == "report is of 'rgb-zh', floors are for 'acme'"


def test_parse_floors() -> None:
    data = {"dataset": "acme", "floors": {"a": {"min": 1}, "b": {"min": 0.2, "max": 0.4}}}
    assert parse_floors(data) == (
        "acme",
        [Floor("a", "min", 1.0), Floor("b", "min", 0.2), Floor("b", "max", 0.4)],
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], 'no "floors" object'),
        ({"floors": []}, 'no "floors" object'),
        ({"floors": {}}, "sets no floors"),
        ({"floors": {"a": 0.8}}, "floor 'a' is 0.8"),
        ({"floors": {"a": {}}}, "floor 'a' is {}"),
        ({"floors": {"a": {"minimum": 0.8}}}, "floor 'a' is"),
        ({"floors": {"a": {"min": "0.8"}}}, "floor 'a' is"),
        ({"floors": {"a": {"min": True}}}, "floor 'a' is"),
        ({"dataset": 3, "floors": {"a": {"min": 0.8}}}, '"dataset" must be a name'),
    ],
)
def test_parse_floors_rejects(data: Any, message: str) -> None:
    with pytest.raises(GqaError, match=message):
        parse_floors(data)


def test_make_floors_applies_the_margin_and_keeps_grounding_at_one() -> None:
    bounds = {"grounding_rate": "min", "answer_accuracy": "min", "false_refusal_rate": "max"}
    machine = {"cpu": "AMD EPYC", "int8": "avx2", "onnxruntime": "1.32.0"}
    data = make_floors(
        {"dataset": "acme", "embedder": "e5", "machine": machine},
        {**SUMMARY, "grounding_rate": 0.95},
        bounds,  # type: ignore[arg-type]
        0.03,
        {"command": "python -m eval run --dataset samples/acme", "date": "2026-01-02"},
    )
    assert data["dataset"] == "acme"
    assert data["floors"] == {
        "grounding_rate": {"min": 1.0},
        "answer_accuracy": {"min": 0.8271},
        "false_refusal_rate": {"max": 0.1729},
    }
    measured = data["measured"]
    assert measured["command"] == "python -m eval run --dataset samples/acme"
    assert (measured["date"], measured["margin"], measured["embedder"]) == (
        "2026-01-02",
        0.03,
        "e5",
    )
    assert measured["machine"] == machine  # the floors hold on the CPU they were measured on
    assert measured["summary"]["answer_accuracy"] == 0.8571
    assert "latency_p50_ms" not in measured["summary"]
    assert parse_floors(data)[0] == "acme"


def test_make_floors_never_goes_below_zero_and_needs_a_value() -> None:
    low = make_floors({}, {"mrr": 0.01}, {"mrr": "min"}, 0.03, {})
    assert low["floors"] == {"mrr": {"min": 0.0}}
    with pytest.raises(GqaError, match="cannot set a floor for refusal_f1: the report has None"):
        make_floors({}, {"refusal_f1": None}, {"refusal_f1": "min"}, 0.03, {})


def test_main_pass_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    floors = write_floors(
        tmp_path / "floors.json",
        {"grounding_rate": {"min": 1.0}, "answer_accuracy": {"min": 0.8}},
    )
    assert main([write_report(tmp_path / "ok.json"), "--floors", floors]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "PASS  grounding_rate: 1 >= 1",
        "PASS  answer_accuracy: 0.8571 >= 0.8",
        f"gate: 2 passed, 0 failed ({floors})",
    ]
    report = write_report(tmp_path / "bad.json", grounding_rate=0.98)
    assert main([report, "--floors", floors]) == 1
    out = capsys.readouterr().out
    assert "FAIL  grounding_rate: 0.98 not >= 1" in out
    assert "gate: 1 passed, 1 failed" in out


def test_main_fails_on_a_missing_metric_or_another_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    floors = write_floors(tmp_path / "floors.json", {"refusal_f1": {"min": 0.5}})
    assert main([write_report(tmp_path / "none.json", refusal_f1=None), "--floors", floors]) == 1
    assert "FAIL  refusal_f1: is None in the report" in capsys.readouterr().out
    assert main([write_report(tmp_path / "other.json", "rgb-zh"), "--floors", floors]) == 1
    out = capsys.readouterr().out
    assert "FAIL  dataset: report is of 'rgb-zh', floors are for 'acme'" in out
    assert "PASS  refusal_f1" in out


def test_main_unreadable_input_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    floors = write_floors(tmp_path / "floors.json", {"refusal_f1": {"min": 0.5}})
    report = write_report(tmp_path / "r.json")
    (tmp_path / "junk.json").write_text("{", "utf-8")
    cases = [
        ([str(tmp_path / "missing.json"), "--floors", floors], "cannot read report"),
        ([str(tmp_path / "junk.json"), "--floors", floors], "is not JSON"),
        ([report, "--floors", str(tmp_path / "missing.json")], "cannot read floors"),
        ([report, "--floors", str(tmp_path / "junk.json")], "is not JSON"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("error: ") and message in captured.err
        assert captured.err.count("\n") == 1


def test_write_floors_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    floors = tmp_path / "floors.json"
    report = write_report(tmp_path / "r.json")
    cmd = "python -m eval run --dataset samples/acme"
    argv = [report, "--floors", str(floors), "--write-floors", "--margin", "0.05"]
    assert main([*argv, "--run-command", cmd]) == 0
    data = json.loads(floors.read_text("utf-8"))
    assert set(data["floors"]) == set(DEFAULT_BOUNDS)
    assert data["floors"]["grounding_rate"] == {"min": 1.0}
    assert data["floors"]["answer_accuracy"] == {"min": 0.8071}
    assert data["floors"]["false_refusal_rate"] == {"max": 0.1929}
    assert (data["dataset"], data["measured"]["command"]) == ("acme", cmd)
    assert data["measured"]["report"] == report
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {floors} from {report} (margin 0.05)\n")
    assert f"gate: {len(DEFAULT_BOUNDS)} passed, 0 failed" in out

    # The same run gates against what it wrote; a worse one does not.
    assert main([report, "--floors", str(floors)]) == 0
    worse = write_report(tmp_path / "worse.json", answer_accuracy=0.8)
    assert main([worse, "--floors", str(floors)]) == 1


def test_write_floors_keeps_the_metric_set_and_fails_when_ungrounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    floors = tmp_path / "floors.json"
    write_floors(floors, {"grounding_rate": {"min": 1.0}, "mrr": {"min": 0.1}})
    report = write_report(tmp_path / "r.json", grounding_rate=0.9)
    assert main([report, "--floors", str(floors), "--write-floors"]) == 1
    data = json.loads(floors.read_text("utf-8"))
    assert data["floors"] == {"grounding_rate": {"min": 1.0}, "mrr": {"min": 0.87}}
    assert "FAIL  grounding_rate: 0.9 not >= 1" in capsys.readouterr().out


def test_write_floors_from_a_report_missing_a_metric_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    floors = tmp_path / "floors.json"
    report = write_report(tmp_path / "r.json", refusal_f1=None)
    assert main([report, "--floors", str(floors), "--write-floors"]) == 2
    assert "cannot set a floor for refusal_f1" in capsys.readouterr().err
    assert not floors.exists()


def test_bundled_floors_hold_for_the_run_they_were_measured_on() -> None:
    data = json.loads(FLOORS.read_text("utf-8"))
    dataset, floors = parse_floors(data, str(FLOORS))
    assert dataset == "acme"
    assert Floor("grounding_rate", "min", 1.0) in floors
    assert {f.metric for f in floors} >= {"answer_accuracy", "refusal_f1"}
    measured = data["measured"]
    assert measured["command"] and measured["date"]
    assert [r.line() for r in check(measured["summary"], floors) if not r.ok] == []
