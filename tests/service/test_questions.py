"""One question check for both answer routes: cleaned (controls and zero-width characters
removed, ends stripped), then 400 when it is not Unicode, empty or longer than the setting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from core.text import clean_question
from service.app import create_app
from tests.service.conftest import HR, auth, service_settings

CHAT = "/v1/chat/completions"
ANSWERED = "年假要提前几天申请？"  # answered from corpus/hr/leave.md: "提前3天"


@pytest.fixture
def client(settings: Settings, corpus_store: QdrantStore) -> Iterator[TestClient]:
    app = create_app(
        settings,
        store=corpus_store,
        embedder=HashingEmbedder(),
        service_settings=service_settings(max_question_chars=30),
    )
    with TestClient(app) as c:
        yield c


def post_raw(client: TestClient, path: str, question_json: str, stream: bool = False) -> Any:
    """POST with the question written as raw JSON string content (escapes kept as sent)."""
    if path == CHAT:
        body = (
            f'{{"model": "grounded-qa", "stream": {str(stream).lower()}, '
            f'"messages": [{{"role": "user", "content": "{question_json}"}}]}}'
        )
    else:
        body = f'{{"question": "{question_json}"}}'
    headers = auth(HR) | {"Content-Type": "application/json"}
    return client.post(path, content=body.encode(), headers=headers)


def answer_text(r: Any) -> str:
    body = r.json()
    if "choices" in body:
        return str(body["choices"][0]["message"]["content"])
    return str(body["answer"])


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x00年假\u200b有多少天？\x7f", "年假有多少天？"),
        ("  年假\t有多少\n天？\r\n", "年假 有多少 天？"),
        ("\ufeffVPN\u2060 guide\x85\x9f", "VPN guide"),
        ("\u200b \x01", ""),
    ],
)
def test_clean_question(raw: str, clean: str) -> None:
    assert clean_question(raw) == clean


def test_clean_question_rejects_a_lone_surrogate_naming_it() -> None:
    with pytest.raises(ValueError, match=r"surrogate '\\ud83d' at character 2"):
        clean_question("年假\ud83d有多少天？")


@pytest.mark.parametrize(("path", "stream"), [("/v1/answer", False), (CHAT, False), (CHAT, True)])
def test_lone_surrogate_is_400_with_the_error_shape(
    client: TestClient, path: str, stream: bool
) -> None:
    r = post_raw(client, path, "\\ud83d年假有多少天？", stream)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and "surrogate" in error["message"]
    assert r.json()["detail"] == error["message"]


@pytest.mark.parametrize("path", ["/v1/answer", CHAT])
@pytest.mark.parametrize("blank", ["", "   ", "\\t\\n ", "\\u0000\\u200b"])
def test_blank_question_is_400_on_both_routes(client: TestClient, path: str, blank: str) -> None:
    r = post_raw(client, path, blank)
    assert r.status_code == 400 and "empty" in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("path", ["/v1/answer", CHAT])
def test_max_question_chars_setting_holds_on_both_routes(client: TestClient, path: str) -> None:
    r = post_raw(client, path, "年" * 31)
    assert r.status_code == 400 and "30 allowed" in r.json()["error"]["message"], r.text
    # counted after cleaning: padding and control characters do not count
    r = post_raw(client, path, "  " + "\\u0000" * 10 + ANSWERED + "  ")
    assert r.status_code == 200 and "3天" in answer_text(r), r.text


@pytest.mark.parametrize("path", ["/v1/answer", CHAT])
@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("\\u0000" + ANSWERED, ANSWERED),
        ("年假\\u200b要提前\\u0007几天申请？", ANSWERED),
        ("年假要\\n提前几天\\t申请？\\u0085", "年假要 提前几天 申请？"),
        # a zero-width space inside a word changed the answer (one sentence quoted, not two)
        ("员工每年享有多少天带\\u200b薪年假？", "员工每年享有多少天带薪年假？"),
    ],
)
def test_control_and_zero_width_characters_do_not_change_the_answer(
    client: TestClient, path: str, dirty: str, clean: str
) -> None:
    expected = post_raw(client, path, clean)
    body = expected.json()
    grounding = body["choices"][0]["message"]["grounding"] if path == CHAT else body
    assert not grounding["refused"], expected.text  # an answer to compare, not two refusals
    r = post_raw(client, path, dirty)
    assert r.status_code == 200 and answer_text(r) == answer_text(expected), r.text
    if path == CHAT:  # the question retrieval used, as shown to the caller
        assert r.json()["choices"][0]["message"]["grounding"]["question"] == clean


def test_chat_follow_up_turns_are_cleaned_before_merging(client: TestClient) -> None:
    turns = ["2022年公司营收\u200b是多少？\u0000", "那2023年呢？"]
    messages = [{"role": "user", "content": t} for t in turns]
    body = {"model": "grounded-qa", "messages": messages}
    r = client.post(CHAT, json=body, headers=auth(HR))
    assert r.json()["choices"][0]["message"]["grounding"]["question"] == "2023年公司营收是多少？"
    messages[0]["content"] = "\ud83d2022年公司营收是多少？"
    headers = auth(HR) | {"Content-Type": "application/json"}
    r = client.post(CHAT, content=json.dumps(body).encode(), headers=headers)  # "\\ud83d"
    assert r.status_code == 400 and "earlier user message" in r.json()["error"]["message"]
