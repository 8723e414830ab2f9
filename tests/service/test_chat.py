"""OpenAI-compatible chat through the official `openai` client against uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionToolChoiceOptionParam,
    ChatCompletionToolParam,
)

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from service.app import create_app
from service.chat import approx_tokens, pieces
from tests.service.conftest import FIN, HR, STAFF, serve, service_settings

MODEL = "grounded-qa"


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


def client(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=30)


def extra(obj: Any, name: str) -> Any:
    """An extension field the openai models keep as extra."""
    return (obj.model_extra or {})[name]


def test_answer_carries_markers_and_structured_citations(base_url: str) -> None:
    c = client(base_url, HR)
    done = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "年假要提前几天申请？"}]
    )
    msg = done.choices[0].message
    assert done.object == "chat.completion" and done.choices[0].finish_reason == "stop"
    assert msg.role == "assistant" and "3天" in (msg.content or "")
    grounding = extra(msg, "grounding")
    assert grounding["refused"] is False and grounding["reason"] is None
    cites = extra(msg, "citations")
    assert cites and cites[0]["doc_id"] == "corpus/hr/leave.md"
    for cite in cites:
        content = msg.content or ""
        assert content[cite["marker_start"] : cite["marker_end"]] == f"[{cite['n']}]"
        assert cite["quote"] in content[: cite["marker_start"]]
        # the quote is exactly the stored document's span
        doc = c.get(f"/documents/{cite['doc_id']}", cast_to=object)
        assert isinstance(doc, dict) and doc["text"][cite["start"] : cite["end"]] == cite["quote"]
    assert msg.annotations and msg.annotations[0].type == "url_citation"
    assert msg.annotations[0].url_citation.start_index == cites[0]["marker_start"]


def test_streaming_sends_content_then_citations_in_the_final_chunk(base_url: str) -> None:
    c = client(base_url, HR)
    chunks = list(
        c.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "年假要提前几天申请？"}],
            stream=True,
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    final = chunks[-1].choices[0]
    assert len(chunks) >= 3 and final.finish_reason == "stop"
    cites = extra(final.delta, "citations")
    assert "3天" in text and cites and cites[0]["doc_id"] == "corpus/hr/leave.md"
    assert text[cites[0]["marker_start"] : cites[0]["marker_end"]] == "[1]"
    assert extra(final.delta, "grounding")["refused"] is False
    # the same answer as without streaming
    whole = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "年假要提前几天申请？"}]
    )
    assert whole.choices[0].message.content == text


def test_refusal_is_a_normal_message_with_a_reason(base_url: str) -> None:
    done = client(base_url, HR).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "2019年员工每年享有多少天带薪年假？"}]
    )
    msg = done.choices[0].message
    assert msg.content == "最接近答案的段落没有提到问题中的“2019”，无法据此回答。"
    assert extra(msg, "grounding")["reason"] == "evidence_does_not_cover_question"
    assert extra(msg, "grounding")["refused"] is True and extra(msg, "citations") == []
    related = extra(msg, "grounding")["related"]
    assert related and related[0]["doc_id"] == "corpus/hr/leave.md"  # related, not an answer


def test_follow_up_retrieves_with_the_previous_question(base_url: str) -> None:
    c = client(base_url, FIN)
    first = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "2022年公司营收是多少？"}]
    )
    assert "3.2亿元" in (first.choices[0].message.content or "")
    follow = c.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "2022年公司营收是多少？"},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "那2023年呢？"},
        ],
    )
    msg = follow.choices[0].message
    assert "4.1亿元" in (msg.content or "") and "3.2亿元" not in (msg.content or "")
    assert extra(msg, "grounding")["question"] == "2023年公司营收是多少？"
    assert {x["doc_id"] for x in extra(msg, "citations")} == {"corpus/finance/2023.md"}
    alone = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "那2023年呢？"}]
    )
    assert extra(alone.choices[0].message, "grounding")["question"] == "那2023年呢？"


def test_models_and_unknown_model(base_url: str) -> None:
    c = client(base_url, STAFF)
    assert [m.id for m in c.models.list()] == [MODEL]
    with pytest.raises(openai.NotFoundError) as err:
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "grounded-qa" in str(err.value)


def test_bad_key_is_401_and_groups_limit_the_answer(base_url: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(base_url, "sk-wrong").models.list()
    staff = client(base_url, STAFF).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "年假要提前几天申请？"}]
    )
    msg = staff.choices[0].message
    assert extra(msg, "grounding")["refused"] is True and "3天" not in (msg.content or "")


def test_empty_and_oversized_questions_are_400(base_url: str) -> None:
    c = client(base_url, HR)
    with pytest.raises(openai.BadRequestError, match="empty"):
        c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "  "}])
    with pytest.raises(openai.BadRequestError, match="2000 allowed"):
        c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "年" * 2001}])
    with pytest.raises(openai.BadRequestError, match="user message"):
        c.chat.completions.create(model=MODEL, messages=[{"role": "system", "content": "hi"}])


def test_stream_pieces_never_cut_a_marker() -> None:
    text = "员工每年享有15个工作日的带薪年假。 [1]年假须提前3天申请。 [12]"
    for size in range(1, 30):
        parts = list(pieces(text, size))
        assert "".join(parts) == text
        assert all(p.count("[") == p.count("]") for p in parts)


ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "年假要提前几天申请？"}]
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
]


def test_options_it_cannot_honour_are_400_not_ignored(base_url: str) -> None:
    c = client(base_url, HR)
    with pytest.raises(openai.BadRequestError, match="n=3 is not supported"):
        c.chat.completions.create(model=MODEL, messages=ASK, n=3)
    demands: list[ChatCompletionToolChoiceOptionParam] = [
        "required",
        {"type": "function", "function": {"name": "lookup"}},
    ]
    for choice in demands:
        with pytest.raises(openai.BadRequestError, match="never calls tools"):
            c.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS, tool_choice=choice)
    allows: list[ChatCompletionToolChoiceOptionParam] = ["auto", "none"]
    for auto in allows:  # the model may decline tools: answered as usual
        done = c.chat.completions.create(
            model=MODEL, messages=ASK, n=1, tools=TOOLS, tool_choice=auto
        )
        assert len(done.choices) == 1 and "3天" in (done.choices[0].message.content or "")


def test_usage_counts_approximate_tokens(base_url: str) -> None:
    done = client(base_url, HR).chat.completions.create(model=MODEL, messages=ASK)
    usage = done.usage
    assert usage is not None and usage.prompt_tokens == 10  # one per CJK character and symbol
    content = done.choices[0].message.content or ""
    assert usage.completion_tokens == approx_tokens(content) > 10
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert approx_tokens("The VPN client_id v2.1!") == 9  # runs of letters or digits, symbols


def test_stream_include_usage_sends_a_last_chunk_with_usage(base_url: str) -> None:
    c = client(base_url, HR)
    plain = list(c.chat.completions.create(model=MODEL, messages=ASK, stream=True))
    assert all(ch.usage is None and ch.choices for ch in plain)
    chunks = list(
        c.chat.completions.create(
            model=MODEL, messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    )
    last, before = chunks[-1], chunks[-2]
    assert last.choices == [] and last.usage is not None
    assert before.choices[0].finish_reason == "stop" and before.usage is None
    whole = c.chat.completions.create(model=MODEL, messages=ASK)
    assert whole.usage is not None and last.usage.model_dump() == whole.usage.model_dump()
