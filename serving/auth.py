"""API keys: generation, hashing and constant-time verification, scopes, and a short-lived verified cache."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from serving.persistence import ApiKeyRecord, ApiStore

KEY_PREFIX = "pm"
KEY_ID_BYTES = 6  # 12 hex characters: the public, non-secret part used to find the row
SECRET_BYTES = 32


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


ALL_SCOPES = tuple(scope.value for scope in Scope)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id and name (None when auth is disabled) and its scopes."""

    key_id: str | None
    name: str
    scopes: frozenset[str]


ANONYMOUS = Caller(key_id=None, name="anonymous (auth disabled)", scopes=frozenset(ALL_SCOPES))


def hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    """`pm_<key_id>_<secret>` → (key_id, secret), or None when the shape is wrong."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def parse_scopes(text: str) -> tuple[str, ...]:
    """`read,write` → ('read', 'write'); raises ValueError naming an unknown scope."""
    scopes = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be a comma-separated subset of {', '.join(ALL_SCOPES)}; got {text!r}")
    return scopes


def create_key(api_store: ApiStore, name: str, scopes: Sequence[str]) -> tuple[ApiKeyRecord, str]:
    """Store a new key; returns (its record, the plain key), which is never stored or shown again."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES).replace("_", "-")
    record = api_store.add_key(key_id, name, hash_secret(secret), scopes)
    return record, f"{KEY_PREFIX}_{key_id}_{secret}"


class KeyVerifier:
    """Checks presented keys against the store; a verified key is cached for `ttl` seconds."""

    def __init__(self, api_store: ApiStore, ttl: float) -> None:
        self.api_store = api_store
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def verify(self, presented: str) -> Caller | None:
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        digest = hash_secret(secret)
        cache_key = f"{key_id}:{digest}"
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        record = self.api_store.find_key(key_id)
        if record is None or not record.active or not hmac.compare_digest(digest, record.secret_sha256):
            return None
        caller = Caller(key_id=record.key_id, name=record.name, scopes=frozenset(record.scopes))
        with self._lock:
            self._cache[cache_key] = (now, caller)
        return caller
