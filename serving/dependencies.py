"""Typed request dependencies: the served model, the caller (auth, scopes, rate limit), idempotency."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.security import APIKeyHeader

from serving.auth import ANONYMOUS, Caller, KeyVerifier, Scope
from serving.config import ServingSettings
from serving.errors import ApiError
from serving.limits import RateLimiter
from serving.model_holder import ModelHolder, Serving
from serving.persistence import ApiStore

API_KEY_HEADER = "X-API-Key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255

api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="pm_<key id>_<secret>")


def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


def get_api_store(request: Request) -> ApiStore:
    store: ApiStore = request.app.state.api_store
    return store


def get_serving(request: Request) -> Serving:
    """The model for this whole request: read once, so a concurrent swap cannot mix two versions."""
    holder = get_holder(request)
    current = holder.current
    if current is None:
        raise ApiError(
            503, f"no model loaded: {holder.load_error or 'not started'}", code="model_unavailable"
        )
    request.state.model_version = current.version
    request.scope.setdefault("state", {})["model_version"] = current.version
    return current


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ApiStoreDep = Annotated[ApiStore, Depends(get_api_store)]
ServingDep = Annotated[Serving, Depends(get_serving)]


def require(scope: Scope) -> Callable[..., Caller]:
    """A dependency admitting callers whose key holds `scope` (401 no/invalid key, 403 scope, 429 limit)."""

    def dependency(request: Request, key: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
        config: ServingSettings = request.app.state.serving_settings
        limiter: RateLimiter = request.app.state.rate_limiter
        if config.auth_disabled:
            caller = ANONYMOUS
            identity = f"ip:{request.client.host if request.client else 'unknown'}"
        else:
            if not key:
                raise ApiError(
                    401,
                    f"missing API key: send it in the {API_KEY_HEADER} header",
                    headers={"WWW-Authenticate": API_KEY_HEADER},
                )
            verifier: KeyVerifier = request.app.state.key_verifier
            found = verifier.verify(key)
            if found is None:
                raise ApiError(
                    401, "invalid or revoked API key", headers={"WWW-Authenticate": API_KEY_HEADER}
                )
            caller = found
            identity = f"key:{caller.key_id}"
        request.scope.setdefault("state", {})["key_id"] = caller.key_id
        if scope.value not in caller.scopes:
            raise ApiError(403, f"this key lacks the '{scope.value}' scope")
        decision = limiter.hit(identity)
        if not decision.allowed:
            raise ApiError(
                429, "rate limit exceeded; retry later", headers={"Retry-After": str(decision.retry_after)}
            )
        return caller

    return dependency


ReadCaller = Annotated[Caller, Depends(require(Scope.READ))]
WriteCaller = Annotated[Caller, Depends(require(Scope.WRITE))]
AdminCaller = Annotated[Caller, Depends(require(Scope.ADMIN))]


class Replay(Exception):
    """The first response to this Idempotency-Key; rendered as-is by the app."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


@dataclass
class Idempotency:
    """Remembers the first response of a write sent with an Idempotency-Key (a no-op without one)."""

    api_store: ApiStore
    key_id: str
    key: str | None
    route: str
    digest: str

    def remember(self, status: int, body: Any) -> None:
        if self.key is not None:
            self.api_store.save_idempotent(
                self.key_id, self.key, self.route, self.digest, status, jsonable_encoder(body)
            )


async def idempotency(request: Request, api_store: ApiStoreDep) -> Idempotency:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    # Keys are per caller; with auth disabled everyone shares one namespace.
    key_id = request.scope.get("state", {}).get("key_id") or "anonymous"
    route = f"{request.method} {request.url.path}"
    if key is None:
        return Idempotency(api_store, key_id, None, route, "")
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(422, f"{IDEMPOTENCY_HEADER} must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    body = await request.body()
    digest = hashlib.sha256(route.encode() + b"\n" + body).hexdigest()
    found = api_store.find_idempotent(key_id, key)
    if found is not None:
        if found.request_sha256 != digest:
            raise ApiError(
                422,
                f"{IDEMPOTENCY_HEADER} {key!r} was already used with a different request",
                code="idempotency_key_reused",
            )
        raise Replay(found.status_code, found.response)
    return Idempotency(api_store, key_id, key, route, digest)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
