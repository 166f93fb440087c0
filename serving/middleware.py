"""ASGI middleware: request id, body size limit (413), per-route metrics and one JSON log line per request."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import ApiMetrics

logger = logging.getLogger(__name__)
access_log = logging.getLogger("serving.access")

REQUEST_ID_HEADER = b"x-request-id"


class _TooLarge(HTTPException):
    """An HTTPException so that FastAPI's body parsing re-raises it as a 413 instead of a generic 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body exceeds {limit} bytes")


def _payload_too_large(limit: int) -> bytes:
    return json.dumps(
        {"code": "payload_too_large", "message": f"request body exceeds {limit} bytes"}
    ).encode()


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

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            status = 413
            if not response_started:
                await self._reject(send, request_id, limit)
        finally:
            self._record(scope, status, started, request_id)

    async def _reject(self, send: Send, request_id: str, limit: int) -> None:
        body = _payload_too_large(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ],
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
