"""Service fixtures: a small corpus with access groups, API keys, and a real uvicorn server on
loopback in a background thread (for the openai client and the browser)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import QdrantStore
from ingest.pipeline import Ingestor
from service.auth import hash_key
from service.config import ServiceSettings
from tests.conftest import write

CORPUS = {
    "acl.yaml": '"hr/**": [hr]\n"finance/**": [finance]\n',
    "hr/leave.md": "# 年假政策\n员工每年享有15个工作日的带薪年假。年假须提前3天在系统中申请。\n病假需要提交医院证明。",
    "hr/salary.md": "# 薪酬保密规定\n2024年全员调薪幅度为8%，调薪于每年4月1日生效。",
    "finance/2022.md": "# 2022年度经营报告\n2022年公司营收为3.2亿元，同比增长12%。",
    "finance/2023.md": "# 2023年度经营报告\n2023年公司营收为4.1亿元，同比增长28%。",
    "it/vpn.txt": "VPN guide\nConnect with the Acme VPN client. The server is vpn.acme.example. "
    "The VPN disconnects after 30 minutes without activity.",
}
KEYS = {  # key -> (id, groups, admin)
    "sk-hr-0001": ("hr-bot", ["hr", "everyone"], False),
    "sk-fin-0002": ("finance-bot", ["finance", "everyone"], False),
    "sk-all-0003": ("staff", ["everyone"], False),
    "sk-adm-0004": ("admin", ["hr", "finance", "everyone"], True),
}
HR, FIN, STAFF, ADMIN = KEYS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Debian's chromium with playwright (skipped without them)"
    )


def keys_json() -> str:
    """KEYS in the GQA_API_KEYS format (hashes only)."""
    return json.dumps(
        [
            {"id": kid, "sha256": hash_key(k), "groups": groups, "admin": adm}
            for k, (kid, groups, adm) in KEYS.items()
        ]
    )


def service_settings(**kw: object) -> ServiceSettings:
    kw.setdefault("api_keys", keys_json())
    return ServiceSettings(_env_file=None, **kw)  # type: ignore[arg-type]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def corpus_store(tmp_path: Path, settings: Settings, store: QdrantStore) -> QdrantStore:
    """The store with CORPUS ingested (folder 'corpus': ids like corpus/hr/leave.md)."""
    Ingestor(settings, store, HashingEmbedder()).sync([write(tmp_path / "corpus", CORPUS)])
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
