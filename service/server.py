"""The HTTP server around the app: uvicorn, with the client address and slow-client limits that
`python -m service` runs with.

- `X-Forwarded-For` is read only from the addresses in GQA_TRUSTED_PROXIES (none by default):
  uvicorn's own default trusts it from 127.0.0.1, so a local client could name a new address on
  every request and never meet the failed-key limit.
- A connection must send its request headers within GQA_HEADER_TIMEOUT_S, and a request body may
  not pause longer than GQA_BODY_TIMEOUT_S between reads; past GQA_MAX_CONNECTIONS open
  connections a new one is closed at once. uvicorn has none of the first two (only a keep-alive
  timeout for idle connections between requests), so `GuardedH11Protocol` adds them by hand.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.config import ServiceSettings

log = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a header deadline, a body idle timeout and a connection cap
    (the class attributes; `server_config` sets them from the settings)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning(
                "connection cap (%d) reached: closing a new connection", self.max_connections
            )
            transport.close()
            return
        self._arm(self.header_timeout_s, "request headers")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.SEND_BODY:  # each read restarts the body's idle timer
            self._arm(self.body_timeout_s, "request body")
        elif self.conn.their_state is not h11.IDLE:  # headers done: the app has the request
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():  # the next request's headers have their deadline
            self._arm(self.header_timeout_s, "request headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._timed_out, what, seconds)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self, what: str, seconds: float) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.DONE:  # the request arrived meanwhile
            return
        log.info(
            "closing a connection from %s: %s not read within %s s", self.client, what, seconds
        )
        self.transport.close()


def server_config(app: Any, host: str, port: int, svc: ServiceSettings) -> uvicorn.Config:
    """The uvicorn configuration of `python -m service` (and of the tests that drive it)."""
    protocol = type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout_s": svc.header_timeout_s,
            "body_timeout_s": svc.body_timeout_s,
            "max_connections": svc.max_connections,
        },
    )
    proxies = [p.strip() for p in svc.trusted_proxies.split(",") if p.strip()]
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or [],
        log_level="info",
    )
