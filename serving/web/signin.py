"""Signing in with an API key (checked as the API checks it) and signing out."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from serving.web.access import SIGN_IN, auth_disabled, check_csrf, codec, verify_key, visitor
from serving.web.forms import read_form
from serving.web.render import SIGN_IN_REASONS, PageRoute, no_store, page
from serving.web.session import CSRF_FIELD, fresh

logger = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute, include_in_schema=False)

MAX_KEY = 512


@router.get(SIGN_IN)
def sign_in_form(request: Request, reason: str | None = None) -> Response:
    """The sign-in form; with auth disabled there is nothing to sign in to."""
    if auth_disabled(request):
        return no_store(RedirectResponse("/", status_code=303))
    found = visitor(request)
    if found.caller is not None and reason is None:
        return no_store(RedirectResponse("/", status_code=303))
    return page(request, "sign_in.html", {"notice": SIGN_IN_REASONS.get(reason or ""), "field_error": None})


@router.post(SIGN_IN)
async def sign_in(request: Request) -> Response:
    """A valid key starts a new session (new CSRF token too); the key itself is never stored or echoed."""
    posted = await read_form(request)
    found = visitor(request)
    if not found.session.csrf_matches(posted.get(CSRF_FIELD)):
        # The form was older than its session (or posted from elsewhere): show a fresh one.
        return page(
            request,
            "sign_in.html",
            {"notice": "The sign-in form had expired; enter your key again.", "field_error": None},
            400,
        )
    key = posted.get("api_key").strip()
    caller = verify_key(request, key) if 0 < len(key) <= MAX_KEY else None
    if caller is None:
        message = "Enter your API key." if not key else "This key is not valid or has been revoked."
        return page(request, "sign_in.html", {"notice": None, "field_error": message}, 401)
    logger.info("page sign-in for key %s", caller.key_id)
    response = RedirectResponse("/", status_code=303)
    codec(request).write(response, fresh(caller.key_id), request)
    return no_store(response)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    posted = await read_form(request)
    check_csrf(request, posted.get(CSRF_FIELD))
    response = RedirectResponse(f"{SIGN_IN}?reason=signed-out", status_code=303)
    codec(request).clear(response)
    return no_store(response)
