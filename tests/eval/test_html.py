"""The HTML report on hand-made records whose counts are known."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from eval import html as html_report
from eval import report
from eval.metrics import Record, summarize

SCRIPT = "<script>alert(1)</script>"


def rec(id: str, *, answerable: bool = True, **kw: Any) -> Record:
    base: dict[str, Any] = dict(
        id=id,
        question=f"question {id}?",
        answerable=answerable,
        accepted=[["12人"]] if answerable else [],
        supporting_ids=["p1"] if answerable else [],
        answer="造成至少12人死亡。 [1]",
        refused=False,
        reason=None,
        citations=[{"n": 1, "doc_id": "p1", "start": 0, "end": 9, "quote": "造成至少12人死亡。"}],
        retrieved=[{"doc_id": "p1", "text": "造成至少12人死亡。"}],
        latency_ms=10.0,
        features={"coverage": 0.9, "top_dense": 0.8},
    )
    base.update(kw)
    return Record(**base)


def refused(id: str, answerable: bool, coverage: float) -> Record:
    return rec(
        id,
        answerable=answerable,
        answer=None,
        refused=True,
        reason="low_support",
        citations=[],
        features={"coverage": coverage, "top_dense": 0.5},
    )


# answerable: 2 correct, 1 wrong, 1 refused; unanswerable: 1 answered (wrong), 2 refused
MIX = [
    rec("a-ok1"),
    rec("a-ok2", latency_ms=900.0),
    rec("a-wrong", answer="造成至少13人死亡。 [1]", citation_problems=["quote not found"]),
    refused("a-ref", True, 0.3),
    rec("u-answered", answerable=False, question=SCRIPT, features={"coverage": 0.6}),
    refused("u-ref1", False, 0.1),
    refused("u-ref2", False, 0.2),
]


def as_report(records: list[Record], **meta: Any) -> dict[str, Any]:
    return {
        "meta": {"dataset": "mix", "embedder": "hashing", "seconds": 1.0, **meta},
        "summary": summarize(records),
        "records": [asdict(r) for r in records],
    }


def cells(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-cell="([a-z-]+)">(\d+) ', page)}


class Tags(HTMLParser):
    """Every start tag with its attributes, as the browser would parse them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_confusion_matrix_counts() -> None:
    page = html_report.render([as_report(MIX)])
    assert cells(page) == {
        "answerable-correct": 2,
        "answerable-wrong": 1,
        "answerable-refused": 1,
        "unanswerable-correct": 0,
        "unanswerable-wrong": 1,
        "unanswerable-refused": 2,
    }


def test_data_is_escaped_and_the_page_has_no_script() -> None:
    quote = '"><script>steal()</script>'
    records = [*MIX, rec("x", citations=[{"n": 1, "doc_id": "d<1>", "quote": quote}])]
    page = html_report.render([as_report(records, dataset="<marquee>ds</marquee>")])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;script&gt;steal()&lt;/script&gt;" in page
    assert "&lt;marquee&gt;ds&lt;/marquee&gt;" in page and "d&lt;1&gt;" in page
    assert "<script" not in page.lower()
    assert all(tag not in ("script", "marquee") for tag, _ in Tags(page).tags)


def test_no_external_resources() -> None:
    records = [*MIX, rec("u", citations=[{"n": 1, "doc_id": "d", "quote": "see https://x.org"}])]
    tags = Tags(html_report.render([as_report(records)])).tags
    assert not [t for t, _ in tags if t in ("script", "link", "img", "iframe", "object")]
    urls = [v for _, attrs in tags for v in attrs.values() if v and "://" in v]
    assert urls == []


def test_threshold_line_is_drawn_at_its_value() -> None:
    with_t = html_report.render([as_report(MIX, thresholds={"coverage": 0.5})])
    # the coverage histogram spans 0.1..0.9, so 0.5 lies in the middle of the plotting width
    middle = html_report.PAD + (html_report.W - 2 * html_report.PAD) / 2
    assert re.search(rf'class="threshold" x1="{middle:.1f}"', with_t)
    assert "threshold 0.5<" in with_t
    assert with_t.count('class="threshold"') == 1  # only coverage has one
    assert 'class="threshold"' not in html_report.render([as_report(MIX)])


