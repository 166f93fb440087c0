"""Typed request dependencies: the served model, the caller (auth, scopes, rate limit), idempotency."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, get_origin

from fastapi import Depends, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.security import APIKeyHeader

from core.settings import ServingSettings
from serving.auth import ANONYMOUS, Caller, KeyVerifier, Scope
from serving.errors import ApiError, unavailable
from serving.limits import RateLimiter
from serving.model_holder import ModelHolder, Serving
from serving.persistence import (
    ApiStore,
    IdempotencyClaim,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    request_sha256,
)
from serving.schemas import BatchRequest

API_KEY_HEADER = "X-API-Key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
# A batch waiting longer than this for a batch slot is answered 503 with Retry-After instead of holding
# one of the server's threads.
BATCH_WAIT_SECONDS = 30.0

api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="pm_<key id>_<secret>")


async def get_holder(request: Request) -> ModelHolder:
    """The app's model holder (async: reading a reference needs no thread-pool hop)."""
    holder: ModelHolder = request.app.state.holder
    return holder


async def get_api_store(request: Request) -> ApiStore:
    store: ApiStore = request.app.state.api_store
    return store


@dataclass(frozen=True)
class Authenticated:
    """The caller behind a request and the identity its rate limit is counted under."""

    caller: Caller
    identity: str


