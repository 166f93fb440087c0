"""The API's error shape `{code, message}`: one exception type and the handlers that render every error."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.limits import LimiterUnavailable

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


# What each status means on a route that declares it (the ones every /v1 route can answer are in app.py).
ROUTE_ERRORS: dict[int, str] = {
    404: "a partner (or other resource) the request names is not known",
    409: "the request contradicts itself or the partner records, in a way JSON Schema cannot state "
    "(e.g. a partner listed twice)",
}


def route_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route's own error statuses, in the API's `{code, message}` shape."""
    from serving.schemas import ErrorBody

    return {status: {"model": ErrorBody, "description": ROUTE_ERRORS[status]} for status in statuses}


class ApiError(Exception):
    """An expected failure with a stable `code`; rendered as JSON with `status`."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.headers = headers


DEFAULT_RETRY_AFTER = 5
# A database that refuses, times out or drops the connection; SQLite's "database is locked" too.
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def retry_after(request: Request) -> str:
    config = getattr(request.app.state, "serving_settings", None)
    return str(getattr(config, "retry_after_seconds", DEFAULT_RETRY_AFTER))


def unavailable(request: Request, message: str, code: str = "unavailable") -> ApiError:
    """A 503 that tells the client when to retry (the dependency or model may be back by then)."""
    return ApiError(503, message, code=code, headers={"Retry-After": retry_after(request)})


def error_response(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"code": code or STATUS_CODES.get(status, "error"), "message": message, **extra}
    return JSONResponse(status_code=status, content=jsonable_encoder(body), headers=headers)


def _render(exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.message, exc.code, exc.headers)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _render(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        # `detail` keeps FastAPI's list of errors so clients can point at each field.
        details = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]
        return error_response(422, message, detail=details)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        # One line for operators (driver message, no trace); the client learns only that it may retry.
        where = f"{request.method} {request.url.path}"
        logger.warning("database unavailable on %s: %s", where, first_line(exc))
        return _render(
            unavailable(request, "the database is unavailable; retry later", "database_unavailable")
        )

    for outage in DATABASE_DOWN:
        app.add_exception_handler(outage, database_error)

    @app.exception_handler(sa_exc.DataError)
    async def unstorable_value(request: Request, exc: sa_exc.DataError) -> JSONResponse:
        # A value the database refuses (PostgreSQL keeps no NUL character in text): the request's fault,
        # and nothing was written (the write's transaction rolled back). The driver's reason names no path.
        reason = str(getattr(exc, "orig", None) or "the value cannot be stored").splitlines()[0]
        return error_response(422, f"a value of the request cannot be stored: {reason}", "unstorable_value")

    @app.exception_handler(redis.RedisError)
    async def redis_error(request: Request, exc: redis.RedisError) -> JSONResponse:
        logger.warning("Redis unavailable on %s %s: %s", request.method, request.url.path, first_line(exc))
        return _render(unavailable(request, "a required service is unavailable; retry later"))

    @app.exception_handler(LimiterUnavailable)
    async def limiter_down(request: Request, _: LimiterUnavailable) -> JSONResponse:
        return _render(unavailable(request, "the rate limiter is unavailable; retry later"))


def internal_error_body(request_id: str) -> bytes:
    """The body of a 500: the stable code and the request id, never the exception's text."""
    body = {"code": "internal_error", "message": f"internal error (request {request_id})"}
    return json.dumps(body).encode()
