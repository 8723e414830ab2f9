"""The HTML eval report in a real headless browser (Debian's chromium driven by Python
playwright), opened from file:// as a reader would: the charts have a size, nothing is fetched,
nothing logs an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eval import html as html_report
from tests.eval.test_html import MIX, as_report

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)


def sizes(page: sync_api.Page, selector: str) -> list[tuple[float, float]]:
    out = []
    for el in page.locator(selector).all():
        box = el.bounding_box()
        assert box is not None, f"{selector} is not rendered"
        out.append((box["width"], box["height"]))
    return out


def test_report_renders_offline_with_visible_charts(tmp_path: Path) -> None:
    reports = [as_report(MIX, thresholds={"coverage": 0.45}), as_report(MIX[:4], dataset="两")]
    path = tmp_path / "report.html"
    path.write_text(html_report.render(reports), encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            errors: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")

            bars = sizes(page, "svg.bars rect.bar")
            assert len(bars) >= 2 * 8 and all(w > 0 and h > 0 for w, h in bars)
            # bars are to scale: 1.0 (citation support) is 720 px, answer accuracy 0.5 half that
            widths = {round(w) for w, _ in bars}
            assert {720, 360} <= widths and max(widths) == 720
            bins = sizes(page, "svg.hist rect.bin")
            assert bins and all(w > 0 and h > 0 for w, h in bins)
            assert page.locator("svg.hist").count() == 4  # coverage + top_dense, two datasets
            (line,) = sizes(page, "svg.hist line.threshold")
            assert line[1] > 100
            assert page.locator("table.confusion").count() == 2
            assert "两" in page.inner_text("h1")
            assert errors == []
            assert requests == [path.as_uri()]
        finally:
            browser.close()