def authenticate(
    request: Request, key: Annotated[str | None, Security(api_key_header)] = None
) -> Authenticated:
    """401 unless the request carries an active key (or auth is disabled); resolved once per request."""
    config: ServingSettings = request.app.state.serving_settings
    if config.auth_disabled:
        return Authenticated(ANONYMOUS, f"ip:{request.client.host if request.client else 'unknown'}")
    if not key:
        raise ApiError(
            401,
            f"missing API key: send it in the {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    verifier: KeyVerifier = request.app.state.key_verifier
    found = verifier.verify(key)
    if found is None:
        raise ApiError(401, "invalid or revoked API key", headers={"WWW-Authenticate": API_KEY_HEADER})
    request.scope.setdefault("state", {})["key_id"] = found.key_id
    return Authenticated(found, f"key:{found.key_id}")


@contextmanager
def batch_slot(request: Request) -> Iterator[None]:
    """One of the worker's batch slots while a batch is ranked, so queued batches delay a plain request
    by at most the batches in progress (`batch_concurrency`), not all of them."""
    slots: threading.BoundedSemaphore = request.app.state.batch_slots
    if not slots.acquire(timeout=BATCH_WAIT_SECONDS):
        raise unavailable(request, "too many batches in progress; retry later", code="busy")
    try:
        yield
    finally:
        slots.release()


AuthDep = Annotated[Authenticated, Depends(authenticate)]


async def get_serving(request: Request, _: AuthDep) -> Serving:
    """The model for this whole request: read once, so a concurrent swap cannot mix two versions.

    It depends on `authenticate`, so an anonymous caller gets 401 before learning anything about the
    model; the reason a model is missing stays in the server log (it names files and checksums).
    Async because it only reads a reference: no thread-pool hop.
    """
    holder: ModelHolder = request.app.state.holder
    current = holder.current
    if current is None:
        raise unavailable(request, "no model is loaded; retry later", code="model_unavailable")
    request.state.model_version = current.version
    request.scope.setdefault("state", {})["model_version"] = current.version
    return current


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ApiStoreDep = Annotated[ApiStore, Depends(get_api_store)]
ServingDep = Annotated[Serving, Depends(get_serving)]


def _is_batch(request: Request) -> bool:
    body_field = getattr(request.scope.get("route"), "body_field", None)
    return body_field is not None and body_field.field_info.annotation is BatchRequest


async def request_cost(request: Request) -> int:
    """What a request spends of its caller's rate limit: one per opportunity it asks to rank.

    A batch of 100 costs what 100 single requests cost, so batching cannot multiply a caller's load.
    FastAPI has parsed the body already (the JSON is cached on the request); it is validated later.
    """
    if not _is_batch(request):
        return 1
    try:
        body = await request.json()
    except ValueError:
        return 1
    items = body.get("requests") if isinstance(body, dict) else None
    return max(1, len(items)) if isinstance(items, list) else 1


def require(scope: Scope) -> Callable[..., Caller]:
    """A dependency admitting callers whose key holds `scope` (401 no/invalid key, 403 scope, 429 limit).

    A plain function, not a generator: FastAPI runs each sync dependency in its thread pool, a generator
    twice (enter and exit), and every hop costs a request time (measured: +3% per request at 10k partners).
    """

    def dependency(request: Request, auth: AuthDep, cost: Annotated[int, Depends(request_cost)]) -> Caller:
        limiter: RateLimiter = request.app.state.rate_limiter
        caller = auth.caller
        if scope.value not in caller.scopes:
            raise ApiError(403, f"this key lacks the '{scope.value}' scope")
        decision = limiter.hit(auth.identity, cost)
        if not decision.allowed:
            raise ApiError(
                429, "rate limit exceeded; retry later", headers={"Retry-After": str(decision.retry_after)}
            )
        return caller

    return dependency


# scope="function": the batch slot is released when the endpoint returns, before the response is sent.
ReadCaller = Annotated[Caller, Depends(require(Scope.READ), scope="function")]
WriteCaller = Annotated[Caller, Depends(require(Scope.WRITE), scope="function")]
AdminCaller = Annotated[Caller, Depends(require(Scope.ADMIN), scope="function")]


class Replay(Exception):
    """The first response to this Idempotency-Key; rendered as-is by the app."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


@dataclass
class Idempotency:
    """The Idempotency-Key a write holds (none without the header); `remember` stores its answer."""

    api_store: ApiStore
    claim: IdempotencyClaim | None

    def remember(self, status: int, body: Any) -> None:
        if self.claim is not None:
            self.api_store.finish_key(self.claim, status, jsonable_encoder(body))


async def idempotency(request: Request, api_store: ApiStoreDep) -> AsyncIterator[Idempotency]:
    """Claims the key before the write runs, so two requests with one key never both write; a failed
    write gives the key back. The fingerprint ignores JSON whitespace and key order."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        yield Idempotency(api_store, None)
        return
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(422, f"{IDEMPOTENCY_HEADER} must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    route = f"{request.method} {request.url.path}"
    # Keys are per caller; with auth disabled everyone shares one namespace.
    key_id = request.scope.get("state", {}).get("key_id") or "anonymous"
    claim = IdempotencyClaim(key_id, key, route, request_sha256(route, await request.body()))
    try:
        found = api_store.claim_key(claim)
    except IdempotencyKeyReused:
        raise ApiError(
            422,
            f"{IDEMPOTENCY_HEADER} {key!r} was already used with a different request",
            code="idempotency_key_reused",
        ) from None
    except IdempotencyInProgress:
        raise ApiError(
            409,
            f"a request with {IDEMPOTENCY_HEADER} {key!r} is still being answered; retry shortly",
            code="idempotency_key_in_use",
            headers={"Retry-After": "1"},
        ) from None
    if found is not None:
        raise Replay(found.status_code, found.response)
    try:
        yield Idempotency(api_store, claim)
    except BaseException:
        api_store.release_key(claim)
        raise


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]


def _query_names(route: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The query parameters a route declares (its dependencies' included), and those that take several
    values; cached on the route object."""
    names: tuple[frozenset[str], frozenset[str]] | None = getattr(route, "_pm_query_names", None)
    if names is None:
        found: set[str] = set()
        lists: set[str] = set()
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            for param in dependant.query_params:
                found.add(param.alias)
                annotation = param.field_info.annotation
                if get_origin(annotation) in (list, tuple, set, frozenset):
                    lists.add(param.alias)
            pending.extend(dependant.dependencies)
        names = (frozenset(found), frozenset(lists))
        route._pm_query_names = names
    return names


def no_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not declare, or a single-valued one given twice: as bodies
    forbid unknown fields, a misspelt filter (`limt=5`) or `?q=a&q=b` is refused, never silently ignored."""
    route = request.scope.get("route")
    if route is None:
        return
    known, lists = _query_names(route)
    given = request.query_params
    unknown = sorted(set(given.keys()) - known)
    if unknown:
        raise ApiError(422, f"unknown query parameter {unknown[0]!r}", code="invalid_request")
    repeated = sorted(k for k in set(given.keys()) - lists if len(given.getlist(k)) > 1)
    if repeated:
        raise ApiError(422, f"query parameter {repeated[0]!r} given more than once", code="invalid_request")
