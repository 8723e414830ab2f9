"""API keys: who is asking, and which document groups they may read.

Keys are configured as SHA-256 hashes (a keys file or GQA_API_KEYS), never in clear; a presented
Bearer key is hashed and compared with every configured hash in constant time. With no keys
configured the service runs open (one anonymous principal that reads every group) and may only
bind to loopback (`python -m service` enforces it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.errors import ConfigError
from service.config import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """The caller. `groups` None means every group (open mode only)."""

    key_id: str
    groups: tuple[str, ...] | None
    admin: bool = False

    def may_read(self, acl: Sequence[str]) -> bool:
        """Whether a document with these groups is visible to this principal."""
        return self.groups is None or bool(set(acl) & set(self.groups))


ANONYMOUS = Principal("anonymous", None, admin=False)
_bearer = HTTPBearer(auto_error=False, description="An API key from the keys file")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    sha256: str
    groups: tuple[str, ...]
    admin: bool = False


class AuthError(Exception):
    """A request without a valid key (401) or without the admin flag (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, as written in the keys file."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """The configured keys; `authenticate` maps a Bearer header to a principal."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self.keys = tuple(keys)

    @property
    def open(self) -> bool:
        """No keys configured: anonymous access, loopback only."""
        return not self.keys

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> KeyRing:
        """Keys from GQA_API_KEYS_FILE and GQA_API_KEYS (both may be set). Raises ConfigError."""
        entries: list[Any] = []
        if settings.api_keys_file:
            path = settings.api_keys_file
            try:
                entries += _entries(yaml.safe_load(path.read_text(encoding="utf-8")))
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(
                    f"cannot read API keys file {path}: {exc} - fix GQA_API_KEYS_FILE"
                ) from exc
        if settings.api_keys:
            try:
                entries += _entries(json.loads(settings.api_keys))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"GQA_API_KEYS is not JSON: {exc}") from exc
        return cls([_parse(e) for e in entries])

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization: Bearer KEY` header. Raises AuthError (401)."""
        if self.open:
            return ANONYMOUS
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "missing API key - send 'Authorization: Bearer <key>'")
        digest = hash_key(token.strip())
        found: ApiKey | None = None
        for key in self.keys:  # every hash is compared, so timing says nothing about which
            if hmac.compare_digest(digest, key.sha256):
                found = key
        if found is None:
            raise AuthError(401, "invalid API key")
        return Principal(found.key_id, found.groups, found.admin)


def _entries(data: Any) -> list[Any]:
    if isinstance(data, dict) and "keys" in data:
        data = data["keys"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError("API keys must be a list (or {keys: [...]}) of {id, sha256, groups}")
    return data


def _parse(entry: Any) -> ApiKey:
    if not isinstance(entry, dict):
        raise ConfigError(f"API key entry {entry!r} is not a mapping of id, sha256, groups, admin")
    key_id, digest = str(entry.get("id", "")), str(entry.get("sha256", "")).lower()
    groups = entry.get("groups", [])
    if not key_id or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ConfigError(
            f"API key {key_id or entry!r}: needs 'id' and 'sha256' (64 hex digits; "
            "printf %s KEY | sha256sum)"
        )
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ConfigError(f"API key {key_id!r}: 'groups' must be a list of group names")
    return ApiKey(key_id, digest, tuple(groups), bool(entry.get("admin", False)))


def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """FastAPI dependency: the caller (401 without a valid key), counted by the rate limit.

    Failed authentications are limited per client address (`app.state.auth_failures`): once
    its budget is spent, every request from that address answers 429 before its key is even
    compared, so guessing keys is slowed down, a right guess included.
    """
    keys: KeyRing = request.app.state.keys
    header = f"{creds.scheme} {creds.credentials}" if creds else None
    client = f"ip:{request.client.host if request.client else 'unknown'}"
    if keys.open:
        request.app.state.limiter.hit(client)
        return ANONYMOUS
    failures = request.app.state.auth_failures
    failures.check(client)
    try:
        who = keys.authenticate(header)
    except AuthError:
        failures.hit(client)  # the 401 stands; the next failure past the budget is a 429
        raise
    request.app.state.limiter.hit(who.key_id)
    return who


def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    """FastAPI dependency: an admin caller (403 otherwise; admin needs configured keys)."""
    if not who.admin:
        hint = " - configure API keys (GQA_API_KEYS_FILE) to use the admin API"
        raise AuthError(403, "admin key required" + (hint if who is ANONYMOUS else ""))
    return who


Caller = Annotated[Principal, Depends(principal)]  # a route's authenticated caller
Admin = Annotated[Principal, Depends(admin)]  # a route's admin caller
