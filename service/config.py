"""The service's own settings (env prefix GQA_, like `core.settings.Settings`): keys, limits, jobs.

Kept apart from `core.settings` because only the HTTP edge reads them; ingest and eval never do.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import absolute


class ServiceSettings(BaseSettings):
    """Access control, request limits and admin jobs of `python -m service`."""

    model_config = SettingsConfigDict(
        env_prefix="GQA_", env_file=".env", extra="ignore", validate_default=True
    )

    api_keys_file: Path | None = Field(
        None, description="YAML/JSON file of API keys (id, sha256, groups, admin)"
    )
    api_keys: str | None = Field(
        None, description="The same list of keys as JSON, for deployments without a file"
    )
    model_name: str = Field("grounded-qa", description="Model id served by /v1/chat/completions")
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted")
    max_request_bytes: int = Field(256 * 1024, ge=1024, description="Largest JSON request body")
    max_upload_mb: float = Field(50.0, gt=0, description="Largest admin upload request")
    rate_limit_per_minute: int = Field(
        120, ge=0, description="Requests per key (or client address) per minute; 0 = no limit"
    )
    auth_failures_per_minute: int = Field(
        20, ge=0, description="Failed API keys per client address per minute; 0 = no limit"
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client; empty = the header is ignored",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="A connection must send its request headers within this"
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="A request body may pause this long between reads"
    )
    max_connections: int = Field(
        256, ge=1, description="Open connections; a new one past this is closed at once"
    )
    retry_after_s: int = Field(10, ge=1, description="Retry-After of 503 answers")
    ingest_sources: list[Path] = Field(
        default_factory=list, description="Folders an admin job syncs when given no files"
    )
    upload_dir: Path | None = Field(
        None, description="Where uploaded files are kept (default DATA_DIR/uploads)"
    )
    job_timeout_s: float = Field(3600.0, gt=0, description="An ingest job stops after this")

    @field_validator("api_keys_file", "upload_dir")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        return absolute(path) if path is not None else None

    @field_validator("ingest_sources")
    @classmethod
    def _absolute_all(cls, paths: list[Path]) -> list[Path]:
        return [absolute(p) for p in paths]
