"""eval compare on hand-made reports whose right output is known."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from core.errors import GqaError
from eval.compare import (
    EXCERPT,
    Report,
    compare,
    direction,
    is_right,
    load,
    main,
    markdown,
    metric_deltas,
    question_changes,
    regressions,
    verdict,
)
from eval.metrics import Record

GOOD = "年假15个工作日。 [1]"


def rec(id: str = "q", **kw: Any) -> Record:
    """An answerable question answered correctly and grounded, unless `kw` says otherwise."""
    base: dict[str, Any] = dict(
        id=id,
        question=f"question {id}?",
        answerable=True,
        accepted=[["15个工作日"]],
        supporting_ids=["hr.md"],
        answer=GOOD,
        refused=False,
        reason=None,
        citations=[{"n": 1, "doc_id": "hr.md", "quote": "年假15个工作日。"}],
        retrieved=[{"doc_id": "hr.md", "text": "年假15个工作日。"}],
        latency_ms=10.0,
    )
    base.update(kw)
    return Record(**base)


def refused(id: str = "q", **kw: Any) -> Record:
    return rec(id, answer=None, refused=True, reason="low_support", citations=[], **kw)


def unanswerable(id: str, answered: bool) -> Record:
    if answered:
        return rec(id, answerable=False, accepted=[], answer="无关的话。 [1]")
    return refused(id, answerable=False, accepted=[])


def report(records: list[Record], dataset: str = "acme", **summary: Any) -> Report:
    return Report(
        Path(f"{dataset}.json"),
        {"dataset": dataset, "embedder": "hashing"},
        summary,
        {r.id: r for r in records},
    )


def write(path: Path, records: list[Record], dataset: str = "acme", **summary: Any) -> Path:
    path.write_text(
        json.dumps(
            {
                "meta": {"dataset": dataset, "embedder": "hashing"},
                "summary": summary,
                "records": [asdict(r) for r in records],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return path


UNGROUNDED = ["segment 1 cites nothing"]


@pytest.mark.parametrize(
    ("record", "expected", "right"),
    [
        (rec(), "correct", True),
        (rec(answer="年假10个工作日。 [1]"), "wrong", False),
        (refused(), "refused", False),
        (rec(citation_problems=UNGROUNDED), "correct, ungrounded", False),
        (rec(answer="不对 [1]", citation_problems=UNGROUNDED), "wrong, ungrounded", False),
        (unanswerable("u", answered=False), "refused", True),
        (unanswerable("u", answered=True), "answered", False),
    ],
)
def test_verdict_and_rightness(record: Record, expected: str, right: bool) -> None:
    assert verdict(record) == expected
    assert is_right(record) is right


@pytest.mark.parametrize(
    ("name", "old", "new", "delta", "change"),
    [
        ("answer_accuracy", 0.8, 0.9, 0.1, "better"),
        ("answer_accuracy", 0.9, 0.8, -0.1, "worse"),
        ("refusal_f1", 0.5, 0.5, 0.0, "same"),
        ("false_refusal_rate", 0.1, 0.2, 0.1, "worse"),
        ("false_refusal_rate", 0.2, 0.1, -0.1, "better"),
        ("latency_p95_ms", 120.0, 80.0, -40.0, "better"),
        ("over_quote_rate", 0.1, 0.3, 0.2, "worse"),
        ("latency_p50_ms", 10.0, 12.5, 2.5, "worse"),
        ("retrieval_recall@5", 0.5, 0.75, 0.25, "better"),
        ("grounding_rate", None, 1.0, None, ""),
        ("grounding_rate", 1.0, None, None, ""),
    ],
)
def test_metric_delta_direction(
    name: str, old: float | None, new: float | None, delta: float | None, change: str
) -> None:
    (m,) = metric_deltas({name: old}, {name: new})
    assert (m.name, m.old, m.new, m.delta, m.change) == (name, old, new, delta, change)


def test_metric_deltas_skip_counts_and_keep_metrics_of_either_side() -> None:
    ms = metric_deltas(
        {"questions": 3, "answer_accuracy": 0.5, "mrr": 0.4},
        {"questions": 4, "answer_accuracy": 0.5, "refusal_f1": 0.7},
    )
    assert [(m.name, m.old, m.new) for m in ms] == [
        ("answer_accuracy", 0.5, 0.5),
        ("mrr", 0.4, None),
        ("refusal_f1", None, 0.7),
    ]
    assert direction("questions") == 0


def test_question_changes_grouped_fixed_broken_changed() -> None:
    old = [
        refused("fixed"),
        rec("broken"),
        rec("ungrounded"),
        rec("changed", answer="不对 [1]"),
        unanswerable("u-broken", answered=False),
        rec("same"),
        rec("gone"),
    ]
    new = [
        rec("fixed"),
        rec("broken", answer="不对 [1]"),
        rec("ungrounded", citation_problems=UNGROUNDED),
        refused("changed"),
        unanswerable("u-broken", answered=True),
        rec("same", answer="另一种说法：15个工作日 [1]"),  # other text, same verdict
        rec("added"),
    ]
    c = compare(report(old), report(new))
    assert [(x.new.id, x.kind) for x in c.changes] == [
        ("fixed", "fixed"),
        ("broken", "broken"),
        ("ungrounded", "broken"),
        ("changed", "changed"),
        ("u-broken", "broken"),
    ]
    assert c.unchanged == 1
    assert (c.only_old, c.only_new) == (["gone"], ["added"])
    assert c.warnings == []


def test_only_verdict_changes_are_listed() -> None:
    changes, unchanged = question_changes({"a": rec("a")}, {"a": rec("a", latency_ms=99.0)})
    assert (changes, unchanged) == ([], 1)


def test_other_dataset_gives_a_warning() -> None:
    c = compare(report([rec()], "acme"), report([rec()], "rgb-zh"))
    assert len(c.warnings) == 1
    assert "'acme'" in c.warnings[0] and "'rgb-zh'" in c.warnings[0]
    assert "> **Warning:** different datasets" in markdown(c, "old", "new")


def test_runs_from_other_machines_give_a_warning() -> None:
    vnni = {"cpu": "AMD EPYC", "int8": "avx512_vnni", "onnxruntime": "1.32.0"}
    avx2 = {"cpu": "AMD EPYC", "int8": "avx2", "onnxruntime": "1.32.0"}
    old, new = report([rec()]), report([rec()])
    old.meta["machine"], new.meta["machine"] = vnni, avx2
    (warning,) = compare(old, new).warnings
    assert "different machines" in warning and "(avx2, onnxruntime 1.32.0)" in warning
    new.meta["machine"] = dict(vnni)
    assert compare(old, new).warnings == []
    del new.meta["machine"]  # a report from before the field, or from a service: no warning
    assert compare(old, new).warnings == []


def test_regressions_are_broken_questions_and_dropped_higher_is_better_metrics() -> None:
    c = compare(
        report(
            [rec("a"), refused("b")],
            answer_accuracy=0.9,
            refusal_f1=0.8,
            grounding_rate=1.0,
            false_refusal_rate=0.1,
            latency_p50_ms=10.0,
        ),
        report(
            [rec("a", answer="不对 [1]"), rec("b")],
            answer_accuracy=0.85,
            refusal_f1=0.9,
            grounding_rate=None,
            false_refusal_rate=0.3,  # lower-is-better getting worse is not "a drop"
            latency_p50_ms=50.0,
        ),
    )
    assert regressions(c) == [
        "a: correct -> wrong",
        "answer_accuracy: 0.9 -> 0.85",
        "grounding_rate: 1.0 -> n/a",
    ]


def test_no_regression_when_only_lower_is_better_metrics_worsen() -> None:
    c = compare(
        report([rec("a")], false_refusal_rate=0.0, latency_max_ms=10.0),
        report([rec("a")], false_refusal_rate=0.2, latency_max_ms=900.0),
    )
    assert regressions(c) == []


def test_markdown_shows_table_groups_excerpts_and_one_sided_ids() -> None:
    long_answer = "十五个工作日" * 40 + " [1]"
    c = compare(
        report([rec("a"), refused("b"), rec("gone")], answer_accuracy=0.9),
        report([rec("a", answer=long_answer), rec("b")], answer_accuracy=0.8),
    )
    md = markdown(c, "old.json", "new.json")
    assert "| answer_accuracy | 0.9 | 0.8 | -0.1 | worse |" in md
    assert "1 fixed, 1 broken, 0 changed, 0 unchanged; 1 only in old, 0 only in new" in md
    fixed, broken = md.index("## Fixed (1)"), md.index("## Broken (1)")
    assert fixed < md.index("`b`") < broken < md.index("`a`")
    assert "  - old: refused (low_support)" in md
    assert f'  - old: "{GOOD}"' in md
    assert f'  - new: "{long_answer[:EXCERPT]}…"' in md
    assert "## Only in old (1)\n\n`gone`" in md
    assert "Only in new" not in md


def test_markdown_names_the_citation_problem() -> None:
    c = compare(report([rec("a")]), report([rec("a", citation_problems=UNGROUNDED)]))
    md = markdown(c, "o", "n")
    assert "correct → **correct, ungrounded**" in md
    assert "ungrounded: segment 1 cites nothing" in md


def test_load_reads_a_report_and_ignores_unknown_record_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", [rec("a"), refused("b")], answer_accuracy=0.5)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["records"][0]["added_later"] = 1
    path.write_text(json.dumps(data), encoding="utf-8")
    r = load(path)
    assert list(r.records) == ["a", "b"]
    assert r.records["a"] == rec("a")
    assert r.summary == {"answer_accuracy": 0.5}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"meta": {}, "summary": {}}', "is not an eval report"),
        ('{"meta": {}, "summary": {}, "records": [{"id": "a"}]}', "record 0 is not"),
        ('{"meta": {}, "summary": {}, "records": [7]}', "record 0 is not"),
    ],
)
def test_load_rejects_what_is_not_a_report(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GqaError, match=message):
        load(path)


def test_load_rejects_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(GqaError, match="'a' appears twice"):
        load(write(tmp_path / "r.json", [rec("a"), rec("a")]))


def test_main_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = str(write(tmp_path / "old.json", [rec("a"), refused("b")], answer_accuracy=0.5))
    worse = str(write(tmp_path / "worse.json", [refused("a"), refused("b")], answer_accuracy=0.0))
    better = str(write(tmp_path / "better.json", [rec("a"), rec("b")], answer_accuracy=1.0))

    assert main([old, better, "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "## Fixed (1)" in out and "| answer_accuracy | 0.5 | 1 | +0.5 | better |" in out

    assert main([old, worse]) == 0  # a report, not a verdict, without the flag
    assert "## Broken (1)" in capsys.readouterr().out
    assert main([old, worse, "--fail-on-regression"]) == 1
    err = capsys.readouterr().err
    assert err == "regression: a: correct -> refused; answer_accuracy: 0.5 -> 0.0\n"


def test_main_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(write(tmp_path / "r.json", [rec()]))
    missing = str(tmp_path / "missing.json")
    assert main([good, missing]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: cannot read report {missing}")
    (tmp_path / "bad.json").write_text("[]", encoding="utf-8")
    assert main([str(tmp_path / "bad.json"), good]) == 2
    assert "is not an eval report" in capsys.readouterr().err
