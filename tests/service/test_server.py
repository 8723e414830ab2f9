"""The server `python -m service` runs (`service.server.server_config`), driven over real sockets
on 127.0.0.1: forwarded addresses only from configured proxies, slow clients cut off, a
connection cap. Every wait is bounded (socket timeouts), and no assertion is about speed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from service.app import create_app
from service.server import server_config
from tests.service.conftest import auth, free_port, service_settings


@contextmanager
def running(settings: Settings, store: QdrantStore, **svc_kw: object) -> Iterator[int]:
    """The app under `server_config` on a free loopback port; yields the port."""
    svc = service_settings(**svc_kw)
    app = create_app(settings, store=store, embedder=HashingEmbedder(), service_settings=svc)
    port = free_port()
    config = server_config(app, "127.0.0.1", port, svc)
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def wrong_keys_with_rotating_xff(port: int, n: int = 40) -> list[int]:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        return [
            client.get(
                "/v1/documents/corpus/it/vpn.txt",
                headers={**auth(f"sk-wrong-{i}"), "X-Forwarded-For": f"203.0.113.{i + 1}"},
            ).status_code
            for i in range(n)
        ]


def test_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_failed_key_limit(
    settings: Settings, corpus_store: QdrantStore
) -> None:
    with running(settings, corpus_store) as port:  # default: no trusted proxies
        codes = wrong_keys_with_rotating_xff(port)
    assert codes[:20] == [401] * 20
    assert codes[20:] == [429] * 20  # one client, whatever address it claims


def test_forwarded_for_from_a_configured_proxy_names_the_client(
    settings: Settings, corpus_store: QdrantStore
) -> None:
    with running(settings, corpus_store, trusted_proxies="127.0.0.1") as port:
        codes = wrong_keys_with_rotating_xff(port)
    assert codes == [401] * 40  # 40 clients behind the proxy, one failure each


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """Whether the server closes `sock` (EOF or reset) before `within_s` seconds pass."""
    sock.settimeout(within_s)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_connections_that_never_finish_their_headers_are_closed(
    settings: Settings, corpus_store: QdrantStore
) -> None:
    with running(settings, corpus_store, header_timeout_s=0.5) as port:
        slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
        for s in slow:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: never finished
        try:
            assert all(closed_by_server(s, within_s=10) for s in slow)
        finally:
            for s in slow:
                s.close()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200


def test_a_stalled_request_body_is_closed(settings: Settings, corpus_store: QdrantStore) -> None:
    with running(settings, corpus_store, body_timeout_s=0.5) as port:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            s.sendall(
                b"POST /v1/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n" + b'{"question": '
            )
            assert closed_by_server(s, within_s=10)
        finally:
            s.close()


def test_connections_past_the_cap_are_closed_at_once(
    settings: Settings, corpus_store: QdrantStore
) -> None:
    with running(settings, corpus_store, max_connections=5, header_timeout_s=60) as port:
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
        time.sleep(0.2)  # let the server accept the five (not a timing assertion)
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            assert closed_by_server(extra, within_s=10)
            assert not any(closed_by_server(s, within_s=0.2) for s in held)
        finally:
            extra.close()
            for s in held:
                s.close()
        time.sleep(0.2)  # the server notices the closed five
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("header_timeout_s", [0.0, -1.0])
def test_timeouts_must_be_positive(header_timeout_s: float) -> None:
    with pytest.raises(ValueError):
        service_settings(header_timeout_s=header_timeout_s)
