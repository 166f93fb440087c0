"""ASGI middleware: request id, body limit (413), security headers, JSON 500s, metrics, one log line."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import internal_error_body
from serving.metrics import ApiMetrics

logger = logging.getLogger(__name__)
access_log = logging.getLogger("serving.access")

REQUEST_ID_HEADER = b"x-request-id"
# Sent on every response: the API is JSON for programs, never to be sniffed as HTML, framed or leak the
# page it was called from.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)
# Answers under /v1 are per caller and change with the model: no browser or proxy may keep them.
NO_STORE_PREFIX = "/v1/"


class _TooLarge(HTTPException):
    """An HTTPException so that FastAPI's body parsing re-raises it as a 413 instead of a generic 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body exceeds {limit} bytes")


def _payload_too_large(limit: int) -> bytes:
    return json.dumps(
        {"code": "payload_too_large", "message": f"request body exceeds {limit} bytes"}
    ).encode()


def _with_headers(headers: Any, request_id: str, no_store: bool) -> list[tuple[bytes, bytes]]:
    """The response's headers plus the request id, the security headers and, under /v1, no-store."""
    out = list(headers)
    present = {name.lower() for name, _ in out}
    extra = [*SECURITY_HEADERS, *([(b"cache-control", b"no-store")] if no_store else [])]
    out += [(name, value) for name, value in extra if name not in present]
    out.append((REQUEST_ID_HEADER, request_id.encode()))
    return out


class ApiMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): it wraps every HTTP request at almost no cost."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1")[:64]
        request_id = (
            incoming if incoming.isascii() and incoming.isprintable() and incoming else uuid.uuid4().hex
        )
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        limit = self.max_body_bytes

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, request_id, limit)
            self._record(scope, 413, started, request_id)
            return

        received = 0
        response_started = False
        response_complete = False
        no_store = str(scope.get("path", "")).startswith(NO_STORE_PREFIX)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal status, response_started, response_complete
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                message["headers"] = _with_headers(message.get("headers", []), request_id, no_store)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                response_complete = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            status = 413
            if not response_started:
                await self._reject(send, request_id, limit)
        except Exception:
            # Answered here rather than by Starlette's ServerErrorMiddleware, which sends the 500 and then
            # re-raises: uvicorn then closes the keep-alive connection and the client's next request on it
            # fails with a reset. A finished response (e.g. a background task failed after it) is kept.
            logger.exception(
                "unhandled error on %s %s (request %s)", scope.get("method"), scope.get("path"), request_id
            )
            if not response_started:
                status = 500
                await self._send_json(send, 500, internal_error_body(request_id), request_id, no_store)
            elif not response_complete:
                raise  # half a body was sent: only closing the connection tells the client
        finally:
            self._record(scope, status, started, request_id)

    async def _reject(self, send: Send, request_id: str, limit: int) -> None:
        await self._send_json(send, 413, _payload_too_large(limit), request_id, no_store=True)

    async def _send_json(self, send: Send, status: int, body: bytes, request_id: str, no_store: bool) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": _with_headers(headers, request_id, no_store),
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        seconds = time.perf_counter() - started
        route: Any = scope.get("route")
        # The route template, not the raw path, so partner ids do not explode the label set.
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.observe(method, template, status, seconds)
        state = scope.get("state", {})
        access_log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": method,
                    "route": template,
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                    "model_version": state.get("model_version"),
                    "key_id": state.get("key_id"),
                }
            )
        )
