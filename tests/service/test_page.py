"""The chat page in a real headless browser (Debian's chromium driven by Python playwright)
against uvicorn on loopback: save a key, ask, get a cited answer, click the marker, see the
quoted span highlighted in its document; a refusal shows as a refusal, with related passages
that open in their documents. Saves docs/chat-page.png."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from service.app import create_app
from tests.service.conftest import HR, serve, service_settings

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "chat-page.png"
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


@pytest.fixture
def base_url(settings: Settings, corpus_store: QdrantStore) -> Iterator[str]:
    app = create_app(
        settings,
        store=corpus_store,
        embedder=HashingEmbedder(),
        service_settings=service_settings(),
    )
    with serve(app) as url:
        yield url


def test_ask_click_citation_and_see_the_quoted_span(base_url: str) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 720})
            page.goto(base_url + "/")
            page.fill("#key", HR)  # keys are configured: the page asks for one first
            page.click("#key-form button[type=submit]")
            assert page.evaluate("localStorage.getItem('gqa.apiKey')") == HR

            page.fill("#question", "年假要提前几天申请？")
            with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as sent:
                page.click("#send")
            assert sent.value.request.post_data_json["stream"] is True  # the page streams
            assert sent.value.headers["content-type"].startswith("text/event-stream")
            answer = page.wait_for_selector("#log li.answer", timeout=15000)
            assert answer is not None and "3天" in answer.inner_text()
            marker = page.locator("#log li.answer button.marker").first
            assert marker.inner_text() == "[1]"
            marker.click()
            page.wait_for_selector("#source mark", timeout=10000)
            highlighted = page.inner_text("#source mark")
            assert "年假须提前3天在系统中申请" in highlighted
            assert page.inner_text("#source-name") == "corpus/hr/leave.md"
            # the span sits in its surrounding text, which is not highlighted
            assert "员工每年享有15个工作日" in page.inner_text("#source-text")
            assert "员工每年享有15个工作日" not in highlighted

            page.fill("#question", "2019年员工每年享有多少天带薪年假？")
            page.click("#send")
            refusal = page.wait_for_selector("#log li.refusal", timeout=15000)
            assert refusal is not None and "2019" in refusal.inner_text()
            # the human message and a label in the question's language; the code as tooltip
            assert "evidence_does_not_cover_question" not in refusal.inner_text()
            assert "未能回答" in page.inner_text("#log li.refusal .badge")
            reason = page.get_attribute("#log li.refusal .badge", "title") or ""
            assert "evidence_does_not_cover_question" in reason
            assert page.locator("#log li.refusal button.marker").count() == 0
            assert "年假须提前3天" in page.inner_text("#source mark")  # the source pane stays
            # related, but not an answer: the closest passage opens in its document
            assert "Related, but not an answer" in refusal.inner_text()
            related = page.locator("#log li.refusal button.related-passage").first
            assert "年假政策" in related.inner_text()
            related.click()
            page.wait_for_function(
                "!document.querySelector('#source mark').textContent.includes('提前3天')"
            )
            assert "年假" in page.inner_text("#source mark")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # the key survives a reload
            page.reload()
            assert page.is_hidden("#key-form")
            page.fill("#question", "年假要提前几天申请？")
            page.click("#send")
            page.wait_for_selector("#log li.answer button.marker", timeout=15000)
            page.locator("#log li.answer button.marker").first.click()
            page.wait_for_selector("#source mark", timeout=10000)
        finally:
            browser.close()
