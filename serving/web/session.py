"""The page's session: a signed, expiring, HttpOnly cookie holding a key id and a CSRF token, never a key."""

from __future__ import annotations

import hmac
import math
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from core.settings import ServingSettings, Settings

COOKIE = "pm_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SECRET_FILE = "session.key"
# The cookie outlives the session by this much so that the page can say "your session expired" instead
# of only asking to sign in; the signed timestamp, not the cookie's age, decides whether it is valid.
EXPIRED_NOTICE_SECONDS = 3600
_SALT = "partnermatch.page-session"
_secret_lock = threading.Lock()


@dataclass(frozen=True)
class PageSession:
    """Whose session it is (`key_id` None: nobody signed in) and the token every changing form carries."""

    key_id: str | None
    csrf: str
    expired: bool = False  # the cookie was valid once but its time is up
    new: bool = False  # made for this request: the response must set it

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, str(presented))


def fresh(key_id: str | None = None, expired: bool = False) -> PageSession:
    return PageSession(key_id=key_id, csrf=secrets.token_urlsafe(32), expired=expired, new=True)


def _home_secret(home: Path) -> str:
    """The home's secret, made once with O_EXCL so that workers starting together agree on one."""
    path = home / SECRET_FILE
    with _secret_lock:
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


class SessionCodec:
    """Signs and reads session cookies with the configured secret and lifetime."""

    def __init__(self, secret: str, minutes: float) -> None:
        self.max_age = max(1, math.ceil(minutes * 60))
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)

    @classmethod
    def for_app(cls, settings: Settings, config: ServingSettings) -> SessionCodec:
        secret = config.session_secret.get_secret_value() if config.session_secret else None
        return cls(secret or _home_secret(settings.home), config.session_minutes)

    def read(self, request: Request) -> PageSession:
        """The request's session; a missing, forged or expired cookie gives a new anonymous one."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return fresh()
        try:
            data = self._serializer.loads(raw, max_age=self.max_age)
        except SignatureExpired:
            return fresh(expired=True)
        except BadSignature:
            return fresh()
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return fresh()
        key_id = data.get("key_id")
        return PageSession(key_id=key_id if isinstance(key_id, str) else None, csrf=data["csrf"])

    def write(self, response: Response, session: PageSession, request: Request) -> None:
        value = self._serializer.dumps({"key_id": session.key_id, "csrf": session.csrf})
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.max_age + EXPIRED_NOTICE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