def test_histograms_count_each_group() -> None:
    svg = html_report.histogram("coverage", [0.0, 0.0, 1.0], [1.0], None)
    assert "answerable (3)" in svg and "unanswerable (1)" in svg
    heights = sorted(float(h) for h in re.findall(r'class="bin"[^>]*height="([\d.]+)"', svg))
    full = html_report.H - 40  # the tallest bin (two answerable at 0.0) fills the plot
    assert heights == [full / 2, full / 2, full]


def test_metric_bars_skip_missing_values_and_show_numbers() -> None:
    a, b = as_report(MIX), as_report(MIX[:4], dataset="only-answerable")
    assert b["summary"]["refusal_recall"] is None
    svg = html_report.metric_bars([a, b])
    assert 'fill="#2a8c82"><title>mix: answer accuracy 0.5' in svg
    assert "only-answerable: answer accuracy 0.5" in svg
    assert "mix: refusal recall 0.6667" in svg
    assert "only-answerable: refusal recall" not in svg
    assert ">0.667</text>" in svg


def test_slowest_and_wrongest_lists() -> None:
    page = html_report.render([as_report(MIX)])
    slowest = page[page.index("<h3>Slowest") : page.index("<h3>Wrongest")]
    assert slowest.index("a-ok2") < slowest.index("a-ok1")  # 900 ms first
    wrongest = page[page.index("<h3>Wrongest") :]
    assert "<h3>Wrongest 3 of 3</h3>" in page
    for wrong in ("a-wrong", "a-ref", "u-answered"):
        assert f"<code>{wrong}</code>" in wrongest
    assert "citation problem: quote not found" in wrongest
    assert "<td class='quote'>造成至少12人死亡。</td>" in wrongest
    assert "<td>0</td><td>9</td>" in wrongest  # start, end of the citation


def test_all_refused_without_features_still_renders() -> None:
    records = [
        refused("a", True, 0.0),
        refused("u", False, 0.0),
    ]
    for r in records:
        r.features = {}
    page = html_report.render([as_report(records)])
    assert "No numeric features" in page
    assert cells(page)["answerable-refused"] == 1 and cells(page)["unanswerable-refused"] == 1
    assert page.rstrip().endswith("</html>")
    empty = html_report.render([as_report([])])
    assert cells(empty)["answerable-correct"] == 0


def test_main_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "report.json"
    src.write_text(json.dumps(as_report(MIX), ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "page.html"
    assert (
        html_report.main([str(src), str(src), "--out", str(out), "--threshold", "top_dense=0.7"])
        == 0
    )
    assert capsys.readouterr().out.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert page.count("<section>") == 2 and "threshold 0.7<" in page


@pytest.mark.parametrize(
    "content",
    [None, "{not json", '{"meta": {}}', '{"meta": {}, "summary": {}, "records": [{"id": 1}]}'],
)
def test_main_rejects_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    src = tmp_path / "report.json"
    if content is not None:
        src.write_text(content, encoding="utf-8")
    assert html_report.main([str(src), "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(src) in err
    assert not (tmp_path / "x.html").exists()


def test_report_write_all_writes_html(tmp_path: Path) -> None:
    meta = {"dataset": "mix", "embedder": "hashing", "seconds": 1.0}
    js, md, page = report.write_all(tmp_path, meta, summarize(MIX), MIX)
    assert page == tmp_path / "report.html"
    assert cells(page.read_text(encoding="utf-8"))["unanswerable-refused"] == 2
    assert report.write(tmp_path / "b", meta, summarize(MIX), MIX) == (
        tmp_path / "b" / "report.json",
        tmp_path / "b" / "report.md",
    )
    assert (tmp_path / "b" / "report.html").exists()
