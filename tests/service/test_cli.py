"""`python -m service`: without API keys it refuses to listen beyond loopback."""

from pathlib import Path

import pytest

from service.__main__ import is_loopback, main


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_refuses_to_bind_everywhere_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("GQA_API_KEYS", raising=False)
    monkeypatch.delenv("GQA_API_KEYS_FILE", raising=False)
    assert main(["--host", "0.0.0.0", "--port", "8999"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without API keys" in err and "GQA_API_KEYS_FILE" in err


def test_unreadable_keys_file_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GQA_API_KEYS_FILE", str(tmp_path / "missing.yaml"))
    assert main(["--host", "0.0.0.0"]) == 2
    assert "cannot read API keys file" in capsys.readouterr().err
