"""Rendering pages: the templates, the page's headers and cookie, and errors shown as pages, never traces."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from serving.answers import request_id_of
from serving.errors import ApiError
from serving.web import charts
from serving.web.access import SIGN_IN, CsrfRejected, SignInNeeded, auth_disabled, codec, visitor
from serving.web.forms import FormTooLarge
from serving.web.session import CSRF_FIELD, CSRF_HEADER

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
# The page loads only its own files; inline SVG needs no exception. Forms post only to this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Routes the page's script fetches: their errors are JSON for the script to show, not pages.
SCRIPT_PREFIX = "/page/"

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
_env.globals.update(percent=charts.percent, CSRF_FIELD=CSRF_FIELD, CSRF_HEADER=CSRF_HEADER)
templates = Jinja2Templates(env=_env)

SIGN_IN_REASONS = {
    "expired": "Your session expired. Sign in again to continue.",
    "required": "Sign in with your API key to use the page.",
    "signed-out": "You are signed out.",
}


def money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


_env.filters["money"] = money


def no_store(response: Response) -> Response:
    """Pages are per rep and change with the model: never cached; the CSP limits them to this origin."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    return response


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """Render a template with who is signed in and the session's CSRF token; a new session is set."""
    found = visitor(request)
    base = {
        "csrf": found.session.csrf,
        "caller": found.caller,
        "auth_disabled": auth_disabled(request),
        "path": request.url.path,
        "notice": None,
        "error": None,
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    if found.session.new:
        codec(request).write(response, found.session, request)
    return no_store(response)


def wants_json(request: Request) -> bool:
    """The page's script asks: it reads errors as JSON `{code, message}`."""
    return request.url.path.startswith(SCRIPT_PREFIX) or request.headers.get("X-Requested-With") == "fetch"


def error_page(
    request: Request, status: int, title: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    if wants_json(request):
        return no_store(
            JSONResponse({"code": title, "message": message}, status_code=status, headers=headers)
        )
    response = page(request, "error.html", {"title": title, "message": message}, status)
    response.headers.update(headers or {})
    return response


def sign_in_redirect(request: Request, reason: str) -> Response:
    if wants_json(request):
        message = SIGN_IN_REASONS[reason]
        return no_store(JSONResponse({"code": f"session_{reason}", "message": message}, status_code=401))
    response = RedirectResponse(f"{SIGN_IN}?reason={reason}", status_code=303)
    if reason == "expired":
        codec(request).clear(response)
    return no_store(response)


def api_error_title(exc: ApiError) -> str:
    return {
        401: "Not signed in",
        403: "Not allowed",
        404: "Not found",
        409: "Conflicting request",
        422: "Invalid request",
        429: "Too many requests",
        503: "Temporarily unavailable",
    }.get(exc.status, "Error")


class PageRoute(APIRoute):
    """A page route: whatever goes wrong becomes a readable page (or JSON for the script), never a trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded as exc:
                return sign_in_redirect(request, exc.reason)
            except CsrfRejected:
                message = "This form is out of date or came from another site. Reload the page and try again."
                return error_page(request, 403, "Form expired", message)
            except FormTooLarge as exc:
                return error_page(request, 413, "Form too large", str(exc))
            except ApiError as exc:
                return error_page(request, exc.status, api_error_title(exc), exc.message, exc.headers)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "the address"
                message = f"{where}: {first.get('msg', 'invalid value')}"
                return error_page(request, 422, "Invalid request", message)
            except Exception:
                request_id = request_id_of(request)
                logger.exception(
                    "page error on %s %s (request %s)", request.method, request.url.path, request_id
                )
                message = f"Something went wrong on the server (request {request_id}). Try again later."
                return error_page(request, 500, "Server error", message)

        return guarded
