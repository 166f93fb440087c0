"""Who is using the page: the session's key checked against the store, its scopes and its rate limit."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from core.settings import ServingSettings
from serving.auth import ANONYMOUS, Caller, KeyVerifier, Scope
from serving.errors import ApiError, unavailable
from serving.limits import RateLimiter
from serving.model_holder import ModelHolder, Serving
from serving.persistence import ApiStore
from serving.web.session import PageSession, SessionCodec, fresh

SIGN_IN = "/sign-in"


class SignInNeeded(Exception):
    """Nobody is signed in (or the session expired, or its key was revoked): the page asks to sign in."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRejected(Exception):
    """A changing form came without this session's token (a stale page or a cross-site post)."""


@dataclass(frozen=True)
class Visitor:
    """The request's session and, once signed in (or with auth disabled), its caller."""

    session: PageSession
    caller: Caller | None

    @property
    def identity(self) -> str:
        """The rate limit's identity: the API's own for the same key, so page and API share one budget."""
        if self.caller is None or self.caller.key_id is None:
            return "page:anonymous"
        return f"key:{self.caller.key_id}"


def codec(request: Request) -> SessionCodec:
    """The app's session codec, made on first use (it may create the home's secret file)."""
    found: SessionCodec | None = getattr(request.app.state, "page_sessions", None)
    if found is None:
        found = SessionCodec.for_app(request.app.state.settings, request.app.state.serving_settings)
        request.app.state.page_sessions = found
    return found


def auth_disabled(request: Request) -> bool:
    config: ServingSettings = request.app.state.serving_settings
    return config.auth_disabled


def visitor(request: Request) -> Visitor:
    """Read once per request; the key is looked up on every request so that a revoked key signs out."""
    cached: Visitor | None = getattr(request.state, "visitor", None)
    if cached is not None:
        return cached
    session = codec(request).read(request)
    caller: Caller | None = None
    if auth_disabled(request):
        caller = ANONYMOUS
    elif session.key_id is not None:
        api_store: ApiStore = request.app.state.api_store
        record = api_store.find_key(session.key_id)
        if record is not None and record.active:
            caller = Caller(key_id=record.key_id, name=record.name, scopes=frozenset(record.scopes))
            request.scope.setdefault("state", {})["key_id"] = record.key_id
        else:
            session = fresh()
    found = Visitor(session, caller)
    request.state.visitor = found
    return found


def signed_in(request: Request) -> Visitor:
    """The visitor, or SignInNeeded saying why not."""
    found = visitor(request)
    if found.caller is None:
        expired = found.session.expired
        raise SignInNeeded("expired" if expired else "required")
    return found


def check_csrf(request: Request, presented: str | None) -> Visitor:
    """A changing request: signed in (unless auth is off) and carrying this session's CSRF token."""
    found = visitor(request)
    if found.session.expired or (found.caller is None and not auth_disabled(request)):
        raise SignInNeeded("expired" if found.session.expired else "required")
    if not found.session.csrf_matches(presented):
        raise CsrfRejected()
    return found


def authorise(request: Request, scope: Scope, cost: int = 1) -> Caller:
    """The API's rules for the signed-in key: 403 without the scope, 429 over its rate limit."""
    found = signed_in(request)
    assert found.caller is not None  # signed_in guarantees it
    if scope.value not in found.caller.scopes:
        raise ApiError(403, f"your key lacks the '{scope.value}' scope needed here")
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = limiter.hit(found.identity, cost)
    if not decision.allowed:
        raise ApiError(
            429,
            f"too many requests for this key; retry in {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )
    return found.caller


def verify_key(request: Request, presented: str) -> Caller | None:
    """The sign-in check: the API's own KeyVerifier, so a key signs in exactly when the API accepts it."""
    verifier: KeyVerifier = request.app.state.key_verifier
    return verifier.verify(presented)


def serving_now(request: Request) -> Serving:
    """The model for this request, as the API's `get_serving` reads it (503 when none is loaded)."""
    holder: ModelHolder = request.app.state.holder
    current = holder.current
    if current is None:
        raise unavailable(request, "no model is loaded yet; retry in a few seconds", code="model_unavailable")
    request.scope.setdefault("state", {})["model_version"] = current.version
    request.state.model_version = current.version
    return current
